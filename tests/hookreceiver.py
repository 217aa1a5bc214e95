"""A real HTTP server on loopback that receives webhooks and records them."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict
    status: int  # what we answered
    raw: bytes = b""  # the body as received


class Receiver:
    """Records every POST; decide(path, body) picks the status to answer (default 200)."""

    def __init__(self):
        self.requests: list[Request] = []
        self.decide = lambda path, body: 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:
                    # The sender went away mid-request (a server killed while sending): not a delivery.
                    self.close_connection = True
                    return
                body = json.loads(raw or b"null")
                status = receiver.decide(self.path, body)
                with receiver._lock:
                    receiver.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                     body, status, raw))
                answer = b"thanks" if status < 300 else b"not now"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def matching(self, path: str | None = None, **fields) -> list[Request]:
        with self._lock:
            requests = list(self.requests)
        return [r for r in requests if (path is None or r.path == path)
                and all(isinstance(r.body, dict) and r.body.get(k) == v for k, v in fields.items())]

    def wait(self, path: str | None = None, count: int = 1, timeout: float = 20, **fields) -> list[Request]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.matching(path, **fields)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no {count} webhook(s) {path} {fields}; got {[r.body for r in self.requests][-5:]}")
            time.sleep(0.02)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
