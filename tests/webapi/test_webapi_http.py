"""The webapi's HTTP surface over a real socket, as mox answers it: other
HTTP methods get a short plain-text 405, unknown paths a plain-text 404,
every status has its standard reason phrase, and no client ever sees a
twisted.web HTML error page."""


import httpx
import pytest

from moxpy.webapi.types import METHODS

from ..localserve import ADDRESS, PASSWORD, LocalServer
from .rawhttp import exchange

OTHER_METHODS = ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "BREW"]


def status_line(answer: bytes) -> bytes:
    return answer.split(b"\r\n", 1)[0]


@pytest.mark.parametrize("verb", OTHER_METHODS)
def test_other_http_methods_on_a_method_url_are_405_plain_text(server, verb):
    resp = httpx.request(verb, server.base_url + "Send", auth=(ADDRESS, PASSWORD), timeout=10)
    assert resp.status_code == 405
    assert resp.reason_phrase == "Method Not Allowed"
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["Allow"] == "GET, POST"
    if verb != "HEAD":
        assert resp.text == "405 - method not allowed - use get or post\n"


@pytest.mark.parametrize("name", list(METHODS))
def test_put_is_405_for_every_method(server, name):
    resp = httpx.put(server.base_url + name, data={"request": "{}"}, timeout=10)
    assert resp.status_code == 405 and "<" not in resp.text


def test_unknown_paths_are_plain_text_404_for_any_http_method(server):
    for verb in ["GET", "POST", "PUT", "DELETE", "BREW"]:
        for url in (server.base_url + "Nope", f"http://127.0.0.1:{server.ports['WebAPIHTTP']}/other"):
            resp = httpx.request(verb, url, timeout=10)
            assert resp.status_code == 404, (verb, url)
            assert resp.reason_phrase == "Not Found"
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert resp.text == "404 page not found\n"


def test_webapi_root_redirects_on_get_and_is_405_otherwise(server):
    root = server.base_url.removesuffix("v0/")
    resp = httpx.get(root, timeout=10)
    assert (resp.status_code, resp.reason_phrase, resp.headers["Location"]) == (303, "See Other", "/webapi/v0/")
    resp = httpx.post(root, timeout=10)
    assert (resp.status_code, resp.text) == (405, "405 - method not allow\n")
    # The index answers any method, as in mox.
    resp = httpx.put(server.base_url, timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")


def test_docs_and_openapi_take_get_only(server):
    for name in ("docs", "openapi.json"):
        assert httpx.get(server.base_url + name, timeout=10).status_code == 200
        resp = httpx.delete(server.base_url + name, timeout=10)
        assert resp.status_code == 405 and resp.headers["Allow"] == "GET, HEAD" and "<" not in resp.text


def test_every_status_has_its_reason_phrase(server):
    assert httpx.get(server.base_url, timeout=10).reason_phrase == "OK"
    resp = httpx.post(server.base_url + "MessageGet", data={"request": "{}"}, auth=(ADDRESS, PASSWORD))
    assert (resp.status_code, resp.reason_phrase) == (400, "Bad Request")
    resp = httpx.post(server.base_url + "MessageGet", data={"request": "{}"})
    assert (resp.status_code, resp.reason_phrase) == (401, "Unauthorized")
    answer = exchange(server, b"PUT /webapi/v0/Send HTTP/1.0\r\nHost: localhost\r\n\r\n")
    assert status_line(answer) == b"HTTP/1.0 405 Method Not Allowed"


def test_rate_limited_calls_say_too_many_requests(tmp_path):
    srv = LocalServer(str(tmp_path / "ratelimit")).start()
    try:
        for _ in range(10):
            resp = httpx.post(srv.base_url + "SuppressionList", data={"request": "{}"}, auth=(ADDRESS, "wrong"))
            assert resp.status_code == 401
        answer = exchange(srv, b"POST /webapi/v0/SuppressionList HTTP/1.0\r\nHost: localhost\r\n"
                                  b"Authorization: Basic bW94QGxvY2FsaG9zdDp3cm9uZw==\r\n"
                                  b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\n"
                                  b"request=%7B%7D")
        assert status_line(answer) == b"HTTP/1.0 429 Too Many Requests"
        assert answer.endswith(b"\r\n\r\n429 - too many auth attempts\n")
    finally:
        srv.stop()


@pytest.mark.parametrize("request_bytes", [
    b"BREW /webapi/v0/Send HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    b"GET /webapi/v0/%ff%fe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    b"GET http://localhost/webapi/v0/Nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    b"DELETE * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    b"NOT A REQUEST LINE AT ALL\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
    b"POST /webapi/v0/Send HTTP/1.1\r\nHost: localhost\r\nContent-Length: nope\r\n\r\n",
])
def test_no_framework_html_pages(server, request_bytes):
    answer = exchange(server, request_bytes)
    assert answer.startswith(b"HTTP/1.")
    assert b"<html" not in answer.lower() and b"twisted" not in answer.split(b"\r\n\r\n", 1)[-1].lower()
    assert b"Unknown Status" not in status_line(answer)


def test_a_failure_while_rendering_is_plain_text_500():
    # The one answer no request on the wire should reach: processing failed.
    from twisted.python.failure import Failure
    from twisted.web.test.requesthelper import DummyChannel

    from moxpy.webapi.resource import request_factory

    channel = DummyChannel()
    request = request_factory(1000)(channel)
    request.method, request.path, request.clientproto = b"GET", b"/webapi/v0/", b"HTTP/1.0"
    request.processingFailed(Failure(RuntimeError("boom")))
    written = channel.transport.written.getvalue()
    assert written.startswith(b"HTTP/1.0 500 Internal Server Error\r\n")
    assert written.endswith(b"\r\n\r\n500 - internal server error\n")
    assert b"boom" not in written and b"<html" not in written
