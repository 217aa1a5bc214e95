"""The delivery queue in localserve: retries with backoff, permanent
failures, DSNs in the sender's Inbox, the suppression list, FromID
tracking, FutureRelease, and the operator commands on a running server.

Failures come from localserve's simulation on its own delivery listener;
the backoff is shortened in the config (BackoffFirst), not in code.
"""

import email
import email.policy
import time
from datetime import datetime, timedelta, timezone

import pytest

from moxpy.config import Destination
from moxpy.message import dsn as dsnlib
from moxpy.store.queue import RetiredEntry

from ..localserve import LocalServer
from ..queuehelp import entry, message, mox, outbox, queued, retired, send

BACKOFF = 0.3
MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    def configure(config):
        config.Queue.BackoffFirst = BACKOFF
        config.Queue.MaxAttempts = MAX_ATTEMPTS
        account = config.Accounts["mox"]
        account.Destinations["tracked@localhost"] = Destination()
        account.FromIDLoginAddresses = ["tracked@localhost"]

    srv = LocalServer(str(tmp_path_factory.mktemp("queue")), configure).start()
    yield srv
    srv.stop()


def wait_retired(server, queue_id: int, timeout: float = 20) -> RetiredEntry:
    return server.wait_for(lambda: retired(server, queue_id), timeout)


def inbox_with_subject(server, subject: str) -> list[dict]:
    return [m for m in server.messages() if m["subject"] == subject and not m["dsn"]]


def dsn_about(server, message_id: str) -> list[tuple[dict, bytes]]:
    """DSNs in the Inbox whose References point to message_id."""
    found = []
    for m in server.messages():
        if m["dsn"]:
            data = server.message_file(m)
            msg = email.message_from_bytes(data, policy=email.policy.default)
            if str(msg.get("References", "")).strip() == message_id:
                found.append((m, data))
    return found


def test_temporary_failure_is_retried_with_backoff_then_fails_with_dsn(server):
    result = send(server, {"To": [{"Address": "temperror@example.com"}], "Subject": "temp fails", "Text": "hi"})
    queue_id = result["Submissions"][0]["QueueMsgID"]

    # While retrying, the entry stays queued with its attempts counted.
    first = server.wait_for(lambda: (e := entry(server, queue_id)) and e.last_code and e)
    assert first.last_code == 451 and first.attempts >= 1

    done = wait_retired(server, queue_id)
    assert done.event == "failed" and not done.success
    assert done.attempts == MAX_ATTEMPTS
    results = done.results
    assert len(results) == MAX_ATTEMPTS
    assert all(not r.success and r.code == 451 and r.enhanced_code == "4.0.0" for r in results)
    # Doubling backoff: the waits before attempt 2 and 3 are at least 1x and 2x the first
    # interval (less at most the jitter).
    starts = [r.start for r in results]
    for n, (a, b) in enumerate(zip(starts, starts[1:])):
        assert b - a >= BACKOFF * 2 ** n * 0.94
    assert not inbox_with_subject(server, "temp fails")

    # The sender gets a DSN in its Inbox that parses as a delivery-status report.
    [(row, data)] = server.wait_for(lambda: dsn_about(server, result["MessageID"]))
    assert row["mailbox"] == "Inbox"
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    assert "temperror@example.com" in parts[0].get_content()
    assert b"Subject: temp fails" in data
    report = dsnlib.parse(data)
    assert report.reporting_mta == "localhost"
    [rcpt] = report.recipients
    assert rcpt.final_recipient == "temperror@example.com"
    assert rcpt.action == "failed"
    assert rcpt.status == "5.0.0"
    assert rcpt.diagnostic_code.startswith("451 4.0.0 ")
    assert dsnlib.smtp_codes(rcpt) == (451, "4.0.0")

    got = server.call("MessageGet", {"MsgID": row["id"]}).json()
    assert got["Meta"]["DSN"] is True
    assert got["Message"]["Subject"] == "mail delivery failed"


def test_permanent_failure_fails_at_once_suppresses_and_sends_dsn(server):
    result = send(server, {"To": [{"Address": "permerror@example.com"}], "Subject": "perm fails", "Text": "hi"})
    queue_id = result["Submissions"][0]["QueueMsgID"]
    done = wait_retired(server, queue_id)
    assert done.event == "failed"
    assert done.attempts == 1
    assert (done.last_code, done.last_enhanced_code) == (550, "5.0.0")

    # 550 puts the address on the account's suppression list at once,
    # matched by base address.
    present = server.call("SuppressionPresent", {"EmailAddress": "Perm.Error+news@example.com"}).json()
    assert present == {"Present": True}
    [sup] = [s for s in server.call("SuppressionList", {}).json()["Suppressions"]
             if s["BaseAddress"] == "permerror@example.com"]
    assert sup["Manual"] is False and sup["OriginalAddress"] == "permerror@example.com"
    assert "550" in sup["Reason"]

    [(_, data)] = server.wait_for(lambda: dsn_about(server, result["MessageID"]))
    [rcpt] = dsnlib.parse(data).recipients
    assert (rcpt.action, rcpt.status) == ("failed", "5.0.0")
    assert rcpt.diagnostic_code.startswith("550 5.0.0")


def test_send_to_suppressed_address_fails_at_once(server):
    assert server.call("SuppressionAdd", {"EmailAddress": "blocked@example.com", "Manual": True}).status_code == 200
    result = send(server, {"To": [{"Address": "Blocked+news@example.com"}], "Subject": "to suppressed", "Text": "hi"})
    queue_id = result["Submissions"][0]["QueueMsgID"]
    done = wait_retired(server, queue_id)
    assert done.event == "suppressed"
    assert "suppression list" in done.last_error
    [(_, data)] = server.wait_for(lambda: dsn_about(server, result["MessageID"]))
    assert dsnlib.parse(data).recipients[0].action == "failed"
    assert not inbox_with_subject(server, "to suppressed")


def test_three_failed_messages_in_a_row_suppress(server):
    # 554 with 5.0.0 is not one of the codes that suppress at once.
    address = "x554@example.com"
    for n in range(3):
        result = send(server, {"To": [{"Address": address}], "Subject": f"fail {n}", "Text": "hi"})
        done = wait_retired(server, result["Submissions"][0]["QueueMsgID"])
        assert (done.event, done.last_code) == ("failed", 554)
        present = server.call("SuppressionPresent", {"EmailAddress": address}).json()["Present"]
        assert present == (n == 2)
    [sup] = [s for s in server.call("SuppressionList", {}).json()["Suppressions"] if s["BaseAddress"] == address]
    assert "third failed message in a row" in sup["Reason"]


def test_fromid_gives_unique_mail_from_per_recipient_and_no_dsn(server):
    kwargs = {"user": "tracked@localhost"}
    result = send(server, {"To": [{"Address": "mox@localhost"}, {"Address": "other@example.com"}],
                           "Subject": "tracked ok", "Text": "hi"}, **kwargs)
    subs = result["Submissions"]
    ids = [s["FromID"] for s in subs]
    assert all(ids) and len(set(ids)) == 2
    for s in subs:
        assert entry(server, s["QueueMsgID"]).mail_from == f"tracked+{s['FromID']}@localhost"
    delivered = server.wait_for(lambda: len(inbox_with_subject(server, "tracked ok")) == 2 and
                                inbox_with_subject(server, "tracked ok"))
    assert {m["mail_from"] for m in delivered} == {f"tracked+{i}@localhost" for i in ids}
    assert {m["rcpt_to"] for m in delivered} == {"mox@localhost", "other@example.com"}

    failed = send(server, {"To": [{"Address": "fid-permerror@example.com"}], "Subject": "tracked fails",
                           "Text": "hi"}, **kwargs)
    done = wait_retired(server, failed["Submissions"][0]["QueueMsgID"])
    assert done.event == "failed" and done.from_id == failed["Submissions"][0]["FromID"]
    # A DSN is written to the outbox in the same transaction as the failure, so none exists now.
    assert [d for d in outbox(server) if failed["MessageID"].encode() in d.data] == []
    assert dsn_about(server, failed["MessageID"]) == []


def test_each_recipient_is_one_queue_entry_delivered_separately(server):
    result = send(server, {"To": [{"Address": "a@example.com"}], "CC": [{"Address": "b@example.com"}],
                           "BCC": [{"Address": "c@example.org"}], "Subject": "three", "Text": "hi"})
    ids = [s["QueueMsgID"] for s in result["Submissions"]]
    assert ids == sorted(ids) and len(set(ids)) == 3
    delivered = server.wait_for(lambda: len(inbox_with_subject(server, "three")) == 3 and
                                inbox_with_subject(server, "three"))
    assert sorted(m["rcpt_to"] for m in delivered) == ["a@example.com", "b@example.com", "c@example.org"]
    for queue_id in ids:
        assert wait_retired(server, queue_id).event == "delivered"
    # The message is removed once the last entry using it is retired.
    assert [e for e in queued(server) if e.path == retired(server, ids[0]).path] == []
    with pytest.raises(OSError):
        message(server, retired(server, ids[0]))


def test_tls_required_no_header(server):
    send(server, {"To": [{"Address": "mox@localhost"}], "Subject": "tls optional", "Text": "hi", "RequireTLS": False})
    [m] = server.wait_for(lambda: inbox_with_subject(server, "tls optional"))
    assert b"\r\nTLS-Required: No\r\n" in server.message_file(m)


@pytest.mark.slow
def test_future_release_hold_release_kick_and_drop(server):
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    held = send(server, {"To": [{"Address": "later@example.com"}], "Subject": "later", "Text": "hi",
                         "FutureRelease": later})
    held_id = held["Submissions"][0]["QueueMsgID"]
    dropped = send(server, {"To": [{"Address": "dropme@example.net"}], "Subject": "dropped", "Text": "hi",
                            "FutureRelease": later})
    dropped_id = dropped["Submissions"][0]["QueueMsgID"]

    out = mox(server, "queue", "list").stdout
    line = next(line for line in out.splitlines() if line.startswith(f"{held_id} "))
    assert "later@example.com" in line and ("in 59m" in line or "in 1h" in line)
    assert "2 message(s) in queue" in out
    only = mox(server, "queue", "list", "-domain", "example.net").stdout
    assert "dropme@example.net" in only and "later@example.com" not in only

    assert "1 message(s) put on hold" in mox(server, "queue", "hold", "-ids", str(held_id)).stdout
    assert "on hold" in mox(server, "queue", "list", "-hold", "true").stdout
    assert "0 message(s) scheduled" in mox(server, "queue", "kick", "-ids", str(held_id)).stdout
    assert "1 message(s) released" in mox(server, "queue", "release", "-ids", str(held_id)).stdout
    assert not isinstance(entry(server, held_id), RetiredEntry)  # FutureRelease still holds it back
    assert "1 message(s) scheduled" in mox(server, "queue", "kick", "-ids", str(held_id)).stdout
    server.wait_for(lambda: inbox_with_subject(server, "later"))
    assert wait_retired(server, held_id).event == "delivered"

    refused = mox(server, "queue", "drop", check=False)
    assert refused.returncode == 2 and "-all" in refused.stderr
    assert "1 message(s) dropped" in mox(server, "queue", "drop", "-to", "dropme@").stdout
    assert retired(server, dropped_id).event == "canceled"
    retired_out = mox(server, "queue", "retired", "-ids", str(dropped_id), "-v").stdout
    assert "canceled" in retired_out and "delivery canceled by operator" in retired_out
    time.sleep(1.5)  # a worker rescan later, nothing was delivered or bounced
    assert not inbox_with_subject(server, "dropped")
    assert dsn_about(server, dropped["MessageID"]) == []


def test_future_release_more_than_60_days_ahead_is_refused(server):
    far = (datetime.now(timezone.utc) + timedelta(days=61)).isoformat().replace("+00:00", "Z")
    response = server.call("Send", {"To": [{"Address": "x@example.com"}], "Text": "hi", "FutureRelease": far})
    assert response.status_code == 400 and response.json()["Code"] == "user"
