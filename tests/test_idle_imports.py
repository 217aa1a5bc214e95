"""A server that only takes Sends and delivers them keeps its memory small:
the libraries for the HTML pages, the docs, webhooks, SCRAM, OAuth access
tokens and making a config are loaded when first needed, and a second Send loads nothing.

The server logs its imports (PYTHONPROFILEIMPORTTIME), so the test sees
what it loaded, and when.
"""

from __future__ import annotations

import re
import time

import httpx

from .localserve import ADDRESS

SEND = {"To": [{"Address": ADDRESS}], "Subject": "hello", "Text": "hi"}
LATER = ("jinja2", "markdown_it", "httpx", "scramp", "sqlite_utils", "moxpy.webapi.docs", "moxpy.scram",
         "moxpy.provision.certificate", "jwt")

_IMPORT = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)")


def imported(lines: list[str]) -> set[str]:
    return {m.group(1) for line in lines if (m := _IMPORT.match(line))}


def top_level(modules: set[str]) -> set[str]:
    return modules | {m.split(".")[0] for m in modules}


def send_and_deliver(server) -> None:
    inbox = sum(m["mailbox"] == "Inbox" for m in server.messages())
    assert server.call("Send", SEND).status_code == 200
    server.wait_for(lambda: sum(m["mailbox"] == "Inbox" for m in server.messages()) > inbox)
    time.sleep(0.3)  # the last lines of output reach the reader


def test_libraries_of_pages_docs_webhooks_and_scram_wait_until_first_used(new_server, monkeypatch):
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    server = new_server()
    server.start()
    send_and_deliver(server)
    assert top_level(imported(server.output)) & set(LATER) == set()

    seen = len(server.output)
    send_and_deliver(server)
    assert imported(server.output[seen:]) == set()

    assert httpx.get(server.base_url).status_code == 200
    assert "jinja2" in top_level(imported(server.output))
    assert "markdown_it" not in top_level(imported(server.output))
    assert httpx.get(server.base_url + "docs").status_code == 200
    assert "markdown_it" in top_level(imported(server.output))
