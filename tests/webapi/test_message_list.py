"""MessageList and MessageTextGet over real HTTP, with mail put in over
IMAP APPEND, SMTP and Send: summaries, newest-first order, page numbers,
cursors that hold still while mail arrives, the bounds of a request, text
cut at a character boundary, and an index of an older version filled when
the server opens it."""

import itertools
import os
import sqlite3

import pytest

from .. import storehelp
from ..localserve import ADDRESS, LocalServer
from .mailboxhelp import Mailbox, compose, deliver_smtp, error, page

_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    def configure(config):
        config.MaxMessageSize = 32 * 1024 * 1024

    srv = LocalServer(str(tmp_path_factory.mktemp("messagelist")), configure).start()
    yield srv
    srv.stop()


@pytest.fixture
def mailbox(server):
    box = Mailbox(server, f"List{next(_names)}")
    yield box
    box.close()


def ids(result: dict) -> list[int]:
    return [m["MsgID"] for m in result["Messages"]]


def test_summary_of_an_appended_message(server, mailbox):
    data = compose("Grüße", "Hello  there,\n\nthe report ☺ is attached.", html="<p>Hello <b>there</b></p>",
                   sender='"Bob Smith" <bob@example.com>', to="Ann <ann@example.org>, carl@example.net",
                   cc="dora@example.com", attachment=b"%PDF-1.4", message_id="<report-1@example.com>",
                   headers={"In-Reply-To": "<question@example.org>"})
    msg_id = mailbox.append(data, flags="\\Seen \\Flagged custom")
    (summary,) = page(server, "MessageList", Mailbox=mailbox.name)["Messages"]
    assert summary["MsgID"] == msg_id
    assert summary["MailboxName"] == mailbox.name
    assert summary["Received"] == "2025-01-01T00:01:00Z"
    assert summary["Date"] == "2025-01-01T12:00:00Z"
    assert summary["Size"] == len(data)
    assert summary["Flags"] == ["\\flagged", "\\seen", "custom"]
    assert summary["Subject"] == "Grüße"
    assert summary["From"] == [{"Name": "Bob Smith", "Address": "bob@example.com"}]
    assert summary["To"] == [{"Name": "Ann", "Address": "ann@example.org"}, {"Name": "", "Address": "carl@example.net"}]
    assert summary["CC"] == [{"Name": "", "Address": "dora@example.com"}]
    assert (summary["MessageID"], summary["InReplyTo"]) == ("<report-1@example.com>", "<question@example.org>")
    assert summary["Preview"] == "Hello there, the report ☺ is attached."
    assert summary["HasAttachments"] is True
    text = page(server, "MessageTextGet", MsgID=msg_id)
    assert text["Text"] == "Hello  there,\n\nthe report ☺ is attached.\n"
    assert text["HTML"] == "<p>Hello <b>there</b></p>\n"
    assert (summary["TextSize"], summary["HTMLSize"]) == (len(text["Text"].encode()), len(text["HTML"].encode()))
    assert (text["TextSize"], text["HTMLSize"]) == (summary["TextSize"], summary["HTMLSize"])
    assert (text["TextTruncated"], text["HTMLTruncated"]) == (False, False)


def test_html_only_message_previews_its_text(server, mailbox):
    mailbox.append(compose("news", None, html="<html><head><style>p {color: red}</style></head>"
                                              "<body><p>Big&nbsp;news</p><p>today</p></body></html>"))
    (summary,) = page(server, "MessageList", Mailbox=mailbox.name)["Messages"]
    assert summary["Preview"] == "Big news today"  # &nbsp; is whitespace too
    assert summary["TextSize"] == 0 and summary["HTMLSize"] > 0
    assert summary["HasAttachments"] is False


def test_newest_first_with_page_numbers(server, mailbox):
    # Received out of order: the listing sorts by received time, not by arrival.
    appended = {minute: mailbox.append(compose(f"m{minute}"), minute=minute) for minute in [5, 1, 4, 2, 3, 7, 6]}
    newest_first = [appended[m] for m in sorted(appended, reverse=True)]
    first = page(server, "MessageList", Mailbox=mailbox.name, PageSize=3)
    assert (first["Total"], first["Page"], first["Pages"]) == (7, 1, 3)
    assert ids(first) == newest_first[:3]
    assert [m["Subject"] for m in first["Messages"]] == ["m7", "m6", "m5"]
    third = page(server, "MessageList", Mailbox=mailbox.name, PageSize=3, Page=3)
    assert (ids(third), third["Page"], third["NextCursor"]) == (newest_first[6:], 3, "")
    beyond = page(server, "MessageList", Mailbox=mailbox.name, PageSize=3, Page=9)
    assert (beyond["Messages"], beyond["Total"], beyond["NextCursor"]) == ([], 7, "")
    # The default page size is 20.
    assert ids(page(server, "MessageList", Mailbox=mailbox.name)) == newest_first


def test_cursor_continues_after_the_last_message_seen_while_mail_arrives(server, mailbox):
    older = [mailbox.append(compose(f"old {i}"), minute=i) for i in range(1, 8)]
    first = page(server, "MessageList", Mailbox=mailbox.name, PageSize=3)
    assert ids(first) == older[::-1][:3]
    # New mail arrives (newer than all), and the newest message seen is deleted: page numbers shift, the
    # cursor does not.
    newer = [mailbox.append(compose(f"new {i}"), minute=100 + i) for i in range(2)]
    page(server, "MessageDelete", MsgID=older[-1])
    second = page(server, "MessageList", Mailbox=mailbox.name, PageSize=3, Cursor=first["NextCursor"])
    assert ids(second) == older[::-1][3:6]
    # Its position counts the messages newer than it now: two new, two of the first page (one deleted).
    assert (second["Total"], second["Page"], second["Pages"]) == (8, 2, 3)
    last = page(server, "MessageList", Mailbox=mailbox.name, PageSize=3, Cursor=second["NextCursor"])
    assert (ids(last), last["NextCursor"]) == ([older[0]], "")
    assert ids(page(server, "MessageList", Mailbox=mailbox.name, PageSize=2)) == newer[::-1]


def test_a_page_of_1000_and_requests_out_of_bounds(server, mailbox):
    mailbox.append(compose())
    assert page(server, "MessageList", Mailbox=mailbox.name, PageSize=1000)["Total"] == 1
    for request, words in [
        ({"PageSize": 1001}, "PageSize"),
        ({"PageSize": -1}, "PageSize"),
        ({"Page": -1}, "Page"),
        ({"Page": 2, "Cursor": "WzEsMV0"}, "Cursor"),
        ({"Cursor": "not a cursor"}, "cursor"),
        ({"Cursor": "WyJ4IiwxXQ"}, "cursor"),
    ]:
        found = error(server, "MessageList", Mailbox=mailbox.name, **request)
        assert found["Code"] == "user" and words in found["Message"], found
    found = error(server, "MessageList", Mailbox="No such mailbox")
    assert found["Code"] == "user" and "mailbox not found" in found["Message"]
    # A page far past the end is empty, not an overflow.
    assert page(server, "MessageList", Mailbox=mailbox.name, Page=(1 << 63) - 1, PageSize=1000)["Messages"] == []


def test_mail_from_smtp_and_sends_sent_copy_are_listed(server):
    deliver_smtp(server, compose("over smtp", "delivered over SMTP", sender="smtp@example.org"))
    response = page(server, "Send", To=[{"Address": "nobody@example.org"}], Subject="sent copy", Text="kept in Sent",
                    SaveSent=True)
    inbox = server.wait_for(lambda: [m for m in page(server, "MessageList")["Messages"]
                                     if m["Subject"] == "over smtp"])
    assert inbox[0]["MailboxName"] == "Inbox" and inbox[0]["Preview"] == "delivered over SMTP"
    (sent,) = [m for m in page(server, "MessageList", Mailbox="Sent")["Messages"]
               if m["MessageID"] == response["MessageID"]]
    assert (sent["Preview"], sent["Flags"], sent["To"]) == \
        ("kept in Sent", ["\\seen"], [{"Name": "", "Address": "nobody@example.org"}])


def test_moved_message_keeps_its_summary(server, mailbox):
    msg_id = mailbox.append(compose("moving", "along"))
    page(server, "MessageMove", MsgID=msg_id, DestMailboxName="Archive")
    (moved,) = [m for m in page(server, "MessageList", Mailbox="Archive", PageSize=1000)["Messages"]
                if m["MsgID"] == msg_id]
    assert (moved["MailboxName"], moved["Preview"]) == ("Archive", "along")
    assert page(server, "MessageList", Mailbox=mailbox.name)["Total"] == 0


def test_text_is_cut_on_a_character_boundary(server, mailbox):
    text = "ab" + "☺" * 10  # each ☺ is 3 octets of UTF-8
    msg_id = mailbox.append(compose("cut", text, html=f"<p>{text}</p>"))
    full = len((text + "\n").encode())
    for max_bytes, expected in [(2, "ab"), (3, "ab"), (4, "ab"), (5, "ab☺"), (7, "ab☺"), (8, "ab☺☺")]:
        result = page(server, "MessageTextGet", MsgID=msg_id, MaxBytes=max_bytes)
        assert (result["Text"], result["TextTruncated"], result["TextSize"]) == (expected, True, full)
        assert len(result["HTML"].encode()) <= max_bytes and result["HTMLTruncated"]
    whole = page(server, "MessageTextGet", MsgID=msg_id, MaxBytes=full)
    assert (whole["Text"], whole["TextTruncated"]) == (text + "\n", False)
    assert error(server, "MessageTextGet", MsgID=msg_id, MaxBytes=-1)["Code"] == "user"
    assert error(server, "MessageTextGet", MsgID=999999)["Code"] == "messageNotFound"


def test_ten_megabyte_message_comes_back_cut_at_one_mebibyte(server):
    line = "Automated report line with a euro sign € to make it multi-byte.\n"
    text = line * (10 * 1024 * 1024 // len(line.encode()) + 1)
    deliver_smtp(server, compose("huge report", text))
    (summary,) = server.wait_for(lambda: [m for m in page(server, "MessageList")["Messages"]
                                          if m["Subject"] == "huge report"], timeout=60)
    assert summary["Size"] > 10 * 1024 * 1024
    assert summary["TextSize"] == len(text.encode())
    assert summary["Preview"] == " ".join(line.split() * 4)[:200]
    result = page(server, "MessageTextGet", MsgID=summary["MsgID"])
    assert result["TextTruncated"] and result["TextSize"] == len(text.encode())
    cut = result["Text"].encode()
    assert 1024 * 1024 - 3 <= len(cut) <= 1024 * 1024
    assert text.encode().startswith(cut)


@pytest.mark.sqlite_only  # makes a SQLite index of an older version
def test_an_index_of_an_older_version_is_filled_when_the_server_opens_it(new_server):
    srv = new_server().start()
    deliver_smtp(srv, compose("from before", "written by an older version", sender="old@example.org"))
    srv.wait_for(lambda: [m for m in srv.messages() if m["subject"] == "from before"])
    srv.stop()
    # The index as the version before summaries left it.
    index = os.path.join(srv.config.data_dir(), "accounts", "mox", "index.db")
    conn = sqlite3.connect(index)
    conn.execute("drop trigger messages_text_delete")
    conn.execute("drop table message_text")
    storehelp.as_before_versions(conn)
    for column in ("addr_from", "addr_to", "addr_cc", "in_reply_to", "preview", "has_attachments", "text_size",
                   "html_size"):
        conn.execute(f"alter table messages drop column {column}")
    conn.commit()
    conn.close()
    srv.start()
    (summary,) = [m for m in page(srv, "MessageList")["Messages"] if m["Subject"] == "from before"]
    assert summary["Preview"] == "written by an older version"
    assert summary["From"] == [{"Name": "", "Address": "old@example.org"}]
    found = page(srv, "MessageSearch", Body="older version")
    assert ids(found) == [summary["MsgID"]]
    assert summary["To"] == [{"Name": "", "Address": ADDRESS}]
