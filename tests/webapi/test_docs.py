"""The documentation users read: generated from the code, served by the
server, and its examples work against a real localserve."""

import html.parser

import httpx
from openapi_spec_validator import validate

from moxpy.webapi.types import METHODS

from ..jsonshape import same_shape


def test_openapi_document_is_valid_and_complete(server):
    resp = httpx.get(server.base_url + "openapi.json")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    document = resp.json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {f"/webapi/v0/{name}" for name in METHODS}
    send = document["paths"]["/webapi/v0/Send"]["post"]
    schema = send["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema["properties"]["request"]["contentSchema"] == {"$ref": "#/components/schemas/SendRequest"}
    fields = document["components"]["schemas"]["SendRequest"]["properties"]
    assert set(fields) == set(METHODS["Send"].request.__struct_fields__)


def test_index_links_to_docs_served_by_the_server(server):
    index = httpx.get(server.base_url).text
    assert 'href="/webapi/v0/docs"' in index and 'href="/webapi/v0/openapi.json"' in index
    page = httpx.get(server.base_url + "docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for name in METHODS:
        assert f'<h3 id="{name.lower()}">{name}</h3>' in page.text
    assert "X-Mox-Webhook-Attempt" in page.text


class Anchors(html.parser.HTMLParser):
    """The element ids of a page, its in-page links, and its headings with their ids."""

    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.headings: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.append(attrs["id"])
        if tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.links.append(attrs["href"][1:])
        if tag in ("h2", "h3"):
            self.headings.append((tag, attrs.get("id")))


def test_docs_page_has_contents_linking_every_section_and_method(server):
    page = httpx.get(server.base_url + "docs")
    anchors = Anchors()
    anchors.feed(page.text)
    assert len(anchors.ids) == len(set(anchors.ids)), "duplicate ids"
    assert anchors.links, "no table of contents"
    missing = [link for link in anchors.links if link not in anchors.ids]
    assert not missing, f"links without a target: {missing}"
    # Every section and subsection is listed, except the contents themselves.
    headings = [id for _, id in anchors.headings]
    assert None not in headings, anchors.headings
    assert headings[0] == "contents"
    assert sorted(anchors.links) == sorted(headings[1:])
    for name in METHODS:
        assert name.lower() in anchors.links
    for name in ("webhooks", "examples-with-curl", "webhook-outgoing-delivered"):
        assert name in anchors.links


def test_docs_markdown_contents_match_its_headings():
    """docs/webapi.md read on its own (e.g. on GitHub): every contents link names a heading."""
    import os
    import re

    from moxpy.webapi import docs

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "webapi.md")) as f:
        text = f.read()
    toc = text.split("## Contents\n", 1)[1].split("\n## ", 1)[0]
    links = re.findall(r"\]\(#([^)]+)\)", toc)
    anchors = Anchors()
    anchors.feed(docs.renderer().render(text))
    assert links and sorted(links) == sorted(id for _, id in anchors.headings if id != "contents")


def doc_examples(text: str) -> list[tuple[str, object]]:
    """(shell commands, documented JSON answer or None) of the curl examples section."""
    import json
    import re

    section = text.split("## Examples with curl", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(sh|json)\n(.*?)\n```", section, re.S)
    result = []
    for i, (kind, body) in enumerate(blocks):
        if kind == "sh":
            answer = None
            if i + 1 < len(blocks) and blocks[i + 1][0] == "json":
                answer = json.loads(blocks[i + 1][1])
            result.append((body, answer))
    return result


def test_curl_examples_of_the_generated_doc_work(new_server, tmp_path):
    import json
    import os
    import shutil
    import subprocess
    import time

    import pytest

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "webapi.md")) as f:
        examples = doc_examples(f.read())
    assert len(examples) >= 10
    srv = new_server().start()  # fresh, so message ids are as documented
    sends = 0
    for command, answer in examples:
        command = command.replace("http://localhost:1080/webapi/v0/", srv.base_url)
        deadline = time.monotonic() + 5
        while True:
            out = subprocess.run(["bash", "-c", command + " -s -w '\\n%{http_code}'"], cwd=tmp_path,
                                 capture_output=True, text=True)
            body, _, status = out.stdout.rpartition("\n")
            # A message just sent may take a moment to be delivered to the Inbox.
            if "messageNotFound" in body and (answer or {}).get("Code") != "messageNotFound" and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            break
        assert out.returncode == 0, (command, out.stderr)
        if command.rstrip().endswith("/Send"):
            # Message ids follow the order of delivery: let each Send arrive before the next, so the
            # documented ids (MsgID 2 is the second message) hold.
            sends += 1
            while srv.call("MessageGet", {"MsgID": sends}).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.05)
        if answer is None:
            assert status == "200" and body, command
            continue
        got = json.loads(body)
        assert status == ("400" if "Code" in answer else "200"), (command, body)
        same_shape(got, answer)


def test_committed_docs_are_current(tmp_path):
    import os
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = tmp_path / "webapi.md"
    subprocess.run(["bash", os.path.join(root, "gendoc.sh"), str(out)], check=True, cwd=root)
    with open(os.path.join(root, "docs", "webapi.md")) as f:
        committed = f.read()
    assert out.read_text() == committed, "docs/webapi.md is stale: run ./gendoc.sh and commit the result"


def test_docs_have_the_example_webhook_payloads_of_mox_py_example(server):
    import json
    import os
    import re
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    names = subprocess.run([sys.executable, os.path.join(root, "mox.py"), "example"], capture_output=True,
                           text=True, check=True).stdout.split()
    assert names == ["webhook-outgoing-delivered", "webhook-outgoing-dsn-failed", "webhook-incoming-basic",
                     "webhook-change-message-new", "webhook-change-message-updated", "webhook-change-mailbox-renamed"]
    with open(os.path.join(root, "docs", "webapi.md")) as f:
        doc = f.read()
    page = httpx.get(server.base_url + "docs").text
    for name in names:
        printed = subprocess.run([sys.executable, os.path.join(root, "mox.py"), "example", name],
                                 capture_output=True, text=True, check=True).stdout
        payload = json.loads(printed[printed.index("{"):])
        block = re.search(rf"### {name}\n\n.*?```json\n(.*?)\n```", doc, re.S).group(1)
        assert json.loads(block) == payload
        assert f'<h3 id="{name}">{name}</h3>' in page
