"""Writing header fields of outgoing messages, folded, in time linear in their size.

The email package's header folding takes about a millisecond per word of
non-ASCII text, so a large Subject or display name held a CPU for minutes;
this writer makes one pass. A field is written as tokens separated by
single spaces, and a line is folded (RFC 5322 2.2.3: CRLF before a space)
before a token that would take it past 78 characters (RFC 5322 2.1.1).
Text that is not ASCII becomes RFC 2047 encoded words (base64, with the
standard library's codec), unless the message goes out with SMTPUTF8
(RFC 6532 3.2: UTF-8 allowed in header fields). A token is never split,
so one longer than MAX_TOKEN would make a line past RFC 5322's 998-octet
limit: callers check first (compose.check_bounds).

MIME fields with parameters (Content-Type, Content-Disposition) are
written the same way, a parameter per token; a parameter value that is
not printable ASCII, or too long for a line, is written as RFC 2231
sections.
"""

from __future__ import annotations

import email.utils
import re
from email import base64mime

from .address import Address

MAX_LINE = 78  # RFC 5322 2.1.1: lines should be at most 78 characters
LINE_LIMIT = 998  # RFC 5322 2.1.1: and must be at most 998
MAX_TOKEN = 900  # a word that cannot be folded; with the name or a space it stays under 998 octets

# RFC 2047 2: an encoded word is at most 75 characters. 39 octets of UTF-8 make 52 in base64, 64 with
# "=?utf-8?b??=", so one fits on the first line after a field name of up to 12 characters.
_ENCODED_CHUNK = 39

# RFC 5322 3.2.3: atext, the characters of an atom.
_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~")


def octets(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def field(name: str, tokens: list[str]) -> str:
    """The header field with CRLF, folded between tokens."""
    lines = []
    line = name + ":"
    width = len(line)
    first = True
    for token in tokens:
        size = octets(token) if not token.isascii() else len(token)
        # Never fold before an empty token (runs of spaces): that could make a line of only whitespace,
        # which RFC 5322 3.2.2 does not allow. Right after the name only when the line would pass 998:
        # some parsers keep the folded space as part of the value.
        limit = MAX_LINE if not first else LINE_LIMIT
        first = False
        if token and width + 1 + size > limit:
            lines.append(line)
            line, width = " " + token, 1 + size
        else:
            line += " " + token
            width += 1 + size
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def encoded_words(text: str) -> list[str]:
    """RFC 2047 encoded words (utf-8, base64) for text, never splitting a character between two."""
    data = text.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = min(start + _ENCODED_CHUNK, len(data))
        # Back up to the start of a UTF-8 sequence: continuation bytes are 10xxxxxx.
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        words.append(base64mime.header_encode(data[start:end], "utf-8"))
        start = end
    return words


def unstructured(value: str, utf8: bool, encode_long: bool) -> list[str]:
    """Tokens for unstructured text (RFC 5322 3.2.5), such as Subject.

    Runs of words that are not ASCII become encoded words (RFC 2047 5(1)),
    the spaces between them inside; whitespace between encoded words is not
    part of the text (RFC 2047 6.2), so plain words keep a space of their
    own. With encode_long, ASCII words too long to fold are encoded as well
    (for Subject; not for fields whose syntax the caller knows, such as a
    URL in List-Unsubscribe).
    """
    tokens: list[str] = []
    run: list[str] = []

    def flush():
        if run:
            tokens.extend(encoded_words(" ".join(run)))
            run.clear()

    for word in value.split(" "):
        plain = word.isascii() or utf8
        if plain and encode_long and octets(word) > MAX_TOKEN:
            plain = False
        if not plain or (run and not word):
            run.append(word)
        else:
            flush()
            tokens.append(word)
    flush()
    return tokens


def _is_atom(word: str, utf8: bool) -> bool:
    # RFC 6532 3.2: with UTF-8 headers, non-ASCII characters are atext too.
    return bool(word) and all(c in _ATEXT or (utf8 and ord(c) > 127) for c in word)


def _quote(text: str) -> str:
    # RFC 5322 3.2.4: backslash and double quote are escaped in a quoted string.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def addr_spec(address: Address, utf8: bool) -> str:
    """local@domain, the localpart quoted when it is not a dot-atom (RFC 5322 3.4.1)."""
    local = address.localpart
    quoted = len(local) >= 2 and local[0] == local[-1] == '"'  # kept as given by parse_address
    if not quoted and not all(_is_atom(part, True) for part in local.split(".")):
        local = _quote(local)
    return f"{local}@{address.domain if utf8 else address.ascii_domain}"


def phrase(name: str, utf8: bool) -> list[str]:
    """Tokens for a display name (RFC 5322 3.2.5 phrase): atoms, a quoted string, or encoded words."""
    words = name.split(" ")
    if all(_is_atom(w, utf8) and octets(w) <= MAX_TOKEN for w in words):
        return words
    if (name.isascii() or utf8) and all(octets(w) <= MAX_TOKEN for w in words):
        # RFC 5322 3.2.4: a quoted string may be folded at its spaces.
        return _quote(name).split(" ")
    # RFC 2047 5(3): encoded words may stand for a phrase; base64 keeps its specials out of sight.
    return encoded_words(name)


def address_list(addresses: list[tuple[str, Address]], utf8: bool) -> list[str]:
    """Tokens for an address list: name <addr>, separated by commas (RFC 5322 3.4)."""
    tokens: list[str] = []
    for i, (name, address) in enumerate(addresses):
        spec = addr_spec(address, utf8)
        if name:
            tokens.extend(phrase(name, utf8))
            spec = f"<{spec}>"
        tokens.append(spec + ("," if i < len(addresses) - 1 else ""))
    return tokens


# A character of a percent-encoded UTF-8 value (RFC 2231 4): a character left as it is, or the octets of
# one, the first not a continuation octet (10xxxxxx, %80 to %BF).
_PERCENT_CHAR = re.compile(r"%[0-9A-F]{2}(?:%[89AB][0-9A-F])*|.")


def _parameter(name: str, value: str, separator: str) -> list[str]:
    """The parameter as one token, or as RFC 2231 sections of a line each: name*0, name*1, ..."""
    # RFC 2045 5.1: a value is a quoted string; RFC 2231 4: one that is not printable ASCII is
    # percent-encoded UTF-8, marked by a "*" after the name and the charset.
    plain = value.isascii() and value.isprintable()
    encoded = "" if plain else email.utils.encode_rfc2231(value, "utf-8")
    one = f"{name}={_quote(value)}" if plain else f"{name}*={encoded}"
    if 1 + len(one) + len(separator) <= MAX_LINE:
        return [one + separator]

    def section(i: int, text: str, end: str) -> str:
        if plain:
            return f'{name}*{i}="{text}"{end}'
        return f"{name}*{i}*=" + ("utf-8''" if i == 0 else "") + text + end

    # RFC 2231 3: sections, each on a line of its own (after the folding space). A character is never split
    # between two, since some decoders decode each section by itself. A long name makes lines longer than
    # 78, but names are short tokens (the caller checks).
    if plain:
        chars = ["\\" + c if c in '"\\' else c for c in value]
    else:
        chars = _PERCENT_CHAR.findall(encoded[len("utf-8''"):])
    tokens: list[str] = []
    text: list[str] = []
    width = 0
    room = MAX_LINE - 1 - len(section(0, "", ";"))
    for c in chars:
        if text and width + len(c) > room:
            tokens.append(section(len(tokens), "".join(text), ";"))
            text, width = [], 0
            room = MAX_LINE - 1 - len(section(len(tokens), "", ";"))
        text.append(c)
        width += len(c)
    tokens.append(section(len(tokens), "".join(text), separator))
    return tokens


def parameters(value: str, params: list[tuple[str, str]]) -> list[str]:
    """Tokens for a MIME field value with parameters, "value; name=..." (RFC 2045 5.1, RFC 2183 2).

    Names must be tokens (the caller checks); values may be any text.
    """
    tokens = [value + (";" if params else "")]
    for i, (name, v) in enumerate(params):
        tokens.extend(_parameter(name, v, ";" if i < len(params) - 1 else ""))
    return tokens
