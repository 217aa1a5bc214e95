"""Hostile requests to the webapi over the real listener: each gets a clear
answer (400 with Code "protocol" or "user", or the HTTP status that names
the limit), never a traceback or a closed connection without an answer,
and the rest of the server is served meanwhile."""

import base64
import json

import httpx
import pytest

from ..heartbeat import Heartbeat
from ..localserve import ADDRESS, PASSWORD
from .rawhttp import exchange

pytestmark = pytest.mark.timing  # dev.py test runs these alone

AUTH = (ADDRESS, PASSWORD)


@pytest.fixture(autouse=True)
def output_start(server):
    """Where the server's output stood when the test began."""
    server.output_start = len(server.output)


def no_traceback(server):
    text = "".join(server.output[server.output_start:])
    assert "Traceback" not in text and "RecursionError" not in text, text[-3000:]


def post_form(server, method, request: str | bytes):
    return httpx.post(server.base_url + method, data={"request": request}, auth=AUTH, timeout=30)


def post_raw(server, method, content: bytes, content_type: str):
    return httpx.post(server.base_url + method, content=content, headers={"Content-Type": content_type},
                      auth=AUTH, timeout=30)


def multipart(parts: list[tuple[bytes, bytes]], boundary=b"xyzzy") -> tuple[bytes, str]:
    """A multipart/form-data body from (part headers, part body) pairs."""
    body = b"".join(b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + data + b"\r\n" for headers, data in parts)
    return body + b"--" + boundary + b"--\r\n", "multipart/form-data; boundary=" + boundary.decode()


def assert_error(resp, code):
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"Code", "Message"}, body
    assert body["Code"] == code, body
    assert "Traceback" not in body["Message"] and body["Message"], body


def head_and_body(answer: bytes) -> tuple[list[bytes], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


# 1. Deep nesting.

@pytest.mark.parametrize("depth", [1000, 100000])
@pytest.mark.parametrize("shape", [
    '{{"To":{open}{close}}}',
    '{open}{close}',
    '{{"Extra":{{"a":{open}{close}}}}}',
    '{{"AttachedFiles":[{{"Name":{open}{close}}}]}}',
    '{{"To":{open}',
])
def test_deeply_nested_json_is_protocol(server, depth, shape):
    request = shape.format(open="[" * depth, close="]" * depth)
    with Heartbeat(server) as beat:
        resp = post_form(server, "Send", request)
    beat.check()
    assert_error(resp, "protocol")
    assert "nested too deeply" in resp.json()["Message"], resp.text
    no_traceback(server)


@pytest.mark.parametrize("depth", [1000, 100000])
def test_deeply_nested_objects_in_every_method(server, depth):
    request = '{"MsgID":' + '{"a":' * depth + "1" + "}" * depth + "}"
    for method in ("MessageGet", "MessagePartGet", "SuppressionAdd", "SuppressionList"):
        resp = post_form(server, method, request)
        assert_error(resp, "protocol")
    no_traceback(server)


# 2. Control characters in an attachment's content type.

@pytest.mark.parametrize("key", ["AttachedFiles", "InlineFiles", "AlternativeFiles"])
@pytest.mark.parametrize("content_type", ["text/plain\r\nBcc: evil@example.com", "text/plain\nX: y", "text/plain\r"])
def test_file_content_type_with_line_break_is_user_error(server, key, content_type):
    request = {"To": [{"Address": ADDRESS}], "Subject": "ct", "Text": "x",
               key: [{"Name": "a.txt", "ContentType": content_type, "Data": "eA=="}]}
    resp = post_form(server, "Send", json.dumps(request))
    assert_error(resp, "user")
    no_traceback(server)


@pytest.mark.parametrize("field", ["attachedfile", "inlinefile", "alternativefile"])
@pytest.mark.parametrize("content_type", [b"text/plain\rBcc: evil@example.com", b"text/plain\r\n\tbcc: folded\r"])
def test_uploaded_file_content_type_with_line_break_is_user_error(server, field, content_type):
    request = json.dumps({"To": [{"Address": ADDRESS}], "Subject": "ct", "Text": "x"}).encode()
    body, ctype = multipart([
        (b'Content-Disposition: form-data; name="request"', request),
        (b'Content-Disposition: form-data; name="' + field.encode() + b'"; filename="a.txt"\r\n'
         b"Content-Type: " + content_type, b"hello"),
    ])
    resp = post_raw(server, "Send", body, ctype)
    assert_error(resp, "user")
    no_traceback(server)


# 3. Request text that is not UTF-8, or a form that is malformed.

@pytest.mark.parametrize("part_headers", [
    b'Content-Disposition: form-data; name="request"',
    b'Content-Disposition: form-data; name="request"\r\nContent-Type: text/plain; charset=bogus-charset',
])
def test_multipart_request_part_not_utf8_is_protocol(server, part_headers):
    body, ctype = multipart([(part_headers, b'{"Subject": "\xff\xfe"}')])
    resp = post_raw(server, "Send", body, ctype)
    assert_error(resp, "protocol")
    assert "utf-8" in resp.json()["Message"]
    no_traceback(server)


def test_multipart_request_part_in_utf8_with_a_charset_label_is_read_as_utf8(server):
    # JSON is UTF-8 (RFC 8259 8.1), whatever the part says.
    body, ctype = multipart([(b'Content-Disposition: form-data; name="request"\r\nContent-Type: text/plain; charset=bogus',
                              '{"MsgID": 999999, "\u017f": 1}'.encode())])
    resp = post_raw(server, "MessageGet", body, ctype)
    assert_error(resp, "protocol")
    assert "unknown field" in resp.json()["Message"].lower() or "\u017f" in resp.json()["Message"], resp.text


@pytest.mark.parametrize("body", [
    b"request=%7B%7D%ZZ",
    b"request=%7B%7D%4",
    b"request=%",
    b"request=%ff%fe",
    b"request=%7B%7D&other=%c3",
    b"request=\xff",
    b"request=%7B%7D;x=1",
])
def test_urlencoded_form_with_bad_escapes_or_utf8_is_protocol(server, body):
    resp = post_raw(server, "MessageGet", body, "application/x-www-form-urlencoded")
    assert_error(resp, "protocol")
    assert resp.json()["Message"].startswith("parsing form:"), resp.text
    no_traceback(server)


def test_urlencoded_form_with_good_escapes_still_works(server):
    resp = post_raw(server, "MessageGet", b"request=%7B%22MsgID%22%3A+999999%7D&x=%C3%A9", "application/x-www-form-urlencoded")
    assert_error(resp, "messageNotFound")


# 4. HTTP limits.

def test_very_long_url_is_414(server):
    path = b"/webapi/v0/" + b"a" * 65536
    with Heartbeat(server) as beat:
        answer = exchange(server, b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    beat.check()
    head, body = head_and_body(answer)
    assert head[0] == b"HTTP/1.1 414 URI Too Long", answer[:300]
    assert b"Content-Type: text/plain; charset=utf-8" in head
    assert body == b"414 - uri too long\n"
    no_traceback(server)


def test_very_long_header_is_431(server):
    with Heartbeat(server) as beat:
        resp = httpx.get(server.base_url, headers={"X-Big": "b" * 100 * 1024}, timeout=20)
    beat.check()
    assert (resp.status_code, resp.reason_phrase) == (431, "Request Header Fields Too Large")
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.text == "431 - request header fields too large\n"
    no_traceback(server)


def test_many_headers_adding_up_past_the_limit_are_431(server):
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(100))
    answer = exchange(server, b"GET /webapi/v0/ HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n")
    head, body = head_and_body(answer)
    assert head[0] == b"HTTP/1.1 431 Request Header Fields Too Large", answer[:300]
    assert body == b"431 - request header fields too large\n"


def test_too_many_headers_are_431(server):
    headers = b"".join(b"X-%d: v\r\n" % i for i in range(600))
    answer = exchange(server, b"GET /webapi/v0/ HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n")
    assert head_and_body(answer)[0][0] == b"HTTP/1.1 431 Request Header Fields Too Large", answer[:300]


def test_basic_auth_with_huge_password_is_401(server):
    request = json.dumps({"MsgID": 1})
    with Heartbeat(server) as beat:
        resp = httpx.post(server.base_url + "MessageGet", data={"request": request},
                          auth=(ADDRESS, "p" * (1 << 20)), timeout=20)
    beat.check()
    assert (resp.status_code, resp.reason_phrase) == (401, "Unauthorized")
    assert resp.headers["WWW-Authenticate"] == "Basic realm=webapi"
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.text.startswith("401 - unauthorized")
    no_traceback(server)


def test_basic_auth_with_long_password_is_401_without_hashing(server):
    # Within the header limits but far beyond any real password: refused
    # before the password hash is computed (which takes a while per try).
    for _ in range(20):
        with Heartbeat(server) as beat:
            resp = httpx.post(server.base_url + "MessageGet", data={"request": "{}"},
                              auth=(ADDRESS, "p" * 8000), timeout=20)
        beat.check()
        assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == "Basic realm=webapi"
        assert resp.elapsed.total_seconds() < 0.5
    # A good login still works afterwards.
    assert post_form(server, "MessageGet", '{"MsgID": 999999}').json()["Code"] == "messageNotFound"


def test_other_malformed_requests_get_a_plain_400(server):
    for request in (b"GET /webapi/v0/ HTTP/1.1\r\nHost: localhost\r\nbad header line\r\n\r\n",
                    b"BOGUS\r\n\r\n",
                    b"POST /webapi/v0/Send HTTP/1.1\r\nHost: localhost\r\nContent-Length: x\r\n\r\n"):
        head, body = head_and_body(exchange(server, request))
        assert head[0] == b"HTTP/1.1 400 Bad Request", head
        assert b"Content-Type: text/plain; charset=utf-8" in head
        assert body == b"400 - bad request\n"


def test_server_still_answers_after_the_hostile_requests(server):
    resp = post_form(server, "MessageGet", '{"MsgID": 999999}')
    assert_error(resp, "messageNotFound")
    no_traceback(server)


def test_bad_base64_in_basic_auth_is_401(server):
    resp = httpx.post(server.base_url + "MessageGet", data={"request": "{}"},
                      headers={"Authorization": "Basic " + "!" * 100}, timeout=20)
    assert resp.status_code == 401
    token = base64.b64encode(b"\xff\xfe:x").decode()
    resp = httpx.post(server.base_url + "MessageGet", data={"request": "{}"},
                      headers={"Authorization": "Basic " + token}, timeout=20)
    assert resp.status_code == 401


def test_limits_are_answered_over_https_too(server):
    url = f"https://127.0.0.1:{server.ports['WebAPIHTTPS']}/webapi/v0/"
    resp = httpx.get(url, headers={"X-Big": "b" * 100 * 1024}, verify=False, timeout=20)
    assert (resp.status_code, resp.text) == (431, "431 - request header fields too large\n")
    resp = httpx.post(url + "MessageGet", data={"request": "{}"}, auth=(ADDRESS, "p" * (1 << 20)), verify=False, timeout=20)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == "Basic realm=webapi"


def test_large_urlencoded_send_is_parsed_without_holding_up_other_clients(server):
    # 12 MB of %-escapes: decoding the form and the JSON takes seconds of CPU.
    request = json.dumps({"To": [{"Address": ADDRESS}], "Subject": "large form", "Text": "é" * 2_000_000},
                         ensure_ascii=False)
    with Heartbeat(server) as beat:
        resp = post_form(server, "Send", request)
    assert resp.status_code == 200, resp.text
    beat.check()
    no_traceback(server)
