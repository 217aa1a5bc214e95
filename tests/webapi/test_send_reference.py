"""Send with a Reference: reply, reply to all and forward a message that
arrived over SMTP, then read what the recipients got from the Inbox over
IMAP (localserve delivers every outgoing message back to the account):
its threading headers, subject and recipients, the forwarded message as an
attachment, and the flags the original got."""

import email
import email.policy
import smtplib
import time

import pytest

from moxpy.webapi import Client, WebapiError
from moxpy.webapi import types as t
from moxpy.webhooks.types import NameAddress

from ..imapclient import login
from ..localserve import ADDRESS, PASSWORD


@pytest.fixture(scope="module")
def client(server):
    with Client(server.base_url, ADDRESS, PASSWORD) as c:
        yield c


@pytest.fixture
def imap(server):
    session = login(server)
    session.select("INBOX")
    yield session
    session.logout()


ORIGINAL = (
    "From: Alice <alice@example.org>\r\n"
    "To: mox@localhost, Bob <bob@example.org>\r\n"
    "Cc: Carol <carol@example.org>, alice@example.org, \"Mox Too\" <MOX+tag@localhost>\r\n"
    "Subject: Re: Fwd: Plans for {n}\r\n"
    "Message-ID: <orig{n}@example.org>\r\n"
    "References: <root@example.org>\r\n <mid@example.org>\r\n"
    "In-Reply-To: <mid@example.org>\r\n"
    "{extra}"
    "\r\n"
    "Shall we meet on day {n}?\r\n"
)

_count = 0


def deliver_original(server, imap, extra: str = "") -> tuple[int, int, bytes]:
    """An original message delivered over SMTP: (its MsgID, its UID in the Inbox, its bytes)."""
    global _count
    _count += 1
    data = ORIGINAL.format(n=_count, extra=extra).encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
        s.sendmail("alice@example.org", [ADDRESS], data)
    message_id = f"<orig{_count}@example.org>"
    [row] = server.wait_for(lambda: [r for r in server.messages() if r["message_id"] == message_id])
    return row["id"], row["uid"], data


def received(imap, message_id: str, copies: int = 1) -> email.message.EmailMessage:
    """The message with this Message-ID in the selected mailbox, once all copies (one per recipient)
    arrived; its bytes as IMAP served them are in .raw."""
    deadline = time.monotonic() + 15
    while True:
        imap.noop()
        typ, [uids] = imap.uid("SEARCH", "HEADER", "Message-ID", message_id)
        assert typ == "OK"
        if len(uids.split()) >= copies or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(uids.split()) == copies, (message_id, uids)
    typ, data = imap.uid("FETCH", uids.split()[0].decode(), "(BODY.PEEK[])")
    assert typ == "OK"
    [raw] = [item[1] for item in data if isinstance(item, tuple)]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    msg.raw = raw
    return msg


def flags(imap, uid: int) -> bytes:
    imap.noop()
    typ, data = imap.uid("FETCH", str(uid), "(FLAGS)")
    assert typ == "OK"
    [found] = [item for item in data if b"UID %d " % uid in item]
    return found


def addresses(msg, header: str) -> list[str]:
    return [a.addr_spec for a in msg[header].addresses] if msg[header] else []


def reference(msg_id: int, action: str) -> t.Reference:
    return t.Reference(MsgID=msg_id, Action=action)


def test_reply_threads_and_goes_to_the_sender(server, client, imap):
    msg_id, uid, _ = deliver_original(server, imap)
    assert b"\\Answered" not in flags(imap, uid)
    result = client.Send(t.SendRequest(Text="Day one works.", Reference=reference(msg_id, "reply")))
    assert [s.Address for s in result.Submissions] == ["alice@example.org"]

    reply = received(imap, result.MessageID)
    assert addresses(reply, "To") == ["alice@example.org"]
    assert reply["To"].addresses[0].display_name == "Alice"
    assert reply["Cc"] is None
    # One "Re: ", whatever prefixes the original had.
    assert reply["Subject"] == "Re: Plans for 1"
    # RFC 5322 3.6.4: In-Reply-To is the original's Message-ID, References the original's and it.
    assert reply["In-Reply-To"] == "<orig1@example.org>"
    assert reply["References"].split() == ["<root@example.org>", "<mid@example.org>", "<orig1@example.org>"]
    assert reply.get_content().strip() == "Day one works."
    assert b"\\Answered" in flags(imap, uid)
    assert b"$Forwarded" not in flags(imap, uid)


def test_reply_goes_to_reply_to_and_keeps_a_given_subject(server, client, imap):
    msg_id, uid, _ = deliver_original(server, imap, extra="Reply-To: The List <list@example.org>\r\n")
    result = client.Send(t.SendRequest(Subject="About those plans", Text="ok",
                                       Reference=reference(msg_id, "reply")))
    assert [s.Address for s in result.Submissions] == ["list@example.org"]
    reply = received(imap, result.MessageID)
    assert addresses(reply, "To") == ["list@example.org"]
    assert reply["Subject"] == "About those plans"
    assert reply["In-Reply-To"] == f"<orig{_count}@example.org>"

    # Recipients given in the request are used instead.
    result = client.Send(t.SendRequest(To=[NameAddress(Address="dave@example.org")], Text="fyi",
                                       Reference=reference(msg_id, "reply")))
    assert [s.Address for s in result.Submissions] == ["dave@example.org"]
    reply = received(imap, result.MessageID)
    assert reply["Subject"] == f"Re: Plans for {_count}"
    assert reply["In-Reply-To"] == f"<orig{_count}@example.org>"


def test_reply_all_copies_everyone_but_ourselves_once(server, client, imap):
    msg_id, uid, _ = deliver_original(server, imap)
    result = client.Send(t.SendRequest(Text="all of you", SaveSent=True, Reference=reference(msg_id, "replyAll")))
    # mox@localhost and MOX+tag@localhost are the account's own; alice is in To already.
    assert [s.Address for s in result.Submissions] == ["alice@example.org", "bob@example.org", "carol@example.org"]
    reply = received(imap, result.MessageID, copies=3)
    assert addresses(reply, "To") == ["alice@example.org"]
    assert addresses(reply, "Cc") == ["bob@example.org", "carol@example.org"]
    assert reply["Subject"] == f"Re: Plans for {_count}"
    assert b"\\Answered" in flags(imap, uid)

    # The Sent copy is saved as before, with the same threading.
    imap.select("Sent")
    sent = received(imap, result.MessageID)
    assert sent["In-Reply-To"] == f"<orig{_count}@example.org>"


def test_forward_attaches_the_original_and_flags_it_forwarded(server, client, imap):
    msg_id, uid, data = deliver_original(server, imap)
    stored = server.message_file([r for r in server.messages() if r["id"] == msg_id][0])
    result = client.Send(t.SendRequest(To=[NameAddress("Dave", "dave@example.org")], Text="See below.",
                                       Reference=reference(msg_id, "forward")))
    assert [s.Address for s in result.Submissions] == ["dave@example.org"]

    forward = received(imap, result.MessageID)
    assert addresses(forward, "To") == ["dave@example.org"]
    assert forward["Subject"] == f"Fwd: Plans for {_count}"
    assert forward.get_content_type() == "multipart/mixed"
    text, attached = forward.iter_parts()
    assert text.get_content().strip() == "See below."
    assert attached.get_content_type() == "message/rfc822"
    assert attached.get_content_disposition() == "attachment"
    assert attached.get_filename() == f"Re Fwd Plans for {_count}.eml"
    # The whole original as stored (our Received header included), not re-encoded.
    assert attached["Content-Transfer-Encoding"] == "7bit"
    inner = attached.get_content()
    assert inner["Message-ID"] == f"<orig{_count}@example.org>"
    assert stored.endswith(data) and len(stored) > len(data)  # with the Received header we added
    assert b"\r\n\r\n" + stored + b"\r\n--" in forward.raw
    # The lines the composer wrote stay short (RFC 5322 2.1.1).
    head = forward.raw.split(stored)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78

    found = flags(imap, uid)
    assert b"$Forwarded" in found and b"\\Answered" not in found

    # A forward needs no text of its own, but recipients.
    result = client.Send(t.SendRequest(To=[NameAddress(Address="erin@example.org")],
                                       Reference=reference(msg_id, "forward")))
    forward = received(imap, result.MessageID)
    [attached] = forward.iter_parts()
    assert attached.get_content_type() == "message/rfc822"
    with pytest.raises(WebapiError) as info:
        client.Send(t.SendRequest(Text="to nobody", Reference=reference(msg_id, "forward")))
    assert info.value.code == "noRecipients"


def inbox_count(server) -> int:
    return sum(r["mailbox"] == "Inbox" for r in server.messages())


def test_bad_references_fail_and_send_nothing(server, client, imap):
    msg_id, uid, _ = deliver_original(server, imap)
    before = inbox_count(server)
    for ref, code in ((reference(999999, "reply"), "messageNotFound"),
                      (reference(999999, "forward"), "messageNotFound"),
                      (reference(msg_id, "answer"), "user"),
                      (reference(msg_id, ""), "user"),
                      (reference(0, "reply"), "messageNotFound")):
        with pytest.raises(WebapiError) as info:
            client.Send(t.SendRequest(To=[NameAddress(Address="dave@example.org")], Text="x", Reference=ref))
        assert info.value.code == code, (ref, info.value.message)
    # Without a Reference (its zero value), Send is as before.
    marker = client.Send(t.SendRequest(To=[NameAddress(Address=ADDRESS)], Text="marker", Reference=t.Reference()))
    received(imap, marker.MessageID)
    assert inbox_count(server) == before + 1
    assert b"\\Answered" not in flags(imap, uid) and b"$Forwarded" not in flags(imap, uid)


def test_another_accounts_message_cannot_be_referenced(new_server):
    from moxpy import auth
    from moxpy.config import Account, Destination

    def configure(config):
        config.Accounts["other"] = Account(Domain="localhost", PasswordHash=auth.hash_password("otherother"),
                                           Destinations={"other@localhost": Destination()})

    srv = new_server(configure).start()
    with smtplib.SMTP("127.0.0.1", srv.smtp_port) as s:
        s.sendmail("alice@example.org", ["other@localhost"], b"Subject: for other\r\nMessage-ID: <o@x>\r\n\r\nhi\r\n")
    with Client(srv.base_url, "other@localhost", "otherother") as other:
        def arrived():
            try:
                return other.MessageGet(t.MessageGetRequest(MsgID=1)).Meta.MailboxName == "Inbox"
            except WebapiError:
                return False

        srv.wait_for(arrived)
        msg_id = 1
        with Client(srv.base_url, ADDRESS, PASSWORD) as mox:
            for action in ("reply", "replyAll", "forward"):
                with pytest.raises(WebapiError) as info:
                    mox.Send(t.SendRequest(To=[NameAddress(Address="dave@example.org")], Text="x",
                                           Reference=reference(msg_id, action)))
                assert info.value.code == "messageNotFound"
        assert other.MessageGet(t.MessageGetRequest(MsgID=msg_id)).Meta.Flags == []
