"""The send job tables in a real server database: a recipient is recorded in the commit that queues its
message, and that commit is refused whole (no queue entry) when the member is no longer confirmed, the job
no longer sends, or the member was dealt with already; outcomes and bounces reach the rows."""

from __future__ import annotations

import asyncio
import time

import pytest

from moxpy.store.newsletter import BOUNCED, CONFIRMED, UNSUBSCRIBED, MailingList, Member
from moxpy.store.queue import NewEntry
from moxpy.store.sendjobs import SENDING, AlreadyRecorded, JobStopped, NotConfirmed, SendJob
from moxpy.store.sqlite.serverdb import ServerDatabase

from ..serverdbhelp import open_server_database


def entry(rcpt: str) -> NewEntry:
    now = time.time()
    return NewEntry(account="a", created=now, sender="news@example.com", mail_from="news@example.com", rcpt_to=rcpt,
                    rcpt_domain="example.com", from_id="", message_id="<m@x>", subject="s", smtputf8=False,
                    require_tls=None, extra={}, next_attempt=now)


@pytest.fixture
def db(tmp_path, storage):
    database = open_server_database(tmp_path, storage)
    yield database
    database.close()


def setup(db: ServerDatabase, emails: list[str]) -> tuple[int, int]:
    async def make():
        now = time.time()
        list_id = await db.newsletter.create_list(MailingList(0, "a", "L", "news@example.com", created=now))
        for e in emails:
            await db.newsletter.save_member("a", Member(list_id, e, CONFIRMED, created=now, updated=now))
        job_id = await db.sendjobs.create(SendJob(0, "a", list_id, "j", "s", "", "t", now, status=SENDING,
                                                  created=now, started_at=now))
        return list_id, job_id

    return asyncio.run(make())


def queue_to(db: ServerDatabase, job_id: int, rcpt: str) -> list[int]:
    return asyncio.run(db.queue.submit(b"Subject: s\r\n\r\nx\r\n", [entry(rcpt)],
                                       then=lambda tx, ids: tx.sendjobs.queued(job_id, rcpt, ids[0])))


def test_queueing_and_recording_are_one_commit(db):
    list_id, job_id = setup(db, ["one@example.com", "two@example.com", "three@example.com"])
    [queue_id] = queue_to(db, job_id, "one@example.com")
    assert db.sendjobs.get("a", job_id).counts["queued"] == 1
    with pytest.raises(AlreadyRecorded):
        queue_to(db, job_id, "ONE@example.com")

    member = db.newsletter.member("a", list_id, "two@example.com")
    member.status = UNSUBSCRIBED
    asyncio.run(db.newsletter.save_member("a", member))
    with pytest.raises(NotConfirmed):
        queue_to(db, job_id, "two@example.com")

    asyncio.run(db.queue.transaction(lambda tx: tx.sendjobs.cancel("a", job_id, time.time())))
    with pytest.raises(JobStopped):
        queue_to(db, job_id, "three@example.com")
    # Only the first message is queued: each refused commit took its queue entry with it.
    assert db.queue.count() == 1
    assert db.sendjobs.get("a", job_id).counts["queued"] == 1
    assert db.sendjobs.recorded(job_id, ["one@example.com", "two@example.com"]) == {"one@example.com"}


def test_outcomes_and_bounces_reach_the_rows(db):
    list_id, job_id = setup(db, ["b@example.com"])
    [queue_id] = queue_to(db, job_id, "b@example.com")

    def failed(tx):
        tx.sendjobs.outcome(queue_id, "delayed")
        tx.sendjobs.outcome(queue_id, "expanded")  # means nothing for a recipient
        tx.sendjobs.outcome(queue_id, "failed")
        return tx.sendjobs.mark_bounced("a", "B@example.com", time.time())

    assert asyncio.run(db.queue.transaction(failed)) == 1
    assert db.sendjobs.get("a", job_id).counts["failed"] == 1
    assert db.newsletter.member("a", list_id, "b@example.com").status == BOUNCED
    assert asyncio.run(db.remove_account("a"))["sendjobs"] == 1
    assert db.sendjobs.get("a", job_id) is None and not db.has_account_data("a")
