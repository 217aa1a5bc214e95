"""ChangesSince over real HTTP: an application that was away catches up on
every change in order, whatever made it (SMTP, IMAP, the webapi), page
by page; a cursor that is not one, or one whose changes were pruned, is
refused with a code that says which."""

import smtplib

import pytest

from moxpy.webapi import Client, WebapiError
from moxpy.webapi import types as t

from ..imapclient import login
from ..localserve import ADDRESS, PASSWORD, LocalServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LocalServer(str(tmp_path_factory.mktemp("changes"))).start()
    yield srv
    srv.stop()


def changes_since(server, cursor: str, limit: int = 0) -> dict:
    response = server.call("ChangesSince", {"Cursor": cursor, "Limit": limit})
    assert response.status_code == 200, response.text
    return response.json()


def error(server, request: dict) -> dict:
    response = server.call("ChangesSince", request)
    assert response.status_code == 400, response.text
    return response.json()


def deliver(server, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as s:
        s.sendmail("someone@example.org", [ADDRESS],
                   f"From: someone@example.org\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\n\r\nhello\r\n".encode())


def msg_id(server, subject: str) -> int:
    return server.wait_for(lambda: [m["id"] for m in server.messages() if m["subject"] == subject])[0]


def all_since(server, cursor: str, limit: int) -> tuple[list[dict], str, int]:
    """Every change after cursor, fetched limit at a time: (changes, the last NextCursor, calls made)."""
    found, calls = [], 0
    while True:
        page = changes_since(server, cursor, limit)
        calls += 1
        assert len(page["Changes"]) <= limit
        found += page["Changes"]
        cursor = page["NextCursor"]
        if not page["More"]:
            return found, cursor, calls


def test_empty_cursor_gives_the_current_position_and_no_changes(server):
    first = changes_since(server, "")
    assert first["Changes"] == [] and first["More"] is False and first["NextCursor"]
    # Nothing happened since: the same position, nothing after it.
    again = changes_since(server, first["NextCursor"])
    assert again == first


def test_changes_from_smtp_imap_and_webapi_come_in_order_page_by_page(server):
    start = changes_since(server, "")["NextCursor"]
    for n in range(3):
        deliver(server, f"catch up {n}")
    ids = [msg_id(server, f"catch up {n}") for n in range(3)]
    assert server.call("MessageFlagsAdd", {"MsgID": ids[0], "Flags": ["\\Seen", "Todo"]}).status_code == 200
    imap = login(server)
    imap.select("INBOX")
    typ, _ = imap.uid("STORE", "1:*", "-FLAGS", "(\\Seen)")  # only the first had it
    assert typ == "OK"
    imap.logout()
    assert server.call("MessageMove", {"MsgID": ids[1], "DestMailboxName": "Archive"}).status_code == 200
    assert server.call("MessageDelete", {"MsgID": ids[2]}).status_code == 200

    changes, end, calls = all_since(server, start, 2)
    assert calls == 4
    assert [(c["Event"], c["MailboxName"], c["MsgID"]) for c in changes] == [
        ("messageNew", "Inbox", ids[0]), ("messageNew", "Inbox", ids[1]), ("messageNew", "Inbox", ids[2]),
        ("messageUpdated", "Inbox", ids[0]), ("messageUpdated", "Inbox", ids[0]),
        ("messageDeleted", "Inbox", ids[1]), ("messageNew", "Archive", ids[1]),
        ("messageDeleted", "Inbox", ids[2]),
    ]
    # A new message comes with its summary as it is when read: one moved since is in Archive by now, one
    # deleted since has none.
    assert [c["Message"] and (c["Message"]["MsgID"], c["Message"]["MailboxName"])
            for c in changes if c["Event"] == "messageNew"] == \
        [(ids[0], "Inbox"), (ids[1], "Archive"), None, (ids[1], "Archive")]
    assert all(c["Message"] is None for c in changes if c["Event"] != "messageNew")
    updates = [(c["Added"], c["Removed"]) for c in changes if c["Event"] == "messageUpdated"]
    assert updates == [(["\\seen", "todo"], []), ([], ["\\seen"])]
    assert all(c["Version"] == 0 and c["Time"].endswith("Z") and c["UID"] > 0 for c in changes)
    assert changes[6]["MailboxID"] != changes[5]["MailboxID"]
    # Each change's cursor continues right after it; the last is where the feed ends.
    assert changes[-1]["Cursor"] == end
    rest = changes_since(server, changes[4]["Cursor"], 100)
    assert [c["Cursor"] for c in rest["Changes"]] == [c["Cursor"] for c in changes[5:]]
    assert changes_since(server, end) == {"Changes": [], "NextCursor": end, "More": False}


def test_mailbox_changes_are_in_the_feed(server):
    start = changes_since(server, "")["NextCursor"]
    imap = login(server)
    assert imap.create("Projects/Alpha")[0] == "OK"
    assert imap.rename("Projects", "Work")[0] == "OK"
    assert imap.delete("Work/Alpha")[0] == "OK"
    imap.logout()
    changes = changes_since(server, start)["Changes"]
    events = [(c["Event"], c["MailboxName"], c["OldName"]) for c in changes]
    assert ("mailboxNew", "Projects", "") in events and ("mailboxNew", "Projects/Alpha", "") in events
    assert ("mailboxRenamed", "Work", "Projects") in events and ("mailboxRenamed", "Work/Alpha", "Projects/Alpha") in events
    assert events[-1] == ("mailboxDeleted", "Work/Alpha", "")


def test_the_python_client_reads_the_feed_typed(server):
    with Client(server.base_url, ADDRESS, PASSWORD) as client:
        start = client.ChangesSince(t.ChangesSinceRequest()).NextCursor
        imap = login(server)
        assert imap.append("INBOX", "", None, b"Subject: typed\r\n\r\nx\r\n")[0] == "OK"
        imap.logout()
        result = client.ChangesSince(t.ChangesSinceRequest(Cursor=start, Limit=10))
        [change] = result.Changes
        assert change.Event == "messageNew" and isinstance(change.Message, t.MessageSummary)
        assert change.Message.Subject == "typed" and result.NextCursor == change.Cursor and not result.More
        with pytest.raises(WebapiError) as info:
            client.ChangesSince(t.ChangesSinceRequest(Cursor="not a cursor"))
        assert info.value.code == "user"


@pytest.mark.parametrize("cursor", ["abc", "-1.0", "1", "1.2.3", "01.0", "1.-2", " 1.0", "1.0 ",
                                    "99999999999999999999.0", "1.99999999999999999999", "１.０"])
def test_a_string_that_is_no_cursor_is_a_user_error(server, cursor):
    body = error(server, {"Cursor": cursor})
    assert body["Code"] == "user" and "cursor" in body["Message"]


def test_a_cursor_ahead_of_the_account_is_a_user_error(server):
    modseq, _, seq = changes_since(server, "")["NextCursor"].partition(".")
    for ahead in (f"{int(modseq) + 1}.0", f"{modseq}.{int(seq) + 1}", "999999999999999999.0"):
        body = error(server, {"Cursor": ahead})
        assert body["Code"] == "user" and "ahead" in body["Message"], body


@pytest.mark.parametrize("limit", [-1, 1001, 1 << 40])
def test_limit_outside_one_to_a_thousand_is_a_user_error(server, limit):
    assert error(server, {"Cursor": "", "Limit": limit})["Code"] == "user"


def test_limit_zero_means_a_hundred(server):
    start = changes_since(server, "")["NextCursor"]
    imap = login(server)
    assert imap.create("Bulk")[0] == "OK"
    for n in range(60):
        imap.append("Bulk", "", None, f"Subject: bulk {n}\r\n\r\nx\r\n".encode())
    imap.select("Bulk")
    assert imap.uid("STORE", "1:*", "+FLAGS", "(bulk)")[0] == "OK"
    imap.logout()
    everything, _, _ = all_since(server, start, 1000)
    assert len(everything) == 121  # the mailbox, 60 messages, 60 flag changes
    page = changes_since(server, start, 0)
    assert len(page["Changes"]) == 100 and page["More"] is True


def test_a_cursor_older_than_the_retention_is_expired(new_server):
    srv = new_server(lambda c: setattr(c.Accounts["mox"], "ChangesRetention", 1.0)).start()
    old = changes_since(srv, "")["NextCursor"]
    imap = login(srv)
    assert imap.append("INBOX", "", None, b"Subject: soon forgotten\r\n\r\nx\r\n")[0] == "OK"
    imap.logout()
    assert changes_since(srv, old)["Changes"]  # there at first

    def expired() -> dict | None:
        response = srv.call("ChangesSince", {"Cursor": old})
        return response.json() if response.status_code == 400 else None

    body = srv.wait_for(expired, timeout=15, interval=0.2)
    assert body["Code"] == "cursorExpired" and "resynchronise" in body["Message"]
    # A fresh cursor works, and so does the feed after it.
    fresh = changes_since(srv, "")["NextCursor"]
    assert srv.call("MessageFlagsAdd", {"MsgID": msg_id(srv, "soon forgotten"), "Flags": ["\\Seen"]}).status_code == 200
    assert [c["Event"] for c in changes_since(srv, fresh)["Changes"]] == ["messageUpdated"]
