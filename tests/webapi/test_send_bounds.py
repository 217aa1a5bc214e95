"""Send refuses header input that could not be delivered or would take
long to fold, quickly and with code "user", and composes large but valid
headers without holding up other clients."""

from __future__ import annotations

import email
import email.header
import email.policy
import json
import time

import httpx
import pytest

from .. import queuehelp
from ..heartbeat import Heartbeat
from ..localserve import ADDRESS, PASSWORD

pytestmark = pytest.mark.timing  # dev.py test runs these alone


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.base_url, auth=(ADDRESS, PASSWORD), timeout=120) as c:
        yield c


def send(http, **fields) -> tuple[httpx.Response, float]:
    fields.setdefault("To", [{"Address": ADDRESS}])
    fields.setdefault("Text", "body")
    # Unescaped UTF-8 in a multipart/form-data field: "é" takes 2 octets of the request, where JSON escapes
    # and URL encoding would make it 6 or 18 (and decoding a large urlencoded form is a matter of its own).
    body = json.dumps(fields, ensure_ascii=False)
    start = time.monotonic()
    response = http.post("Send", files={"request": (None, body.encode("utf-8"), "application/json")})
    return response, time.monotonic() - start


def refused(http, server, words: list[str], **fields) -> dict:
    """Send fields; assert a quick "user" error whose message has all words, and nothing queued."""
    before = {e.id for e in queuehelp.queued(server)}
    with Heartbeat(server) as beat:
        response, took = send(http, **fields)
    beat.check()
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["Code"] == "user", error
    for word in words:
        assert word in error["Message"], error
    assert len(error["Message"]) < 400  # the offending value is not echoed back
    assert took < 2, f"refusing took {took:.1f} s"
    assert {e.id for e in queuehelp.queued(server)} <= before
    return error


@pytest.mark.parametrize("subject", ["é" * 1_048_576, "é " * 524_288], ids=["one-word", "many-words"])
def test_huge_subject_is_refused_at_once(http, server, subject):
    refused(http, server, ["header section too large", "1 MiB"], Subject=subject)


def test_huge_display_name_is_refused(http, server):
    refused(http, server, ["header section too large", "1 MiB"], To=[{"Name": "n" * 1_048_576, "Address": ADDRESS}])


def test_long_header_name_is_refused_naming_it(http, server):
    refused(http, server, ["header name", "X-aaaa", "998"], Headers=[["X-" + "a" * 102_400, "v"]])


def test_long_message_id_is_refused(http, server):
    refused(http, server, ["Message-ID", "998"], MessageID="<" + "a" * 102_400 + "@localhost>")


def test_long_reference_is_refused(http, server):
    refused(http, server, ["References"], References=["<" + "r" * 2000 + "@localhost>"])


def test_long_word_in_custom_header_is_refused_naming_the_header(http, server):
    refused(http, server, ["X-Token"], Headers=[["X-Token", "t" * 2000]])


def test_large_valid_headers_are_folded_delivered_and_do_not_stall_others(http, server):
    # 900 KB of non-ASCII words: folding them with the email package took minutes.
    subject = "é " * 150_000 + "end"
    name = "Ünïcödé " * 20_000
    with Heartbeat(server) as beat:
        response, took = send(http, Subject=subject, To=[{"Name": name.strip(), "Address": ADDRESS}],
                              Headers=[["X-Long", "word " * 10_000]], MessageID="<bounds-ok@localhost>")
    beat.check()
    assert response.status_code == 200, response.text[:300]
    assert took < 10, f"send took {took:.1f} s"
    row = server.wait_for(lambda: [r for r in server.messages() if r["message_id"] == "<bounds-ok@localhost>"
                                   and r["mailbox"] == "Inbox"], timeout=30)[0]
    data = server.message_file(row)
    header = data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in header.split(b"\r\n")) <= 998
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["Subject"] == subject
    # RFC 2047 6.2 decoding (the email package's address parser puts a space between encoded words of a
    # display name, where the standard says to drop the whitespace between them).
    to = email.message_from_bytes(data)["To"]
    assert str(email.header.make_header(email.header.decode_header(to))) == f"{name.strip()} <{ADDRESS}>"


def test_send_with_many_small_attachments_holds_up_no_one_else(server):
    # 2000 parts of 2 octets: little data, but about a second of composing.
    files = [{"Name": f"f{i}.txt", "ContentType": "text/plain", "Data": "aGk="} for i in range(2000)]
    request = {"To": [{"Address": ADDRESS}], "Subject": "many parts", "Text": "x", "AttachedFiles": files}
    with Heartbeat(server, limit=0.5) as beat:
        resp = httpx.post(server.base_url + "Send", data={"request": json.dumps(request)},
                          auth=(ADDRESS, PASSWORD), timeout=60)
    assert resp.status_code == 200, resp.text
    beat.check()
