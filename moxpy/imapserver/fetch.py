"""FETCH: the requested items (RFC 3501 6.4.5) and their responses (7.4.2).

Items come from Twisted's FETCH attribute parser and are turned into
names and Section records here; a message's response is rendered from its
record (store.Message), its MIME tree (message.part) and, only for body
sections, its bytes. BODY[] is the stored message byte for byte.

Pure rendering: no sockets, no store. The FETCH command (selected.py)
reads what a message's response needs and hands it to response(); of a
large message, response_in_spans() says which octets of it to read and
send in their place, so it is not read whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.mail import imap4

from ..message import part as partlib
from ..store import Message
from ..store import flags as flaglib
from . import syntax

# The system flags, for FLAGS and PERMANENTFLAGS.
SYSTEM_FLAGS = " ".join(flaglib.DISPLAY.values()).encode()


def flag_list(keywords: list[str]) -> bytes:
    """The system flags and a mailbox's keywords, for FLAGS and PERMANENTFLAGS (RFC 3501 7.2.6, 7.1)."""
    return b" ".join([SYSTEM_FLAGS] + [k.encode("ascii", "replace") for k in keywords])


@dataclass
class Section:
    """A BODY[...] item."""

    peek: bool = False
    path: list[int] = field(default_factory=list)  # 1-based part numbers
    spec: str = ""  # "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
    fields: list[bytes] = field(default_factory=list)  # upper case
    partial: tuple[int, int] | None = None
    name: bytes = b"BODY"  # RFC822, RFC822.HEADER and RFC822.TEXT are answered under their own names

    @property
    def sets_seen(self) -> bool:
        return not self.peek

    def label(self, origin: int | None) -> bytes:
        if self.name != b"BODY":
            return self.name
        inner = ".".join(str(n) for n in self.path).encode()
        if self.spec:
            inner += (b"." if inner else b"") + self.spec.encode()
        if self.fields:
            inner += b" (" + b" ".join(syntax.astring(f) for f in self.fields) + b")"
        label = b"BODY[" + inner + b"]"
        if origin is not None:
            label += b"<%d>" % origin
        return label

    def render(self, data: bytes, root: partlib.Part) -> bytes:
        """The item and its value in a FETCH response."""
        return section_response(data, root, self)

    def span(self, root: partlib.Part | None, size: int) -> Span | None:
        """Where the item's value is in the message (its partial applied), when it is a plain slice of the
        message's octets; None when it is not (HEADER.FIELDS: the header is filtered)."""
        found = section_span(root, size, self)
        if found is None:
            return None
        return partial_span(Span(*found), self.partial)


class FetchError(ValueError):
    pass


@dataclass
class Span:
    """Octets start to end of a message, sent as a literal: a body section of a large message, read in parts
    rather than whole."""

    start: int
    end: int
    binary: bool = False  # a BINARY value: when streamed, a literal8 (RFC 3516 4.2), since it may hold NUL

    @property
    def size(self) -> int:
        return self.end - self.start


def partial_span(span: Span, partial: tuple[int, int] | None) -> Span:
    # RFC 3501 6.4.5: <origin.count> of the section; an origin beyond its end gives the empty string.
    if partial is None:
        return span
    origin, length = partial
    start = min(span.start + origin, span.end)
    return Span(start, min(start + length, span.end), span.binary)


def items(parsed: list) -> list:
    """Twisted's parsed FETCH attributes as names (UID, FLAGS, ...) and Section objects."""
    result = []
    for item in parsed:
        kind = item.type
        if kind == "body":
            result.append(_section(item))
        elif kind == "rfc822":
            result.append(Section(name=b"RFC822"))
        elif kind == "rfc822header":
            result.append(Section(peek=True, spec="HEADER", name=b"RFC822.HEADER"))
        elif kind == "rfc822text":
            result.append(Section(spec="TEXT", name=b"RFC822.TEXT"))
        else:
            result.append({"envelope": "ENVELOPE", "flags": "FLAGS", "internaldate": "INTERNALDATE",
                           "rfc822size": "RFC822.SIZE", "uid": "UID", "bodystructure": "BODYSTRUCTURE"}[kind])
    return result


def _section(body) -> Section | str:
    path = [n + 1 for n in body.part or ()]
    if not (body.empty or body.header or body.text or body.mime):
        if body.partialBegin is not None:
            raise FetchError("BODY without section takes no partial")
        return "BODY"  # the non-extensible BODYSTRUCTURE
    section = Section(peek=bool(body.peek), path=path)
    if body.header is not None:
        fields = [bytes(f).upper() for f in body.header.fields or ()]
        if not fields:
            section.spec = "HEADER"
        else:
            section.spec = "HEADER.FIELDS.NOT" if body.header.negate else "HEADER.FIELDS"
            section.fields = fields
    elif body.text is not None:
        section.spec = "TEXT"
    elif body.mime is not None:
        if not path:
            raise FetchError("MIME needs a part number")
        section.spec = "MIME"
    if body.partialBegin is not None:
        # RFC 3501 9: partial = "<" number "." nz-number ">"; Twisted's parser takes any integers.
        if body.partialBegin < 0 or body.partialLength < 1:
            raise FetchError("a partial is <origin.count>, an origin of 0 or more and a count of 1 or more")
        section.partial = (body.partialBegin, body.partialLength)
    return section


def needs_parts(items: list) -> bool:
    """Whether rendering items needs messages' MIME trees."""
    return any(i in ("ENVELOPE", "BODYSTRUCTURE", "BODY") for i in items) or any(
        i.path or i.spec for i in items if isinstance(i, Section))


def needs_bytes(items: list) -> bool:
    """Whether rendering items needs messages' bytes (for body sections)."""
    return any(isinstance(i, Section) for i in items)


def parse_items(line: bytes) -> list:
    parser = imap4._FetchParser()
    try:
        parser.parseString(line)
    except Exception:
        # The parser's messages quote the input as Python bytes; say what is expected instead.
        raise FetchError("bad fetch attributes, expected items like FLAGS, UID, ENVELOPE or BODY.PEEK[HEADER]"
                         ) from None
    if parser.state:
        raise FetchError("incomplete fetch attributes")
    return items(parser.result)


# Rendering.


_flag_cache: dict[tuple[tuple[str, ...], bool], bytes] = {}


def flags(names: list[str], recent: bool = False) -> bytes:
    """FLAGS (...) of a message's flags (store.Message.flags), with \\Recent when the session has it."""
    key = (tuple(names), recent)
    value = _flag_cache.get(key)
    if value is None:
        system = [n for n in names if flaglib.is_system(n)]
        if recent:
            system.append("\\Recent")  # RFC 3501 2.3.2: a system flag, kept by the session, not the store
        value = b"FLAGS (" + " ".join(system + [n for n in names if not flaglib.is_system(n)]).encode() + b")"
        if len(_flag_cache) < 4096:
            _flag_cache[key] = value
    return value


def _addresses(addresses: list[partlib.EnvelopeAddress]) -> bytes:
    if not addresses:
        return b"NIL"
    return b"(" + b"".join(
        b"(" + syntax.nstring(a.name) + b" NIL " + syntax.nstring(a.mailbox) + b" " + syntax.nstring(a.host) + b")"
        for a in addresses) + b")"


def envelope(env: partlib.Envelope | None) -> bytes:
    env = env or partlib.Envelope()
    return b"(" + b" ".join((
        syntax.nstring(env.date), syntax.nstring(env.subject), _addresses(env.from_), _addresses(env.sender),
        _addresses(env.reply_to), _addresses(env.to), _addresses(env.cc), _addresses(env.bcc),
        syntax.nstring(env.in_reply_to), syntax.nstring(env.message_id),
    )) + b")"


def _params(params: list[tuple[str, str]]) -> bytes:
    if not params:
        return b"NIL"
    return b"(" + b" ".join(syntax.string(k) + b" " + syntax.string(v) for k, v in params) + b")"


def _disposition(part: partlib.Part) -> bytes:
    if not part.disposition:
        return b"NIL"
    return b"(" + syntax.string(part.disposition) + b" " + _params(part.disposition_params) + b")"


def bodystructure(part: partlib.Part, extended: bool) -> bytes:
    """BODYSTRUCTURE (extended) or BODY (RFC 3501 7.4.2) of a part."""
    if part.multipart and part.parts:
        out = b"(" + b"".join(bodystructure(p, extended) for p in part.parts) + b" " + syntax.string(part.subtype.upper())
        if extended:
            out += b" " + b" ".join((_params(part.params), _disposition(part), syntax.nstring(part.language),
                                     syntax.nstring(part.location)))
        return out + b")"
    fields = [
        syntax.string(part.media_type.upper()), syntax.string(part.subtype.upper()), _params(part.params),
        syntax.nstring(part.content_id), syntax.nstring(part.description), syntax.string(part.encoding),
        b"%d" % part.size,
    ]
    if part.message is not None:
        fields += [envelope(part.message.envelope), bodystructure(part.message, extended), b"%d" % part.lines]
    elif part.media_type == "text":
        fields.append(b"%d" % part.lines)
    if extended:
        fields += [syntax.nstring(part.md5), _disposition(part), syntax.nstring(part.language),
                   syntax.nstring(part.location)]
    return b"(" + b" ".join(fields) + b")"


def _header_fields(header: bytes, names: list[bytes], negate: bool) -> bytes:
    """The header fields named (or all but those), raw, then the empty line (RFC 3501 6.4.5)."""
    wanted = {n.lower() for n in names}
    out = []
    keep = False
    for line in header.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] not in (b" ", b"\t"):
            name = line.split(b":", 1)[0].strip().lower()
            keep = (name in wanted) != negate
        if keep:
            out.append(line)
    return b"".join(out) + b"\r\n"


def section_data(data: bytes, root: partlib.Part, section: Section) -> bytes:
    """The bytes of a body section; empty when the section does not exist."""
    if not section.path and not section.spec:
        return data
    part = partlib.find(root, section.path)
    if part is None:
        return b""
    spec = section.spec
    if spec == "":
        return data if not section.path else data[part.body_start:part.end]
    if spec == "MIME":
        return data[part.header_start:part.body_start]
    if section.path:
        # HEADER and TEXT of a part are those of the message inside a message/rfc822 part.
        if part.message is None:
            return b""
        part = part.message
    if spec == "TEXT":
        return data[part.body_start:part.end]
    header = data[part.header_start:part.body_start]
    if spec == "HEADER":
        return header
    return _header_fields(header, section.fields, spec == "HEADER.FIELDS.NOT")


def section_span(root: partlib.Part | None, size: int, section: Section) -> tuple[int, int] | None:
    """Where section_data's value is in a message of size octets, (start, end), when it is a slice of the
    message; None when it is not. The same cases as section_data, without the bytes."""
    if not section.path and not section.spec:
        return 0, size
    part = partlib.find(root, section.path)
    if part is None:
        return 0, 0
    spec = section.spec
    if spec == "":
        return (0, size) if not section.path else (part.body_start, part.end)
    if spec == "MIME":
        return part.header_start, part.body_start
    if section.path:
        if part.message is None:
            return 0, 0
        part = part.message
    if spec == "TEXT":
        return part.body_start, part.end
    if spec == "HEADER":
        return part.header_start, part.body_start
    return None


def section_response(data: bytes, root: partlib.Part, section: Section) -> bytes:
    value = section_data(data, root, section)
    origin = None
    if section.partial is not None:
        origin, length = section.partial
        value = value[origin:origin + length]
    return section.label(origin) + b" " + syntax.literal(value)


def response(seq: int, message: Message, items: list, flags_item: bytes, *, data: bytes | None,
             root: partlib.Part | None, with_flags: bool = False) -> bytes:
    """The FETCH response of a message, with its CRLF (RFC 3501 7.4.2).

    flags_item: its FLAGS item (flags()); data: its bytes, when needs_bytes(items); root: its MIME tree, when
    needs_parts(items); with_flags: add FLAGS after the items asked for (RFC 3501 6.4.5: \\Seen was set).
    """
    fields = [_item(item, message, flags_item, root) if isinstance(item, str) else item.render(data, root)
              for item in items]
    if with_flags:
        fields.append(flags_item)
    return b"* %d FETCH (%s)\r\n" % (seq, b" ".join(fields))


def response_in_spans(seq: int, message: Message, items: list, flags_item: bytes, *, root: partlib.Part | None,
                      with_flags: bool = False) -> list[bytes | Span] | None:
    """The FETCH response of a large message as response() would render it, with each body section's value
    left as a Span of the message, to be read and sent in parts: text and spans, in order; each Span stands
    for its label's literal (the "{n}" CRLF and the octets). None when some section is not a slice of the
    message (then the message is read whole and response() renders it)."""
    out: list[bytes | Span] = [b"* %d FETCH (" % seq]
    for i, item in enumerate(items):
        if i:
            out.append(b" ")
        if isinstance(item, str):
            out.append(_item(item, message, flags_item, root))
            continue
        span = item.span(root, message.size)
        if span is None:
            return None
        out += [item.label(item.partial[0] if item.partial is not None else None) + b" ", span]
    if with_flags:
        out.append(b" " + flags_item)
    out.append(b")\r\n")
    return out


def _item(item: str, message: Message, flags_item: bytes, root: partlib.Part | None) -> bytes:
    """A FETCH item that is not a body section, rendered."""
    if item == "UID":
        return b"UID %d" % message.uid
    if item == "FLAGS":
        return flags_item
    if item == "MODSEQ":
        return b"MODSEQ (%d)" % message.modseq  # RFC 7162 3.1.4.1
    if item == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % message.size
    if item == "INTERNALDATE":
        return b"INTERNALDATE " + syntax.format_date_time(message.received)
    if item == "ENVELOPE":
        return b"ENVELOPE " + envelope(root.envelope)
    if item == "BODYSTRUCTURE":
        return b"BODYSTRUCTURE " + bodystructure(root, True)
    return b"BODY " + bodystructure(root, False)  # "BODY"
