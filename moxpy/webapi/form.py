"""The fields of an application/x-www-form-urlencoded body, read as Go's
url.ParseQuery reads them for mox: a malformed %-escape or a ";" separator
is an error, and so (here) is text that is not UTF-8 after unescaping.

A large body (a message sent inside the form, every non-ASCII octet a
%-escape) takes seconds to unescape, and scanning it for bad escapes
holds the GIL throughout; a body over offload.APART octets is read in the
helper process, so the server's event loop keeps running meanwhile.
"""

from __future__ import annotations

import re
import urllib.parse

from .. import offload
from .errors import WebapiError

_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def urlencoded_fields(body: bytes) -> dict[str, list[str]]:
    """The fields of a form body, each with its values in order; WebapiError (protocol) for a bad form."""
    try:
        return offload.apart(_fields, body) if len(body) > offload.APART else _fields(body)
    except ValueError as e:
        raise WebapiError("protocol", f"parsing form: {e}") from None


def _fields(body: bytes) -> dict[str, list[str]]:
    # ValueError, which crosses from the helper process as it is, says what is wrong.
    if bad := _BAD_ESCAPE.search(body):
        escape = body[bad.start():bad.start() + 3].decode("latin-1")
        raise ValueError(f"invalid URL escape {escape!r}")
    if b";" in body:
        raise ValueError("invalid semicolon separator")
    try:
        return urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise ValueError("not utf-8") from None
