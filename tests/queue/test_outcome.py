"""Outcomes recorded with their events, over the server database (SQLite
in a temporary directory, and PostgreSQL): what each event carries, and that an outcome and its
events commit together or not at all."""

import asyncio

import pytest

from moxpy import config as configlib
from moxpy.queue import outcome, submit
from moxpy.queue.deliver import DeliveryResult
from moxpy.store.queue import EntryFilter

from ..serverdbhelp import open_server_database

SETTINGS = configlib.Config().Queue


@pytest.fixture
def db(tmp_path, storage):
    db = open_server_database(tmp_path, storage)
    yield db
    db.close()


def queue_one(db, rcpt="bob@x.example", sender="app@example.org") -> int:
    submission = submit.NewMessage(account="app", sender=sender, recipients=[submit.Recipient(rcpt)],
                                   data=b"Subject: hi\r\n\r\nhi\r\n", message_id="<m1@example.org>", subject="hi",
                                   extra={"k": "v"})
    [queue_id] = asyncio.run(db.queue.submit(submission.data, submit.entries(submission, 1000.0)))
    return queue_id


def record(db, recorder, queue_id, result, data=b"Subject: hi\r\n\r\nhi\r\n") -> bool:
    return asyncio.run(db.queue.transaction(lambda tx: outcome.record_delivery(
        tx, recorder, queue_id, result, 1000.0, 1001.0, settings=SETTINGS, hostname="localhost", data=data)))


def test_delivered_event_carries_no_smtp_codes(db):
    events = []
    recorder = outcome.Recorder(lambda account: 3600.0, [lambda tx, event: events.append(event)])
    queue_id = queue_one(db)
    assert record(db, recorder, queue_id, DeliveryResult(ok=True, code=250, enhanced_code="2.0.0")) is False
    [event] = events
    assert (event.event, event.queue_msg_id, event.smtp_code, event.smtp_enhanced_code) == ("delivered", queue_id,
                                                                                              0, "")
    assert event.extra == {"k": "v"}
    [done] = db.queue.retired(EntryFilter(ids=[queue_id]))
    assert (done.event, done.success, done.last_code, done.delivering) == ("delivered", True, 250, False)
    assert [(a.success, a.code, a.enhanced_code) for a in done.results] == [(True, 250, "2.0.0")]
    assert db.queue.queued(EntryFilter()) == [] and db.queue.pending_dsns() == []


def test_permanent_failure_suppresses_and_queues_a_dsn(db):
    events = []
    recorder = outcome.Recorder(lambda account: 3600.0, [lambda tx, event: events.append(event)])
    queue_id = queue_one(db)
    result = DeliveryResult(ok=False, permanent=True, code=550, enhanced_code="5.1.1", error="550 5.1.1 no such user")
    assert record(db, recorder, queue_id, result) is True
    [event] = events
    assert (event.event, event.suppressing, event.smtp_code, event.smtp_enhanced_code, event.error) == (
        "failed", True, 550, "5.1.1", "550 5.1.1 no such user")
    [sup] = db.queue.suppressions("app")
    assert (sup.base_address, sup.manual) == ("bob@x.example", False)
    [dsn] = db.queue.pending_dsns()
    assert dsn.rcpt_to == "app@example.org" and b"bob@x.example" in dsn.data


def test_temporary_failure_stays_queued_with_a_delayed_event(db):
    events = []
    recorder = outcome.Recorder(lambda account: 3600.0, [lambda tx, event: events.append(event)])
    queue_id = queue_one(db)
    result = DeliveryResult(ok=False, code=451, enhanced_code="4.7.1", error="451 4.7.1 greylisted")
    record(db, recorder, queue_id, result)
    assert [(e.event, e.smtp_code) for e in events] == [("delayed", 451)]
    [entry] = db.queue.queued(EntryFilter(ids=[queue_id]))
    assert (entry.last_code, entry.last_enhanced_code, len(entry.results)) == (451, "4.7.1", 1)


def test_a_failing_event_sink_rolls_the_outcome_back(db):
    def broken(tx, event):
        raise RuntimeError("sink failed")

    recorder = outcome.Recorder(lambda account: 3600.0, [broken])
    queue_id = queue_one(db)
    with pytest.raises(RuntimeError):
        record(db, recorder, queue_id, DeliveryResult(ok=False, permanent=True, code=550, enhanced_code="5.1.1"))
    assert [e.id for e in db.queue.queued(EntryFilter())] == [queue_id]
    assert db.queue.retired(EntryFilter()) == []
    assert db.queue.suppressions("app") == [] and db.queue.pending_dsns() == []


def test_no_dsn_for_the_null_reverse_path(db):
    recorder = outcome.Recorder(lambda account: 0.0)
    queue_id = queue_one(db, sender="")
    assert record(db, recorder, queue_id, DeliveryResult(ok=False, permanent=True, code=554)) is False
    assert db.queue.pending_dsns() == []
    # A keep period of 0: nothing is kept once retired.
    assert db.queue.retired(EntryFilter()) == []
