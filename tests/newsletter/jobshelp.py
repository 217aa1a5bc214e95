"""Helpers for the send job tests: lists and confirmed members made in the server database directly (as the
server's own store would), tokens over the webapi, and calls of /api/send-jobs."""

from __future__ import annotations

import asyncio
import time

import httpx

from moxpy.store.newsletter import CONFIRMED, MailingList, Member
from moxpy.store import backend

from ..localserve import ADDRESS


def make_list(server, emails: list[str], account: str = "mox", from_address: str = ADDRESS,
              name: str = "News", preferences=None) -> int:
    """A list of the account with these confirmed members; its id."""
    db = backend.server_database(server.config)
    try:
        async def make() -> int:
            now = time.time()
            list_id = await db.newsletter.create_list(MailingList(id=0, account=account, name=name,
                                                                  from_address=from_address, created=now))
            await asyncio.gather(*(db.newsletter.save_member(account, Member(
                list_id=list_id, email=email, status=CONFIRMED, created=now, updated=now,
                preferences=(preferences or {}).get(email, {}))) for email in emails))
            return list_id

        return asyncio.run(make())
    finally:
        db.close()


def set_status(server, account: str, list_id: int, email: str, status: str) -> None:
    db = backend.server_database(server.config)
    try:
        member = db.newsletter.member(account, list_id, email)
        member.status, member.updated = status, time.time()
        asyncio.run(db.newsletter.save_member(account, member))
    finally:
        db.close()


def member_status(server, account: str, list_id: int, email: str) -> str:
    db = backend.server_database(server.config)
    try:
        return db.newsletter.member(account, list_id, email).status
    finally:
        db.close()


def token(server, scopes: list[str], **login) -> str:
    response = server.call("TokenCreate", {"Scopes": scopes}, **login)
    assert response.status_code == 200, response.text
    return response.json()["Token"]


def api(server) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{server.ports['WebAPIHTTP']}", timeout=30)


def create_job(server, tok: str, body: dict) -> httpx.Response:
    with api(server) as c:
        return c.post("/api/send-jobs", json=body, headers={"Authorization": f"Bearer {tok}"})


def get_job(server, tok: str, job_id) -> httpx.Response:
    with api(server) as c:
        return c.get(f"/api/send-jobs/{job_id}", headers={"Authorization": f"Bearer {tok}"})


def cancel_job(server, tok: str, job_id) -> httpx.Response:
    with api(server) as c:
        return c.post(f"/api/send-jobs/{job_id}/cancel", headers={"Authorization": f"Bearer {tok}"})


def wait_job(server, tok: str, job_id, predicate, timeout: float = 60.0) -> dict:
    def check():
        body = get_job(server, tok, job_id).json()
        return body if predicate(body) else None

    return server.wait_for(check, timeout=timeout, interval=0.25)
