"""Outgoing events: their names, how they are built from queue entries, and
the webhook payload made from them."""

import msgspec

from moxpy.queue.events import EVENTS, Event
from moxpy.store.queue import Attempt, Entry, RetiredEntry
from moxpy.webhooks import types as t
from moxpy.webhooks.enqueue import outgoing_payload


def entry(**fields) -> Entry:
    values = dict(id=7, account="app", created=1000.0, sender="app@example.org", mail_from="app+fid@example.org",
                  rcpt_to="bob@x.example", rcpt_domain="x.example", from_id="fid", message_id="<m1@example.org>",
                  subject="hello", path="ab/cd", size=10, smtputf8=False, require_tls=None,
                  extra={"order": "17"}, next_attempt=1000.0)
    values.update(fields)
    return Entry(**values)


def test_event_names_are_mox_outgoing_events():
    assert list(EVENTS) == ["delivered", "suppressed", "delayed", "failed", "relayed", "expanded", "canceled",
                            "unrecognized"]
    assert all(EVENTS.values())


def test_event_of_an_entry_names_it_and_copies_extra():
    e = entry()
    event = Event.of("failed", e, smtp_code=550, smtp_enhanced_code="5.1.1", error="no such user", suppressing=True)
    assert (event.event, event.account, event.queue_msg_id, event.from_id) == ("failed", "app", 7, "fid")
    assert (event.message_id, event.subject, event.rcpt_to) == ("<m1@example.org>", "hello", "bob@x.example")
    assert (event.smtp_code, event.smtp_enhanced_code, event.error, event.suppressing) == (550, "5.1.1",
                                                                                             "no such user", True)
    assert event.extra == {"order": "17"}
    event.extra["order"] = "changed"
    assert e.extra == {"order": "17"}  # the event has its own copy


def test_retired_entry_keeps_the_entry_fields():
    e = entry(results=[Attempt(start=1.0, success=True, code=250)])
    retired = RetiredEntry.of(e, retired=2.0, event="delivered", success=True, keep_until=3.0)
    assert (retired.id, retired.rcpt_to, retired.results, retired.event) == (7, "bob@x.example", e.results,
                                                                             "delivered")
    assert Event.of("delivered", retired).queue_msg_id == 7


def test_outgoing_payload_has_mox_field_names():
    event = Event.of("delayed", entry(), smtp_code=451, smtp_enhanced_code="4.7.1", error="greylisted", dsn=True)
    payload = msgspec.json.decode(msgspec.json.encode(outgoing_payload(event, 0.0)))
    assert payload == {
        "Version": 0, "Event": "delayed", "DSN": True, "Suppressing": False, "QueueMsgID": 7, "FromID": "fid",
        "MessageID": "<m1@example.org>", "Subject": "hello", "WebhookQueued": "1970-01-01T00:00:00Z",
        "SMTPCode": 451, "SMTPEnhancedCode": "4.7.1", "Error": "greylisted", "Extra": {"order": "17"}}
    msgspec.convert(payload, t.Outgoing)
