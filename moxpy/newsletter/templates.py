"""The subject, text and HTML of a send job, as jinja2 templates
personalised for each member.

Templates run in jinja2's SandboxedEnvironment: a tenant's template can
read the values it is given and call jinja2's filters, but reaches no
attribute of Python objects beyond them. The HTML body is autoescaped, the
subject and text are not (they are not HTML).

The names a template sees:

- email: the member's address;
- preferences: the member's preferences, a mapping of strings
  (`{{ preferences.lang }}`, `{{ preferences["first-name"] }}`);
- each preference again as a name of its own, when it is a valid name
  and not one of the names here (`{{ lang }}`);
- unsubscribe_url: the member's one-click unsubscribe link (a page with a
  button when opened in a browser).

Templates are bounded: a rendered template longer than MAX_OUTPUT
characters, a string or list repeated past that, or a power with an
exponent over MAX_EXPONENT fails it (and with it the job's creation), so a
template cannot make the server allocate without end.

A name the member has no value for is empty, so one member without a
preference does not stop the job. A template that does not parse, or that
fails with the sample values, is refused when the job is created
(TemplateError), not half-way through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from jinja2.sandbox import SandboxedEnvironment

RESERVED = frozenset({"email", "preferences", "unsubscribe_url"})
SAMPLE = {"email": "member@example.com", "preferences": {}, "unsubscribe_url": "https://example.com/unsubscribe"}

MAX_OUTPUT = 1024 * 1024  # characters of one rendered template
MAX_EXPONENT = 64


class _Bounded(SandboxedEnvironment):
    """The sandbox, with * and ** checked before they run (jinja2's intercepted_binops)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise OverflowError(f"exponent {right} is larger than {MAX_EXPONENT}")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_OUTPUT:
                    raise OverflowError(f"repeated past {MAX_OUTPUT} items")
        return super().call_binop(context, operator, left, right)


_plain = _Bounded(autoescape=False, keep_trailing_newline=True)
_html = _Bounded(autoescape=True, keep_trailing_newline=True)


def _render(template, values: dict) -> str:
    out, size = [], 0
    for piece in template.generate(values):
        size += len(piece)
        if size > MAX_OUTPUT:
            raise OverflowError(f"longer than {MAX_OUTPUT} characters")
        out.append(piece)
    return "".join(out)


class TemplateError(ValueError):
    """A template that cannot be used; the message names it and says why."""


@dataclass
class Rendered:
    subject: str
    text: str
    html: str


def context(email: str, preferences: dict[str, str], unsubscribe_url: str) -> dict:
    names = {k: v for k, v in preferences.items() if k.isidentifier() and k not in RESERVED}
    return {**names, "email": email, "preferences": dict(preferences), "unsubscribe_url": unsubscribe_url}


class JobTemplates:
    """A job's three templates, parsed once."""

    def __init__(self, subject: str, text: str, html: str):
        self._templates = {}
        for name, source, env in (("subject", subject, _plain), ("body_text", text, _plain),
                                  ("body_html", html, _html)):
            try:
                self._templates[name] = env.from_string(source) if source else None
            except jinja2.TemplateSyntaxError as e:
                raise TemplateError(f"{name}: line {e.lineno}: {e.message}") from None

    def render(self, values: dict) -> Rendered:
        """The job's message for one member; TemplateError when a template fails on these values."""
        out = {}
        for name, template in self._templates.items():
            try:
                out[name] = _render(template, values) if template is not None else ""
            except jinja2.TemplateError as e:
                raise TemplateError(f"{name}: {e}") from None
            except Exception as e:  # a template's arithmetic and the like: 1/0, int("x")
                raise TemplateError(f"{name}: {type(e).__name__}: {e}") from None
        # A header field is one line (RFC 5322 2.2): line breaks a value brings in become spaces.
        subject = " ".join(out["subject"].split())
        return Rendered(subject=subject, text=out["body_text"], html=out["body_html"])

    def check(self) -> None:
        """TemplateError unless the templates render with sample values."""
        self.render(SAMPLE)
