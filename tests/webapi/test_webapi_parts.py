"""MIME parts through the webapi over real HTTP, as mox serves them:
MessagePartGet of a multipart part gives its body with the boundaries,
Structure shows report parts (delivery-status, disposition-notification)
and enclosed messages as leaves, and an alternative file keeps its
content-type parameters and is inline in the multipart/alternative."""

import base64
import email
import email.policy
import smtplib

import httpx
import pytest

from ..localserve import ADDRESS, PASSWORD


def call(server, method, request):
    return server.call(method, request)


def deliver(server, data: bytes, message_id: str) -> int:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as s:
        s.sendmail("sender@example.org", [ADDRESS], data)
    rows = server.wait_for(lambda: [r for r in server.messages() if r["message_id"] == message_id])
    return rows[0]["id"]


def part(server, msg_id, *path):
    resp = call(server, "MessagePartGet", {"MsgID": msg_id, "PartPath": list(path)})
    assert resp.status_code == 200, resp.text
    return resp.content, resp.headers["Content-Type"]


ALTERNATIVE_BODY = (
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"plain\r\n"
    b"--inner\r\n"
    b'Content-Type: multipart/related; boundary="deep"\r\n\r\n'
    b"--deep\r\n"
    b"Content-Type: text/html\r\n\r\n"
    b"<p>html</p>\r\n"
    b"--deep--\r\n"
    b"--inner--"
)
RELATED_BODY = b"--deep\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--deep--"
NESTED = (
    b"Subject: nested multiparts\r\n"
    b"Message-ID: <nested@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
    b"preamble\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n'
    + ALTERNATIVE_BODY + b"\r\n"
    b"--outer\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"AAEC\r\n"
    b"--outer--\r\n"
)


def test_part_get_of_multipart_parts_gives_their_body_with_boundaries(server):
    msg_id = deliver(server, NESTED, "<nested@example.org>")
    assert part(server, msg_id, 0) == (ALTERNATIVE_BODY, 'multipart/alternative; boundary="inner"')
    assert part(server, msg_id, 0, 1) == (RELATED_BODY, 'multipart/related; boundary="deep"')
    assert part(server, msg_id, 0, 1, 0) == (b"<p>html</p>", "text/html")
    assert part(server, msg_id, 0, 0) == (b"plain", "text/plain; charset=utf-8")
    assert part(server, msg_id, 1) == (b"\x00\x01\x02", "application/octet-stream")
    body, ctype = part(server, msg_id)
    assert body.startswith(b"preamble\r\n--outer\r\n") and body.endswith(b"--outer--\r\n")
    assert ctype == 'multipart/mixed; boundary="outer"'
    # What the part holds reads back as the same MIME tree.
    parsed = email.message_from_bytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "multipart/related", "text/html",
        "application/octet-stream"]

    resp = call(server, "MessagePartGet", {"MsgID": msg_id, "PartPath": [0, 5]})
    assert resp.status_code == 400 and resp.json() == {"Code": "partNotFound", "Message": "part 5 at index 1 not found"}

    structure = call(server, "MessageGet", {"MsgID": msg_id}).json()["Structure"]
    alternative = structure["Parts"][0]
    assert (alternative["ContentType"], alternative["DecodedSize"]) == ("multipart/alternative", 0)
    assert [p["ContentType"] for p in alternative["Parts"]] == ["text/plain", "multipart/related"]
    assert alternative["Parts"][1]["Parts"][0]["DecodedSize"] == len(b"<p>html</p>")


def report(report_type: str, status_type: str, status: bytes, third_type: str, third: bytes, msg_id: str) -> bytes:
    return (
        b"From: MAILER-DAEMON@example.org\r\n"
        b"Subject: report\r\n"
        b"Message-ID: " + msg_id.encode() + b"\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=" + report_type.encode() + b'; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: text/plain\r\n\r\nSomething happened.\r\n"
        b"--R\r\nContent-Type: " + status_type.encode() + b"\r\n\r\n" + status + b"\r\n"
        b"--R\r\nContent-Type: " + third_type.encode() + b"\r\n\r\n" + third + b"\r\n"
        b"--R--\r\n"
    )


DELIVERY_STATUS = (b"Reporting-MTA: dns; mx.example.org\r\n\r\n"
                   b"Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n")
DISPOSITION = (b"Reporting-UA: mail.example.org; client\r\nFinal-Recipient: rfc822; bob@example.org\r\n"
               b"Disposition: manual-action/MDN-sent-manually; displayed\r\n")
ORIGINAL = (b"From: mox@localhost\r\nSubject: original\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/alternative; boundary="O"\r\n\r\n'
            b"--O\r\nContent-Type: text/plain\r\n\r\nhi\r\n--O\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--O--")


@pytest.mark.parametrize("report_type,status_type,status,third_type", [
    ("delivery-status", "message/delivery-status", DELIVERY_STATUS, "message/rfc822"),
    ("delivery-status", "message/global-delivery-status", DELIVERY_STATUS, "message/global"),
    ("disposition-notification", "message/disposition-notification", DISPOSITION, "message/rfc822"),
    ("disposition-notification", "message/global-disposition-notification", DISPOSITION, "message/global"),
])
def test_report_parts_and_enclosed_messages_are_leaves(server, report_type, status_type, status, third_type):
    msg_id = f"<{status_type.split('/')[1]}-{third_type.split('/')[1]}@example.org>"
    stored = deliver(server, report(report_type, status_type, status, third_type, ORIGINAL, msg_id), msg_id)
    structure = call(server, "MessageGet", {"MsgID": stored}).json()["Structure"]
    assert structure["ContentType"] == "multipart/report"
    text, fields, original = structure["Parts"]
    assert text["ContentType"] == "text/plain"
    # RFC 3464 2.1 and RFC 8098 3.1: the report fields are one body, not parts.
    assert (fields["ContentType"], fields["Parts"], fields["DecodedSize"]) == (status_type, [], len(status))
    # As mox shows an enclosed message: a leaf holding the whole message.
    assert (original["ContentType"], original["Parts"], original["DecodedSize"]) == (third_type, [], len(ORIGINAL))

    assert part(server, stored, 1)[0] == status
    assert part(server, stored, 2)[0] == ORIGINAL
    resp = call(server, "MessagePartGet", {"MsgID": stored, "PartPath": [1, 0]})
    assert resp.status_code == 400 and resp.json()["Code"] == "partNotFound"


CALENDAR = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:meet\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


def test_alternative_file_keeps_content_type_parameters_and_is_inline(server):
    resp = call(server, "Send", {
        "To": [{"Address": ADDRESS}], "Subject": "invitation", "Text": "see the invitation", "HTML": "<p>invite</p>",
        "AlternativeFiles": [{"Name": "invite.ics", "ContentType": "text/calendar; method=REQUEST; charset=utf-8",
                              "Data": base64.b64encode(CALENDAR).decode()}],
        "AttachedFiles": [{"Name": "notes.txt", "ContentType": "text/plain; charset=iso-8859-1",
                           "Data": base64.b64encode(b"caf\xe9").decode()}],
    })
    assert resp.status_code == 200, resp.text
    message_id = resp.json()["MessageID"]
    rows = server.wait_for(lambda: [r for r in server.messages()
                                    if r["message_id"] == message_id and r["mailbox"] == "Inbox"])
    got = call(server, "MessageGet", {"MsgID": rows[0]["id"]}).json()
    alternative, notes = got["Structure"]["Parts"]
    assert alternative["ContentType"] == "multipart/alternative"
    plain, html, calendar = alternative["Parts"]
    assert (calendar["ContentType"], calendar["ContentTypeParams"]) == (
        "text/calendar", {"method": "REQUEST", "charset": "utf-8"})
    assert (calendar["ContentDisposition"], calendar["Filename"]) == ("inline", "invite.ics")
    assert notes["ContentTypeParams"] == {"charset": "iso-8859-1"}
    assert notes["ContentDisposition"] == "attachment"
    assert part(server, rows[0]["id"], 0, 2) == (CALENDAR, "text/calendar; charset=utf-8")

    raw = server.message_file(rows[0])
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    [invite] = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert invite.get_param("method") == "REQUEST" and invite.get_content_disposition() == "inline"


def test_uploaded_alternative_file_keeps_its_parameters(server):
    resp = httpx.post(server.base_url + "Send", auth=(ADDRESS, PASSWORD), timeout=30, data={
        "request": '{"To": [{"Address": "mox@localhost"}], "Subject": "uploaded invitation", "Text": "x"}'},
        files=[("alternativefile", ("invite.ics", CALENDAR, "text/calendar; method=CANCEL"))])
    assert resp.status_code == 200, resp.text
    message_id = resp.json()["MessageID"]
    rows = server.wait_for(lambda: [r for r in server.messages()
                                    if r["message_id"] == message_id and r["mailbox"] == "Inbox"])
    structure = call(server, "MessageGet", {"MsgID": rows[0]["id"]}).json()["Structure"]
    assert structure["ContentType"] == "multipart/alternative"
    calendar = structure["Parts"][1]
    assert (calendar["ContentType"], calendar["ContentTypeParams"], calendar["ContentDisposition"]) == (
        "text/calendar", {"method": "CANCEL"}, "inline")
