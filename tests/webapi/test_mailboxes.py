"""Mailboxes over the webapi: list them with their counts, create, rename
and delete them, and see each change at once in an IMAP session of the
same account (and IMAP's changes in MailboxList)."""

import re
import smtplib

import pytest

from moxpy.webapi import Client, WebapiError
from moxpy.webapi import types as t

from ..imapclient import login
from ..localserve import ADDRESS, PASSWORD


@pytest.fixture(scope="module")
def client(server):
    with Client(server.base_url, ADDRESS, PASSWORD) as c:
        yield c


@pytest.fixture
def imap(server):
    session = login(server)
    yield session
    session.logout()


def boxes(client) -> dict[str, t.Mailbox]:
    return {box.Name: box for box in client.MailboxList().Mailboxes}


def listed(imap) -> dict[str, bytes]:
    """Mailbox name -> its LIST attributes, as an IMAP client sees them."""
    typ, lines = imap.list()
    assert typ == "OK"
    found = {}
    for line in lines:
        m = re.match(rb'\((.*?)\) "/" (.*)', line)
        found[m.group(2).strip(b'"').decode()] = m.group(1)
    return found


def expect_user_error(fn, request, words: str) -> str:
    with pytest.raises(WebapiError) as info:
        fn(request)
    assert info.value.code == "user", info.value.message
    assert words in info.value.message, info.value.message
    return info.value.message


def deliver(server, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
        s.sendmail("sender@example.org", [ADDRESS], f"Subject: {subject}\r\n\r\nbody of {subject}\r\n".encode())


def test_list_has_every_mailbox_with_special_use_and_counts(server, client, imap):
    before = boxes(client)["Inbox"]
    deliver(server, "count me")
    deliver(server, "and me")
    server.wait_for(lambda: boxes(client)["Inbox"].Total == before.Total + 2)

    mailboxes = client.MailboxList().Mailboxes
    assert mailboxes[0].Name == "Inbox"
    uses = {box.Name: box.SpecialUse for box in mailboxes}
    assert {name: uses[name] for name in ("Inbox", "Sent", "Archive", "Drafts", "Trash", "Junk")} == {
        "Inbox": "\\Inbox", "Sent": "\\Sent", "Archive": "\\Archive", "Drafts": "\\Drafts", "Trash": "\\Trash",
        "Junk": "\\Junk"}
    assert len({box.ID for box in mailboxes}) == len(mailboxes)

    inbox = boxes(client)["Inbox"]
    assert inbox.Unread == before.Unread + 2
    assert inbox.UIDNext == before.UIDNext + 2
    assert inbox.Size > before.Size

    # The same numbers IMAP reports.
    typ, [status] = imap.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)")
    assert typ == "OK"
    numbers = dict(re.findall(rb"([A-Z]+) (\d+)", status))
    assert {k: int(v) for k, v in numbers.items()} == {
        b"MESSAGES": inbox.Total, b"UNSEEN": inbox.Unread, b"UIDNEXT": inbox.UIDNext,
        b"UIDVALIDITY": inbox.UIDValidity}

    # A message marked read over IMAP is no longer unread in the list.
    imap.select("INBOX")
    typ, _ = imap.uid("STORE", str(inbox.UIDNext - 1), "+FLAGS", "(\\Seen)")
    assert typ == "OK"
    assert boxes(client)["Inbox"].Unread == inbox.Unread - 1


def test_create_rename_delete_are_seen_by_an_open_imap_session(server, client, imap):
    assert "Projects" not in listed(imap)
    client.MailboxCreate(t.MailboxCreateRequest(Name="Projects/2024"))
    # The parent is created too, as IMAP's CREATE does (RFC 3501 6.3.3).
    assert {"Projects", "Projects/2024"} <= set(listed(imap))
    created = boxes(client)["Projects/2024"]
    assert (created.SpecialUse, created.Total, created.Unread, created.UIDNext) == ("", 0, 0, 1)

    # A message put there over IMAP stays with the mailbox through its rename, UID and UIDVALIDITY too.
    typ, _ = imap.append("Projects/2024", "", None, b"Subject: filed\r\n\r\nkept\r\n")
    assert typ == "OK"
    client.MailboxRename(t.MailboxRenameRequest(Name="Projects", NewName="Done"))
    names = set(listed(imap))
    assert {"Done", "Done/2024"} <= names and not {"Projects", "Projects/2024"} & names
    renamed = boxes(client)["Done/2024"]
    assert (renamed.ID, renamed.UIDValidity, renamed.Total) == (created.ID, created.UIDValidity, 1)
    typ, [count] = imap.select("Done/2024")
    assert (typ, count) == ("OK", b"1")
    typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"Subject: filed" in data[0][1]
    imap.close()

    # A parent with children stays.
    expect_user_error(client.MailboxDelete, t.MailboxDeleteRequest(Name="Done"), "children")
    client.MailboxDelete(t.MailboxDeleteRequest(Name="Done/2024"))
    client.MailboxDelete(t.MailboxDeleteRequest(Name="Done"))
    assert not {"Done", "Done/2024"} & set(listed(imap))
    assert not {"Done", "Done/2024"} & set(boxes(client))


def test_imap_changes_show_in_the_mailbox_list(client, imap):
    assert imap.create("FromIMAP")[0] == "OK"
    assert "FromIMAP" in boxes(client)
    assert imap.rename("FromIMAP", "FromIMAP2")[0] == "OK"
    assert "FromIMAP2" in boxes(client) and "FromIMAP" not in boxes(client)
    assert imap.delete("FromIMAP2")[0] == "OK"
    assert "FromIMAP2" not in boxes(client)


def test_inbox_and_special_use_mailboxes_cannot_be_renamed_or_deleted(client):
    for name in ("Inbox", "INBOX", "inbox"):
        expect_user_error(client.MailboxRename, t.MailboxRenameRequest(Name=name, NewName="Other"), "inbox")
        expect_user_error(client.MailboxDelete, t.MailboxDeleteRequest(Name=name), "inbox")
    for name in ("Sent", "Archive", "Drafts", "Trash", "Junk"):
        expect_user_error(client.MailboxRename, t.MailboxRenameRequest(Name=name, NewName="Other"), "special-use")
        expect_user_error(client.MailboxDelete, t.MailboxDeleteRequest(Name=name), "special-use")
    assert {"Inbox", "Sent", "Archive", "Drafts", "Trash", "Junk"} <= set(boxes(client))
    assert "Other" not in boxes(client)


def test_names_already_taken_unknown_or_invalid_are_user_errors(client, imap):
    client.MailboxCreate(t.MailboxCreateRequest(Name="Taken"))
    client.MailboxCreate(t.MailboxCreateRequest(Name="Free"))
    for name in ("Taken", "Inbox", "INBOX", "Sent"):
        expect_user_error(client.MailboxCreate, t.MailboxCreateRequest(Name=name), "already exists")
    expect_user_error(client.MailboxRename, t.MailboxRenameRequest(Name="Free", NewName="Taken"), "already exists")
    expect_user_error(client.MailboxRename, t.MailboxRenameRequest(Name="Free", NewName="Inbox"), "inbox")
    expect_user_error(client.MailboxRename, t.MailboxRenameRequest(Name="Free", NewName="Free/Below"), "below itself")
    expect_user_error(client.MailboxRename, t.MailboxRenameRequest(Name="Missing", NewName="Other"), "not found")
    expect_user_error(client.MailboxDelete, t.MailboxDeleteRequest(Name="Missing"), "not found")
    for bad in ("", "/lead", "trail/", "dou//ble", "a/../b", "wild*", "wild%", "ctl\x01"):
        expect_user_error(client.MailboxCreate, t.MailboxCreateRequest(Name=bad), "invalid mailbox name")
        expect_user_error(client.MailboxRename, t.MailboxRenameRequest(Name="Free", NewName=bad),
                          "invalid mailbox name")
    assert {"Taken", "Free"} <= set(boxes(client))
    # Names are Unicode; IMAP clients see them in modified UTF-7 (RFC 3501 5.1.3).
    client.MailboxCreate(t.MailboxCreateRequest(Name="Grüße"))
    assert "Grüße" in boxes(client)
    assert "Gr&APwA3w-e" in listed(imap)
