"""The pure parts of send jobs: templates (sandboxed, escaped, the names they see), the list header fields,
the parsing of a job request, and DKIM signatures covering List-Unsubscribe and List-Unsubscribe-Post."""

from __future__ import annotations

import re

import pytest

from moxpy.message import dkim
from moxpy.newsletter import jobs, listmail
from moxpy.newsletter.templates import SAMPLE, JobTemplates, TemplateError, context
from moxpy.provision import localserve
from moxpy.store.newsletter import MailingList


def render(subject="", text="", html="", email="a@example.com", preferences=None):
    return JobTemplates(subject, text, html).render(context(email, preferences or {}, "https://x/u"))


def test_templates_see_email_preferences_and_each_preference_by_name():
    out = render("Hi {{ email }}", "{{ lang }} {{ preferences['first-name'] }} {{ missing }}.",
                 "<a href='{{ unsubscribe_url }}'>{{ name }}</a>",
                 preferences={"lang": "nl", "first-name": "Jo", "name": "<script>", "email": "spoof"})
    assert out.subject == "Hi a@example.com"  # a preference does not hide the address
    assert out.text == "nl Jo ."  # an unknown name is empty, not an error
    assert out.html == "<a href='https://x/u'>&lt;script&gt;</a>"


def test_a_subject_is_one_line():
    assert render("a\r\nBcc: x@example.com {{ email }}").subject == "a Bcc: x@example.com a@example.com"


@pytest.mark.parametrize("source", ["{{ x", "{% if %}", "{{ ''.__class__.__mro__[1].__subclasses__() }}",
                                    "{{ 1 / 0 }}", "{{ missing.attr.deeper }}"])
def test_bad_or_unsafe_templates_are_template_errors(source):
    with pytest.raises(TemplateError):
        JobTemplates(source, "", "").check()


def test_list_id_and_list_unsubscribe():
    lst = MailingList(id=7, account="a", name='My "news"', from_address="news@example.com")
    assert listmail.list_id(lst, "example.com") == '"My \\"news\\"" <7.lists.example.com>'
    lst.name = "Nieuwsbrief ü"
    assert listmail.list_id(lst, "example.com") == "<7.lists.example.com>"
    assert listmail.list_unsubscribe("https://h/newsletter/one-click?token=t", "news@example.com") == \
        "<https://h/newsletter/one-click?token=t>, <mailto:news@example.com?subject=unsubscribe>"


@pytest.mark.parametrize("value, ok", [("2026-01-02T03:04:05Z", True), ("2026-01-02T03:04:05.5+02:00", True),
                                       ("2026-01-02 03:04:05+00:00", True), ("2026-01-02T03:04:05", False),
                                       ("2026-01-02", False), ("soon", False)])
def test_scheduled_at_is_rfc3339_with_an_offset(value, ok):
    if ok:
        assert jobs.parse_time(value) > 0
    else:
        with pytest.raises(ValueError):
            jobs.parse_time(value)


def _signed_fields(config, message: bytes) -> list[str]:
    header = dkim.signature_headers(config, message, "localhost").decode()
    return re.search(r"h=([^;]*)", re.sub(r"\s", "", header)).group(1).lower().split(":")


MESSAGE = (b"From: mox@localhost\r\nTo: a@example.com\r\nSubject: s\r\nList-Id: <1.lists.localhost>\r\n"
           b"List-Unsubscribe: <https://h/u?token=t>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
           b"\r\nbody\r\n")


def test_dkim_signatures_cover_the_one_click_fields_with_default_and_own_header_lists(tmp_path):
    config, _ = localserve.ensure(str(tmp_path))
    assert {"list-id", "list-unsubscribe", "list-unsubscribe-post"} <= set(_signed_fields(config, MESSAGE))
    for selector in config.Domains["localhost"].DKIM.Selectors.values():
        selector.Headers = ["From", "To", "Subject"]
    fields = _signed_fields(config, MESSAGE)
    assert {"from", "to", "subject", "list-unsubscribe", "list-unsubscribe-post"} <= set(fields)
    assert "list-unsubscribe" not in _signed_fields(config, MESSAGE.replace(b"List-Unsub", b"X-List-Unsub"))


@pytest.mark.parametrize("source", ['{{ "x" * 10**9 }}', "{{ 2**1000000 }}",
                                    '{% for i in range(100000) %}{{ "twenty characters..." }}{% endfor %}'])
def test_a_template_cannot_make_the_server_allocate_without_end(source):
    with pytest.raises(TemplateError, match="OverflowError"):
        JobTemplates(source, "", "").render(SAMPLE)
