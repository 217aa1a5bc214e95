"""Calling the mailing list methods and member endpoints of a localserve, and reading the confirmation
messages it delivers (in localserve, outgoing mail lands in the first account's Inbox)."""

from __future__ import annotations

import email
import email.policy
import json
import re
import time

import httpx

from ..imapclient import login
from ..localserve import ADMIN

OTHER = "bob@localhost"  # a second account, another tenant
OTHER_PASSWORD = "bob's long password"


def root(server) -> str:
    return f"http://127.0.0.1:{server.ports['WebAPIHTTP']}"


def call(server, method: str, request: dict, token: str = "", **auth) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if token:
        return httpx.post(server.base_url + method, data={"request": json.dumps(request)}, headers=headers,
                          timeout=30)
    return server.call(method, request, **auth)


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def token(server, scopes: list[str], **auth) -> str:
    return ok(server.call("TokenCreate", {"Scopes": scopes, "Name": "test"}, **auth))["Token"]


def other_account(server) -> None:
    """Make the second account once per server."""
    response = server.call("AccountCreate", {"Name": OTHER, "Password": OTHER_PASSWORD}, **ADMIN)
    assert response.status_code == 200 or response.json()["Code"] == "accountExists", response.text


def new_list(server, name: str = "News", **fields) -> int:
    request = {"Name": name, "FromAddress": "mox+news@localhost", "FromName": "Mox news", **fields}
    return ok(server.call("ListCreate", request))["ListID"]


def members(server, list_id: int, status: str = "") -> dict[str, str]:
    found = ok(server.call("ListMembers", {"ListID": list_id, "Status": status, "PageSize": 1000}))
    return {m["Email"]: m["Status"] for m in found["Members"]}


class Endpoints:
    """The member endpoints with one credential, from one source address."""

    def __init__(self, server, token: str = "", source: str = "127.0.0.1", auth=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=root(server) + "/newsletter/", headers=headers, auth=auth, timeout=30,
                                   transport=httpx.HTTPTransport(local_address=source))

    def post(self, path: str, body=None, **kwargs) -> httpx.Response:
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        return self.client.post(path, content=body, **kwargs)

    def get(self, path: str, **params) -> httpx.Response:
        return self.client.get(path, params=params)

    def close(self) -> None:
        self.client.close()


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error", "message"} and body["message"], body
    return body["error"]


def confirmations(server, address: str) -> list[email.message.EmailMessage]:
    """The confirmation messages delivered for address, oldest first."""
    client = login(server)
    try:
        client.select("INBOX", readonly=True)
        typ, data = client.search(None, "HEADER", "To", address)
        assert typ == "OK"
        found = []
        for num in data[0].split():
            typ, parts = client.fetch(num, "(RFC822)")
            found.append(email.message_from_bytes(parts[0][1], policy=email.policy.default))
        return [m for m in found if m["To"] and address in str(m["To"])]
    finally:
        client.logout()


def wait_confirmations(server, address: str, count: int = 1, timeout: float = 15.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        found = confirmations(server, address)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} confirmation messages for {address}, expected {count}")
        time.sleep(0.1)


def confirm_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    links = re.findall(r"http://\S+/newsletter/confirm\?token=\S+", text)
    assert len(links) == 1, text
    return links[0]
