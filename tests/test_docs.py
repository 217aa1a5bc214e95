"""The documentation users read: generated from the code, served by the
server, and its examples work against a real localserve."""

import httpx
from openapi_spec_validator import validate

from moxpy.webapi.types import METHODS


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
        assert f"<h3>{name}</h3>" in page.text
    assert "X-Mox-Webhook-Attempt" in page.text
