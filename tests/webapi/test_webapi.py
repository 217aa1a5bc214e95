"""The webapi over real HTTP: every method, every error code, composition
round trips, Go-like decoding, the HTML pages and the Python client."""

import base64
import email
import email.policy
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from moxpy.webapi import AuthError, Client, Upload, WebapiError
from moxpy.webapi import types as t
from moxpy.webapi.types import METHODS
from moxpy.webhooks.types import NameAddress

from ..localserve import ADDRESS, PASSWORD, LocalServer

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    def configure(config):
        config.MaxMessageSize = 1_500_000

    srv = LocalServer(str(tmp_path_factory.mktemp("webapi")), configure).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with Client(server.base_url, ADDRESS, PASSWORD) as c:
        yield c


def delivered(server, message_id, mailbox="Inbox"):
    """The stored copy of a sent message once the queue has delivered it."""
    rows = server.wait_for(lambda: [r for r in server.messages()
                                    if r["message_id"] == message_id and r["mailbox"] == mailbox])
    return rows[0]


def send(client, **fields):
    fields.setdefault("To", [NameAddress(Address=ADDRESS)])
    return client.Send(t.SendRequest(**fields))


def expect_error(code, fn, *args, **kwargs):
    with pytest.raises(WebapiError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value.message
    assert info.value.message
    return info.value


# Sending and composing.


def test_send_with_every_kind_of_file_round_trips(server, client):
    html = '<p>hi <img src="cid:logo@example"></p>'
    result = client.Send(
        t.SendRequest(
            To=[NameAddress("Mox", ADDRESS)],
            Subject="files",
            Text="see the attachments ☺",
            HTML=html,
            AlternativeFiles=[t.File(Name="calendar.ics", ContentType="text/calendar",
                                     Data=base64.b64encode(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").decode())],
            InlineFiles=[t.File(Name="logo.png", ContentID="<logo@example>", Data=base64.b64encode(PNG).decode())],
            AttachedFiles=[t.File(Name="notes.txt", Data=base64.b64encode(b"plain notes\n").decode())],
        ),
        uploads=[
            Upload("attachedfile", "report.pdf", b"%PDF-1.4 fake pdf", content_type="application/pdf"),
            Upload("inlinefile", "photo.png", PNG, content_type="image/png", content_id="<photo@example>"),
            Upload("attachedfile", "unknown.bin", b"\x00\x01\x02binary"),
        ],
    )
    row = delivered(server, result.MessageID)
    got = client.MessageGet(t.MessageGetRequest(MsgID=row["id"]))
    assert got.Message.Text == "see the attachments ☺\n"
    assert got.Message.HTML == html + "\n"

    s = got.Structure
    assert s.ContentType == "multipart/mixed"
    related, notes, report, unknown = s.Parts
    assert related.ContentType == "multipart/related"
    alternative, logo, photo = related.Parts
    assert alternative.ContentType == "multipart/alternative"
    assert [p.ContentType for p in alternative.Parts] == ["text/plain", "text/html", "text/calendar"]
    assert (logo.ContentType, logo.ContentID, logo.Filename, logo.ContentDisposition) == (
        "image/png", "<logo@example>", "logo.png", "inline")
    assert (photo.ContentType, photo.ContentID, photo.Filename) == ("image/png", "<photo@example>", "photo.png")
    assert (notes.ContentType, notes.Filename, notes.ContentDisposition) == ("text/plain", "notes.txt", "attachment")
    assert (report.ContentType, report.Filename) == ("application/pdf", "report.pdf")
    # No content type given with the upload: detected from the data.
    assert unknown.ContentType == "application/octet-stream"
    assert logo.DecodedSize == len(PNG)

    part = lambda *path: client.MessagePartGet(t.MessagePartGetRequest(MsgID=row["id"], PartPath=list(path)))
    assert part(0, 1) == (PNG, "image/png")
    assert part(0, 2)[0] == PNG
    assert part(2) == (b"%PDF-1.4 fake pdf", "application/pdf")
    assert part(3)[0] == b"\x00\x01\x02binary"
    # As mox serves text parts: decoded, with CRLF line ends.
    assert part(1)[0] == b"plain notes\r\n"
    assert part(0, 0, 2)[0] == b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    text, ctype = part(0, 0, 0)
    assert text.decode() == "see the attachments ☺\r\n"
    assert ctype == "text/plain; charset=utf-8"
    # [] is the whole body of the message.
    body, ctype = part()
    assert ctype.startswith('multipart/mixed; boundary="') and b"Content-Type: multipart/related" in body

    # Every line on the wire stays short (RFC 5322 2.1.1), our Received header aside.
    raw = client.MessageRawGet(t.MessageRawGetRequest(MsgID=row["id"]))
    sent_part = raw.split(b"\r\nFrom: ", 1)[1]
    assert max(len(line) for line in sent_part.split(b"\r\n")) <= 78


def test_send_headers_references_date_and_user_agent(server, client):
    when = datetime(2024, 4, 4, 12, 0, 0, tzinfo=timezone.utc)
    result = send(client, Subject="re: thread", Text="reply", References=["<a@example>", "<b@example>"], Date=when,
                  ReplyTo=[NameAddress("Desk", "desk@localhost")], CC=[NameAddress("", "cc@example.com")],
                  Headers=[("List-Id", "<list.example>"), ("X-Custom", "yes")], MessageID="<given@example>")
    assert result.MessageID == "<given@example>"
    assert [s.Address for s in result.Submissions] == [ADDRESS, "cc@example.com"]
    row = delivered(server, "<given@example>")
    raw = client.MessageRawGet(t.MessageRawGetRequest(MsgID=row["id"]))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["In-Reply-To"] == "<b@example>"
    assert msg["References"] == "<a@example> <b@example>"
    assert msg["List-Id"] == "<list.example>" and msg["X-Custom"] == "yes"
    assert msg["User-Agent"]
    assert msg["Date"].datetime == when
    got = client.MessageGet(t.MessageGetRequest(MsgID=row["id"]))
    assert got.Message.References == ["<a@example>", "<b@example>"]
    assert got.Message.ReplyTo == [NameAddress("Desk", "desk@localhost")]
    assert got.Message.CC == [NameAddress("", "cc@example.com")]
    assert got.Message.Date == when

    result = send(client, Text="x", Headers=[("X-Mailer", "my app")])
    raw = client.MessageRawGet(t.MessageRawGetRequest(MsgID=delivered(server, result.MessageID)["id"]))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["X-Mailer"] == "my app" and msg["User-Agent"] is None


def test_bcc_gets_mail_without_header_and_sent_copy_has_it(server, client):
    result = send(client, Subject="bcc", Text="secret", BCC=[NameAddress("", "hidden@example.net")], SaveSent=True)
    assert [s.Address for s in result.Submissions] == [ADDRESS, "hidden@example.net"]
    rows = server.wait_for(lambda: [r for r in server.messages() if r["message_id"] == result.MessageID
                                    and r["mailbox"] == "Inbox" and r["rcpt_to"] == "hidden@example.net"])
    raw = server.message_file(rows[0])
    assert b"hidden@example.net" not in raw.split(b"\r\nFrom: ", 1)[1].split(b"\r\n\r\n")[0]
    sent = delivered(server, result.MessageID, mailbox="Sent")
    sent_raw = server.message_file(sent)
    assert sent_raw.startswith(b"Bcc: hidden@example.net\r\n")
    got = client.MessageGet(t.MessageGetRequest(MsgID=sent["id"]))
    assert got.Meta.MailboxName == "Sent"
    assert got.Meta.Flags == ["\\seen"]
    assert got.Message.BCC == [NameAddress("", "hidden@example.net")]


def test_international_addresses_use_smtputf8(server, client):
    result = send(client, To=[NameAddress("Jürgen", "jürgen@bücher.example")], Subject="grüße", Text="hallo")
    row = delivered(server, result.MessageID)
    assert row["rcpt_to"] == "jürgen@bücher.example"
    got = client.MessageGet(t.MessageGetRequest(MsgID=row["id"]))
    assert got.Message.To == [NameAddress("Jürgen", "jürgen@bücher.example")]
    assert got.Message.Subject == "grüße"
    # Only the domain is international: IDNA in headers, no SMTPUTF8 needed.
    result = send(client, To=[NameAddress("", "info@bücher.example")], Text="x")
    raw = server.message_file(delivered(server, result.MessageID))
    assert b"To: info@xn--bcher-kva.example\r\n" in raw


def test_from_defaults_to_login_with_full_name_and_may_use_own_address(server, client):
    result = send(client, Text="x", From=[NameAddress("Support", "mox+support@localhost")])
    got = client.MessageGet(t.MessageGetRequest(MsgID=delivered(server, result.MessageID)["id"]))
    assert got.Message.From == [NameAddress("Support", "mox+support@localhost")]


def test_future_release_holds_delivery(server, client):
    when = datetime.now(timezone.utc) + timedelta(days=30)
    result = send(client, Text="later", FutureRelease=when)
    assert result.Submissions[0].QueueMsgID > 0
    expect_error("user", send, client, Text="too late", FutureRelease=datetime.now(timezone.utc) + timedelta(days=61))


@pytest.mark.parametrize("fields,code", [
    ({"Text": "", "HTML": ""}, "missingBody"),
    ({"From": [NameAddress("", ADDRESS), NameAddress("", "mox+2@localhost")]}, "multipleFrom"),
    ({"From": [NameAddress("", "someone@example.com")]}, "badFrom"),
    ({"To": []}, "noRecipients"),
    ({"MessageID": "no-brackets@example"}, "malformedMessageID"),
    ({"To": [NameAddress("", "not an address")]}, "badAddress"),
    ({"To": [NameAddress("", "a@-bad-.example")]}, "badAddress"),
    ({"Subject": "line\r\nInjected: header"}, "user"),
    ({"To": [NameAddress("Evil\nName", ADDRESS)]}, "user"),
    ({"Headers": [("Bad Name", "x")]}, "user"),
    ({"Headers": [("X-Ok", "bell\x07")]}, "user"),
    ({"AttachedFiles": [t.File(Name="x", Data="not base64!")]}, "user"),
])
def test_send_errors(server, client, fields, code):
    fields = {"Text": "body", **fields}
    before = len(server.messages())
    expect_error(code, send, client, **fields)
    assert len(server.messages()) == before


def test_message_too_large(server, client):
    expect_error("messageTooLarge", send, client, Text="x" * 1_600_000)
    # A body far over the HTTP limit is refused without being kept.
    big = t.File(Name="big.bin", Data=base64.b64encode(b"\0" * 1_600_000).decode())
    expect_error("messageTooLarge", send, client, Text="x", AttachedFiles=[big])


def test_daily_limits(tmp_path):
    def configure(config):
        config.Accounts["mox"].MaxOutgoingMessagesPerDay = 6
        config.Accounts["mox"].MaxFirstTimeRecipientsPerDay = 3

    srv = LocalServer(str(tmp_path / "limits"), configure).start()
    try:
        with Client(srv.base_url, ADDRESS, PASSWORD) as c:
            for i in range(3):
                send(c, To=[NameAddress("", f"new{i}@example.com")], Text="x")
            # A fourth first-time recipient is over the limit; a known one is not.
            expect_error("recipientLimitReached", send, c, To=[NameAddress("", "new3@example.com")], Text="x")
            send(c, To=[NameAddress("", "new0@example.com")], Text="x")
            send(c, To=[NameAddress("", "new1@example.com")], Text="x")
            send(c, To=[NameAddress("", "new2@example.com")], Text="x")
            expect_error("messageLimitReached", send, c, To=[NameAddress("", "new0@example.com")], Text="x")
    finally:
        srv.stop()


# Reading and changing messages.


def test_flags_move_and_delete(server, client):
    result = send(client, Text="flag me")
    msg_id = delivered(server, result.MessageID)["id"]
    get = lambda: client.MessageGet(t.MessageGetRequest(MsgID=msg_id))
    client.MessageFlagsAdd(t.MessageFlagsAddRequest(MsgID=msg_id, Flags=["\\Seen", "$Forwarded", "Custom", "\\FLAGGED"]))
    assert get().Meta.Flags == ["$forwarded", "\\flagged", "\\seen", "custom"]
    client.MessageFlagsRemove(t.MessageFlagsRemoveRequest(MsgID=msg_id, Flags=["\\seen", "CUSTOM"]))
    assert get().Meta.Flags == ["$forwarded", "\\flagged"]
    expect_error("user", client.MessageFlagsAdd, t.MessageFlagsAddRequest(MsgID=msg_id, Flags=["\\Bogus"]))
    expect_error("messageNotFound", client.MessageFlagsAdd, t.MessageFlagsAddRequest(MsgID=999999, Flags=["\\Seen"]))

    client.MessageMove(t.MessageMoveRequest(MsgID=msg_id, DestMailboxName="Archive"))
    assert get().Meta.MailboxName == "Archive"
    client.MessageMove(t.MessageMoveRequest(MsgID=msg_id, DestMailboxName="inbox"))
    assert get().Meta.MailboxName == "Inbox"
    expect_error("user", client.MessageMove, t.MessageMoveRequest(MsgID=msg_id, DestMailboxName="Nope"))

    client.MessageDelete(t.MessageDeleteRequest(MsgID=msg_id))
    expect_error("messageNotFound", get)
    expect_error("messageNotFound", client.MessageDelete, t.MessageDeleteRequest(MsgID=msg_id))
    expect_error("messageNotFound", client.MessageMove, t.MessageMoveRequest(MsgID=msg_id, DestMailboxName="Archive"))


def test_move_to_the_mailbox_the_message_is_in_fails_as_in_mox(server, client):
    result = send(client, Text="stay")
    row = delivered(server, result.MessageID)
    for name in ("Inbox", "INBOX"):
        err = expect_error("user", client.MessageMove, t.MessageMoveRequest(MsgID=row["id"], DestMailboxName=name))
        assert err.message == f"moving message: message {row['id']} already in destination mailbox"
    [after] = [r for r in server.messages() if r["id"] == row["id"]]
    assert (after["mailbox"], after["uid"], after["modseq"]) == ("Inbox", row["uid"], row["modseq"])
    err = expect_error("user", client.MessageMove, t.MessageMoveRequest(MsgID=row["id"], DestMailboxName="Nope"))
    assert err.message == "looking up mailbox name: not found"
    # The mailbox is looked up first, as mox does.
    expect_error("user", client.MessageMove, t.MessageMoveRequest(MsgID=999999, DestMailboxName="Nope"))
    expect_error("messageNotFound", client.MessageMove, t.MessageMoveRequest(MsgID=999999, DestMailboxName="Inbox"))


def test_part_not_found(server, client):
    result = send(client, Text="single part")
    msg_id = delivered(server, result.MessageID)["id"]
    expect_error("partNotFound", client.MessagePartGet, t.MessagePartGetRequest(MsgID=msg_id, PartPath=[0]))
    expect_error("partNotFound", client.MessagePartGet, t.MessagePartGetRequest(MsgID=msg_id, PartPath=[-1]))
    expect_error("messageNotFound", client.MessagePartGet, t.MessagePartGetRequest(MsgID=999999))
    assert client.MessagePartGet(t.MessagePartGetRequest(MsgID=msg_id))[0] == b"single part\r\n"


def test_text_and_html_are_cut_at_one_mebibyte(server):
    import smtplib

    big = ("0123456789abcdef" * 4 + "\r\n") * 20000  # 1.3 MB of text
    data = ("Subject: big\r\nMessage-ID: <big@example>\r\nContent-Type: text/plain\r\n\r\n" + big).encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as s:
        s.sendmail("a@example.org", [ADDRESS], data)
    row = delivered(server, "<big@example>")
    got = server.call("MessageGet", {"MsgID": row["id"]}).json()
    assert len(got["Message"]["Text"].encode()) <= 1024 * 1024
    assert got["Message"]["Text"].startswith("0123456789abcdef")
    assert got["Structure"]["DecodedSize"] == len(big)


# Suppressions.


def test_suppression_list_lifecycle(client):
    present = lambda a: client.SuppressionPresent(t.SuppressionPresentRequest(EmailAddress=a)).Present
    assert not present("John.Doe@example.com")
    client.SuppressionAdd(t.SuppressionAddRequest(EmailAddress="John.Doe+news@Example.com", Manual=True, Reason="bounced"))
    # Matched on the base address: lower case, cut at + or -, dots removed.
    assert present("johndoe@example.com") and present("john.doe-x@example.com")
    [sup] = client.SuppressionList().Suppressions
    assert (sup.Account, sup.BaseAddress, sup.OriginalAddress, sup.Manual, sup.Reason) == (
        "mox", "johndoe@example.com", "John.Doe+news@example.com", True, "bounced")
    assert sup.ID > 0 and sup.Created.tzinfo is not None
    # A base address already present, or absent on removal: mox's codes and messages.
    err = expect_error("error", client.SuppressionAdd, t.SuppressionAddRequest(EmailAddress="johndoe@example.com"))
    assert err.message == 'not unique: "Account+BaseAddress"'
    assert len(client.SuppressionList().Suppressions) == 1
    client.SuppressionRemove(t.SuppressionRemoveRequest(EmailAddress="JohnDoe@example.com"))
    assert not present("johndoe@example.com")
    assert client.SuppressionList().Suppressions == []
    err = expect_error("error", client.SuppressionRemove, t.SuppressionRemoveRequest(EmailAddress="johndoe@example.com"))
    assert err.message == "absent"
    expect_error("badAddress", client.SuppressionPresent, t.SuppressionPresentRequest(EmailAddress="nope"))


# The calling convention.


def post(server, method, data=None, auth=(ADDRESS, PASSWORD), **kwargs):
    return httpx.post(server.base_url + method, data=data, auth=auth, timeout=30, **kwargs)


def test_go_like_decoding(server):
    # null and missing fields take their zero values: MsgID 0 does not exist.
    resp = post(server, "MessageGet", {"request": '{"MsgID": null}'})
    assert resp.status_code == 400 and resp.json()["Code"] == "messageNotFound"
    resp = post(server, "SuppressionList", {"request": "{}"})
    assert resp.status_code == 200 and resp.json() == {"Suppressions": []}
    resp = post(server, "Send", {"request": json.dumps({"To": [{"Address": ADDRESS}], "Text": "x", "Subject": None,
                                                        "CC": None, "RequireTLS": None})})
    assert resp.status_code == 200, resp.text
    for bad in ('{"MsgID": "1"}', '{"MsgID": 1.5}', '"text"', "{"):
        resp = post(server, "MessageGet", {"request": bad})
        assert resp.status_code == 400 and resp.json()["Code"] == "protocol", bad


def test_form_encodings_and_content_types(server):
    body = {"request": '{"MsgID": 999999}'}
    assert post(server, "MessageGet", body).json()["Code"] == "messageNotFound"
    resp = post(server, "MessageGet", files={"request": (None, '{"MsgID": 999999}')})
    assert resp.json()["Code"] == "messageNotFound"
    resp = post(server, "MessageGet", content=b'{"MsgID": 1}', headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["Code"] == "protocol"
    resp = post(server, "MessageGet", {"other": "x"})
    assert resp.status_code == 400 and resp.json() == {"Code": "protocol", "Message": "missing/empty request"}
    resp = post(server, "MessageGet", {"request": ""})
    assert resp.json()["Code"] == "protocol"


def test_responses_are_complete_json(server):
    resp = post(server, "SuppressionPresent", {"request": '{"EmailAddress": "x@example.com"}'})
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == {"Present": False}
    resp = post(server, "MessageDelete", {"request": '{"MsgID": 999999}'})
    assert resp.headers["Content-Type"].startswith("application/json")


def test_failed_logins_are_rate_limited_per_ip(tmp_path):
    srv = LocalServer(str(tmp_path / "ratelimit")).start()
    try:
        codes = [post(srv, "SuppressionList", {"request": "{}"}, auth=(ADDRESS, "wrong")).status_code
                 for _ in range(12)]
        assert codes[:10] == [401] * 10
        assert codes[10:] == [429, 429]
        # Refused before the password is checked, even a correct one.
        assert post(srv, "SuppressionList", {"request": "{}"}).status_code == 429
        with Client(srv.base_url, ADDRESS, PASSWORD) as c, pytest.raises(AuthError) as info:
            c.SuppressionList()
        assert info.value.status == 429
    finally:
        srv.stop()


def test_client_raises_auth_error(server):
    with Client(server.base_url, ADDRESS, "wrong") as c, pytest.raises(AuthError) as info:
        c.SuppressionList()
    assert info.value.status == 401


# HTML pages.


def test_index_lists_every_method(server):
    resp = httpx.get(server.base_url)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    for name in METHODS:
        assert f'href="/webapi/v0/{name}"' in resp.text
    assert httpx.get(server.base_url.removesuffix("v0/")).status_code in (301, 302, 303)


@pytest.mark.parametrize("name", list(METHODS))
def test_method_page_has_example_request_and_form(server, name):
    resp = httpx.get(server.base_url + name)
    assert resp.status_code == 200
    assert '<textarea id="request" name="request"' in resp.text
    assert "<button" in resp.text and "Call" in resp.text
    start = resp.text.index('name="request"')
    textarea = resp.text[resp.text.index(">", start) + 1:resp.text.index("</textarea>", start)]
    import html as htmllib

    example = json.loads(htmllib.unescape(textarea))
    # Every field of the request type is present in the example.
    assert set(example) == set(METHODS[name].request.__struct_fields__)


def test_unknown_page_is_404(server):
    assert httpx.get(server.base_url + "Nope").status_code == 404
    assert httpx.get(f"http://127.0.0.1:{server.ports['WebAPIHTTP']}/other").status_code == 404


def test_webapi_over_https_with_the_generated_certificate(server):
    import ssl

    context = ssl.create_default_context(cafile=server.config.resolve(server.config.Listeners["local"].TLS.CertFile))
    url = f"https://localhost:{server.ports['WebAPIHTTPS']}/webapi/v0/"
    with httpx.Client(verify=context, auth=(ADDRESS, PASSWORD)) as c:
        assert c.get(url).status_code == 200
        resp = c.post(url + "SuppressionList", data={"request": "{}"})
        assert resp.status_code == 200 and resp.json() == {"Suppressions": []}
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)  # not trusted without the certificate


def test_require_tls_false_adds_tls_required_no(server, client):
    result = send(client, Text="x", RequireTLS=False)
    raw = server.message_file(delivered(server, result.MessageID))
    assert b"\r\nTLS-Required: No\r\n" in raw
    result = send(client, Text="x", RequireTLS=None)
    assert b"TLS-Required" not in server.message_file(delivered(server, result.MessageID))


def test_sent_mail_is_dkim_signed_and_verifies_on_delivery(server, client):
    result = send(client, Subject="signed", Text="x")
    row = delivered(server, result.MessageID)
    raw = server.message_file(row)
    assert b"\r\nDKIM-Signature: " in raw or raw.startswith(b"DKIM-Signature: ")
    got = client.MessageGet(t.MessageGetRequest(MsgID=row["id"]))
    # localserve answers its own DKIM key lookups, so our signature verifies when we deliver to ourselves.
    assert got.Meta.DKIMVerifiedDomains == ["localhost"]
    assert got.Meta.MsgFromValidated


def test_daily_limits_apply_to_smtp_submission_too(tmp_path):
    import smtplib

    def configure(config):
        config.Accounts["mox"].MaxOutgoingMessagesPerDay = 2

    srv = LocalServer(str(tmp_path / "smtplimits"), configure).start()
    try:
        with Client(srv.base_url, ADDRESS, PASSWORD) as c:
            send(c, To=[NameAddress("", "a@example.com")], Text="x")
        message = b"From: mox@localhost\r\nTo: b@example.com\r\nSubject: limit\r\n\r\nx\r\n"
        with smtplib.SMTP("127.0.0.1", srv.ports["Submission"], timeout=10) as s:
            s.login(ADDRESS, PASSWORD)
            assert s.sendmail(ADDRESS, ["b@example.com"], message) == {}
            with pytest.raises(smtplib.SMTPDataError) as info:
                s.sendmail(ADDRESS, ["c@example.com"], message)
            assert info.value.smtp_code == 451 and b"MaxOutgoingMessagesPerDay" in info.value.smtp_error
            assert info.value.smtp_error.startswith(b"4.7.1 max number of messages (2) over the past 24h reached")
    finally:
        srv.stop()


def test_logins_are_cached_so_busy_clients_pay_one_password_hash(tmp_path):
    import concurrent.futures

    def configure(config):
        config.LogLevel = "debug"

    srv = LocalServer(str(tmp_path / "cache"), configure).start()
    try:
        def call(_):
            return post(srv, "SuppressionList", {"request": "{}"}).status_code

        # Eight connections at once, then a hundred calls: one argon2 verification in all, or one in each
        # process when the server runs two (both serve webapi connections; each keeps its own cache).
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(call, range(8))) == [200] * 8
        assert [call(i) for i in range(100)] == [200] * 100
        checks = [line for line in srv.output if "password hash checked" in line]
        assert 1 <= len(checks) <= 2 and all("ok=True" in line for line in checks), checks
        # A wrong password is always checked.
        assert post(srv, "SuppressionList", {"request": "{}"}, auth=(ADDRESS, "wrong")).status_code == 401
        srv.wait_for(lambda: len([line for line in srv.output if "password hash checked" in line]) == len(checks) + 1)
    finally:
        srv.stop()
