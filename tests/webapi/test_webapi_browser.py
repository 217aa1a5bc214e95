"""The HTML method pages in a real browser (headless Chromium): open a
method page, press Call, see the answer."""

import shutil

import pytest

from ..localserve import ADDRESS, PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package chromium)"), pytest.mark.slow]


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        context = browser.new_context(http_credentials={"username": ADDRESS, "password": PASSWORD})
        yield context.new_page()
        browser.close()


def test_send_page_calls_the_method(server, page):
    before = len(server.messages())
    page.goto(server.base_url + "Send")
    assert '"Address": "mox@localhost"' in page.input_value("#request")
    page.click("#submit")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('200')", timeout=15000)
    assert page.inner_text("#status") == "200 OK"
    assert '"QueueMsgID"' in page.input_value("#response")
    server.wait_for(lambda: len(server.messages()) > before)


def test_example_response_is_labelled_until_a_call_replaces_it(server, page):
    page.goto(server.base_url + "SuppressionList")
    label = page.inner_text("#response-label")
    assert label.startswith("Example response") and "not from the server" in label
    assert "example" in page.get_attribute("#response", "class")
    example = page.input_value("#response")
    assert '"Suppressions"' in example

    page.click("#submit")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('200')", timeout=15000)
    label = page.inner_text("#response-label")
    assert label == "Response from the server: 200 OK", label
    assert "example" not in (page.get_attribute("#response", "class") or "")
    assert page.input_value("#response") != example  # the real, empty list

    # Reset brings the example back into the box, and its label with it.
    page.click("button[type=reset]")
    assert page.input_value("#response") == example
    assert page.inner_text("#response-label").startswith("Example response")
    assert page.inner_text("#status") == ""


def test_error_response_is_labelled_with_its_status(server, page):
    page.goto(server.base_url + "MessageGet")
    page.fill("#request", '{"MsgID": 424243}')
    page.click("#submit")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('400')", timeout=15000)
    assert page.inner_text("#response-label") == "Response from the server: 400 Bad Request"


def test_method_page_links_to_its_documentation(server, page):
    page.goto(server.base_url + "MessageMove")
    page.click("text=Documentation")
    page.wait_for_url("**/docs#messagemove")
    assert page.evaluate("document.getElementById('messagemove').textContent") == "MessageMove"


def test_errors_show_in_the_page(server, page):
    page.goto(server.base_url + "MessageGet")
    page.fill("#request", '{"MsgID": 424242}')
    page.click("#submit")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('400')", timeout=15000)
    assert '"messageNotFound"' in page.input_value("#response")


def test_raw_method_page_posts_the_form(server, page):
    row = server.wait_for(lambda: server.messages())[-1]
    page.goto(server.base_url + "MessageRawGet")
    page.fill("#request", f'{{"MsgID": {row["id"]}}}')
    with page.expect_navigation():
        page.click("#submit")
    assert "Received: from" in page.content()
