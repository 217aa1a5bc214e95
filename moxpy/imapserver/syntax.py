"""IMAP wire syntax (RFC 3501 9): writing strings (atom, quoted,
literal), reading quoted strings with escapes and parenthesised token
lists with literals, sequence sets, dates and times, and response text.

Pure functions over bytes; no sockets, no store. Command arguments are
read with these in arguments.py, mailbox names in names.py.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone


class CommandSyntaxError(ValueError):
    """A command argument that does not follow the grammar; answered with BAD."""


class String(bytes):
    """A quoted string or literal argument, as opposed to an atom."""


MAX_QUOTED = 1000

# RFC 3501 9: quoted strings take printable ASCII without CR and LF.
_QUOTABLE = re.compile(rb"^[\x20-\x7e]*$")
_ATOM = re.compile(rb"^[!#$&'+-Z^-z|~]+$")  # ATOM-CHAR without the list/resp specials


def quoted(value: bytes) -> bytes:
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(value: bytes) -> bytes:
    return b"{%d}\r\n" % len(value) + value


def string(value: str | bytes) -> bytes:
    """A string as a quoted string when it can be one, else as a literal."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if len(value) <= MAX_QUOTED and _QUOTABLE.match(value):
        return quoted(value)
    return literal(value)


def nstring(value: str | bytes | None) -> bytes:
    return string(value) if value else b"NIL"


def astring(value: str | bytes) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if value and _ATOM.match(value) and value.upper() != b"NIL":
        return value
    return string(value)


def read_quoted(line: bytes) -> tuple[bytes, bytes]:
    """Read a quoted string at the start of line; return (value, rest after one space)."""
    out = bytearray()
    i = 1
    while i < len(line):
        c = line[i]
        if c == 0x5C:  # backslash: RFC 3501 9 allows escaping only " and \
            if i + 1 >= len(line) or line[i + 1] not in b'"\\':
                raise CommandSyntaxError("bad escape in quoted string")
            out.append(line[i + 1])
            i += 2
        elif c == 0x22:
            rest = line[i + 1:]
            if rest[:1] == b" ":
                rest = rest[1:]
            elif rest and rest[:1] not in b")]":
                raise CommandSyntaxError("missing space after quoted string")
            return bytes(out), rest
        else:
            out.append(c)
            i += 1
    raise CommandSyntaxError("unterminated quoted string")


LITERAL_AT_END = re.compile(rb"~?\{(\d{1,10})(\+?)\}$")


def tokenize(line: bytes, stack: list | None = None):
    """Split arguments into atoms (bytes), strings (String) and lists (list).

    Returns (tokens, None) when the line is complete, or (tokens, (size,
    nonsync, stack)) when it ends in a literal that the caller must read
    first; then call again with the text after the literal, passing the
    literal as String appended to the innermost open list, and the stack.
    """
    if stack is None:
        stack = [[]]
    i = 0
    n = len(line)
    while i < n:
        c = line[i:i + 1]
        if c == b" ":
            i += 1
        elif c == b"(":
            new: list = []
            stack[-1].append(new)
            stack.append(new)
            i += 1
        elif c == b")":
            if len(stack) == 1:
                raise CommandSyntaxError("unbalanced parenthesis")
            stack.pop()
            i += 1
        elif c == b'"':
            value, rest = read_quoted(line[i:])
            stack[-1].append(String(value))
            i = n - len(rest)
        elif c in (b"{", b"~"):
            m = LITERAL_AT_END.match(line, i)
            if not m:
                raise CommandSyntaxError("bad literal")
            return stack[0], (int(m.group(1)), bool(m.group(2)), stack)
        else:
            j = i
            depth = 0
            # An atom ends at a space or a closing parenthesis; brackets may hold spaces (BODY[HEADER.FIELDS (A B)]).
            while j < n:
                ch = line[j]
                if ch == 0x5B:
                    depth += 1
                elif ch == 0x5D:
                    depth -= 1
                elif depth <= 0 and ch in b" ()":
                    break
                j += 1
            stack[-1].append(line[i:j])
            i = j
    if len(stack) != 1:
        raise CommandSyntaxError("unbalanced parenthesis")
    return stack[0], None


MAX_NZ_NUMBER = 2**32 - 1


def parse_sequence_set(text: bytes) -> list[tuple[int | None, int | None]]:
    """RFC 3501 9 sequence-set as (low, high) ranges; None stands for "*"."""
    ranges = []
    if not text:
        raise CommandSyntaxError("empty sequence set")
    for item in text.split(b","):
        low, colon, high = item.partition(b":")
        try:
            a = None if low == b"*" else int(low)
            b = a if not colon else (None if high == b"*" else int(high))
        except ValueError:
            raise CommandSyntaxError("bad sequence set, expected numbers, ranges like 2:4 and *, separated by commas") from None
        if (a is not None and a <= 0) or (b is not None and b <= 0) or not low.isdigit() and low != b"*":
            raise CommandSyntaxError("bad sequence set, numbers start at 1")
        if (a or 0) > MAX_NZ_NUMBER or (b or 0) > MAX_NZ_NUMBER:
            # RFC 3501 9: nz-number is an unsigned 32-bit integer.
            raise CommandSyntaxError(f"bad sequence set, numbers are at most {MAX_NZ_NUMBER}")
        ranges.append((a, b))
    return ranges


def format_uid_set(uids: list[int]) -> bytes:
    """Compact UIDs in the order given: 1:3,7 (RFC 4315 uid-set)."""
    out = []
    i = 0
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        out.append(b"%d" % uids[i] if i == j else b"%d:%d" % (uids[i], uids[j]))
        i = j + 1
    return b",".join(out)


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_MONTH_NUMBER = {m.lower(): i + 1 for i, m in enumerate(_MONTHS)}


def parse_date(text: bytes) -> date:
    """RFC 3501 date: 1-Feb-1994."""
    try:
        day, month, year = text.decode("ascii").split("-")
        return date(int(year), _MONTH_NUMBER[month.lower()], int(day))
    except (ValueError, KeyError, UnicodeDecodeError):
        raise CommandSyntaxError("bad date, expected a date like 1-Feb-1994") from None


_DATE_TIME = re.compile(r"^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$")


def parse_date_time(text: bytes) -> float:
    """RFC 3501 date-time ("17-Jul-1996 02:44:25 -0700") as a timestamp."""
    m = _DATE_TIME.match(text.decode("ascii", "replace"))
    if not m or m.group(2).lower() not in _MONTH_NUMBER:
        raise CommandSyntaxError("bad date-time, expected a date-time like 17-Jul-1996 02:44:25 -0700")
    d, mon, y, hh, mm, ss, sign, zh, zm = m.groups()
    offset = timedelta(hours=int(zh), minutes=int(zm)) * (-1 if sign == "-" else 1)
    try:
        moment = datetime(int(y), _MONTH_NUMBER[mon.lower()], int(d), int(hh), int(mm), int(ss),
                          tzinfo=timezone(offset))
    except ValueError:
        raise CommandSyntaxError("bad date-time, no such day or time") from None
    return moment.timestamp()


def format_date_time(timestamp: float) -> bytes:
    """INTERNALDATE in the server's local time zone."""
    t = time.localtime(timestamp)
    offset = t.tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    offset = abs(offset)
    return ('"%02d-%s-%04d %02d:%02d:%02d %s%02d%02d"' % (
        t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec, sign,
        offset // 60, offset % 60)).encode("ascii")


def plain_text(text: str, limit: int = 200) -> bytes:
    """Text for a response line: printable ASCII (resp-text, RFC 3501 9), other characters as "?"."""
    return "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in text[:limit]).encode("ascii")
