"""The readable content of a stored message, from its part tree (message.part):
the first text/plain and text/html bodies decoded whole, the same HTML as
plain text, a short preview, and whether the message has attachments.

What the store indexes at delivery (sizes, preview, the words of the body
for full-text search) and what the webapi's MessageTextGet returns come
from here, so a summary's TextSize is exactly the size of the text that
MessageTextGet returns uncut. Pure and tolerant: bytes and a tree in,
values out; a part with a bad encoding or charset still yields text.
"""

from __future__ import annotations

import html.parser
import re

from . import parse as msgparse
from . import part as partlib

PREVIEW_LENGTH = 200  # characters


def parts(root: partlib.Part) -> tuple[partlib.Part | None, partlib.Part | None]:
    """The first text/plain and text/html parts, picked as MessageGet picks them (message.parse.readable_parts):
    among the first level of parts that holds any (not attachments), in a multipart/alternative the last of each
    type, elsewhere the first; the message itself when it is text."""
    text, html_part, _ = _pick(root)
    return text, html_part


def _kind(part: partlib.Part) -> str:
    if part.media_type == "text" and part.subtype in ("plain", "html"):
        return part.subtype
    return ""


def _pick(part: partlib.Part) -> tuple[partlib.Part | None, partlib.Part | None, bool]:
    kind = _kind(part)
    if kind == "plain":
        return part, None, True
    if kind == "html":
        return None, part, True
    children = _children(part)
    if not children:
        return None, None, False
    alternative = part.multipart and part.subtype == "alternative"
    text = html_part = None
    found = False
    for child in children:
        child_kind = _kind(child)
        if not child_kind or child.disposition == "attachment":
            continue
        found = True
        if child_kind == "plain":
            text = child
        else:
            html_part = child
        if not alternative:
            break
    if found:
        return text, html_part, True
    for child in children:
        text, html_part, found = _pick(child)
        if found:
            return text, html_part, True
    return None, None, False


def _children(part: partlib.Part) -> list[partlib.Part]:
    if part.multipart:
        return part.parts
    return [part.message] if part.message is not None else []


def decode(data: bytes, part: partlib.Part | None, limit: int | None = None) -> str:
    """A text part's body as text: transfer encoding undone (and cut at limit octets), charset decoded (UTF-8
    when none is named or the name is unknown; bad bytes become U+FFFD), \\n line ends."""
    if part is None:
        return ""
    body = msgparse.transfer_decoded(data, part)
    if limit is not None:
        body = body[:limit]
    charset = dict(part.params).get("charset", "").strip().lower()
    if charset in ("", "us-ascii", "ascii"):
        charset = "utf-8"  # ASCII is a subset; 8-bit mail without a charset is UTF-8 in practice
    try:
        text = body.decode(charset, "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")  # a bare \n stays as it is


def texts(data: bytes, root: partlib.Part) -> tuple[str, str]:
    """The message's readable text and HTML, decoded whole (empty when it has none)."""
    text, html_part = parts(root)
    return decode(data, text), decode(data, html_part)


def addresses(found: list[partlib.EnvelopeAddress]) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address field as the part tree's envelope has them: encoded words
    decoded, group markers and addresses without a domain left out (as message.parse.addresses does)."""
    return [(msgparse.decode_words(a.name), f"{a.mailbox}@{a.host}") for a in found if a.host]


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def cut(text: str, max_bytes: int) -> tuple[str, bool]:
    """Text cut to at most max_bytes octets of UTF-8, on a character boundary; and whether it was cut."""
    if len(text) * 4 <= max_bytes:
        return text, False  # no character takes more than 4 octets
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text, False
    # Dropping the incomplete last character leaves valid UTF-8.
    return encoded[:max_bytes].decode("utf-8", "ignore"), True


class _TextExtractor(html.parser.HTMLParser):
    """The text of an HTML document as a reader sees it: no markup, scripts or styles; breaks at blocks."""

    _SKIP = {"script", "style", "head", "title", "template"}
    _BREAK = {"br", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote",
              "pre", "hr", "ul", "ol", "section", "article", "header", "footer"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.chunks.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BREAK:
            self.chunks.append("\n")

    def handle_data(self, data):
        if not self._skipping:
            self.chunks.append(data)


def html_text(document: str) -> str:
    """The readable text of an HTML body, lines stripped, runs of empty lines made one."""
    if not document:
        return ""
    extractor = _TextExtractor()
    try:
        extractor.feed(document)
        extractor.close()
    except Exception:  # html.parser is lenient, but mail is whatever was sent
        pass
    lines = [" ".join(line.split()) for line in "".join(extractor.chunks).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def preview(text: str, html_body: str) -> str:
    """The first PREVIEW_LENGTH characters of the text (else of the HTML's text), whitespace collapsed."""
    source = text if text.strip() else html_text(html_body[:64 * 1024])
    # Only the start is needed: collapse a bounded prefix, not a 10 MB body.
    return " ".join(source[:PREVIEW_LENGTH * 16].split())[:PREVIEW_LENGTH]


def has_attachments(root: partlib.Part) -> bool:
    """Whether a message carries files: a part marked as attachment, a forwarded message, or a non-text part
    that is not inline content of the message (as an image in multipart/related or marked inline)."""
    return _attached(root, None, top=True)


def _attached(part: partlib.Part, parent: partlib.Part | None, top: bool) -> bool:
    if part.multipart:
        return any(_attached(child, part, False) for child in part.parts)
    if top:
        return False  # a single-part message is its own body
    if part.disposition == "attachment":
        return True
    if part.disposition == "inline":
        return False
    if part.media_type == "message":
        return True
    if part.media_type == "text":
        return False
    return not (parent is not None and parent.subtype == "related")
