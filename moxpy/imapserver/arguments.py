"""Reading a command's arguments (RFC 3501 9) from the rest of its line.

Each reader takes what follows the previous argument and returns the
argument and the rest of the line, or a Literal when the argument goes on
in a literal ({N} or {N+}, RFC 7888) that the session has to read first;
the session then calls the Literal's resume with the literal's bytes and
the line after it. Readers do no I/O and know nothing of sessions; bad
syntax raises syntax.CommandSyntaxError, answered with BAD.

Some messages keep the wording of the Twisted parser these readers
replace ("Missing argument", "Malformed flag"), which clients have seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.mail import imap4

from . import binary, esearch, syntax
from . import fetch as fetchlib
from .syntax import CommandSyntaxError

# The longest literal taken as a string argument (a name, a search string); APPEND's message is not one.
STRING_LITERAL_LIMIT = 4096

# RFC 3501 9: ATOM-CHAR is any CHAR except atom-specials: ( ) { SP CTL % * " \ ]
_ATOM_CHARS = rb"!#$&'+-\[^-z|}~"
_ATOM = re.compile(rb"([" + _ATOM_CHARS + rb"]+)(?: (.*)|)\Z", re.DOTALL)
_FLAG = re.compile(rb"(\\?[" + _ATOM_CHARS + rb"]+)(?: |\Z)")

Result = Any  # (value, rest of the line), or a Literal


@dataclass
class Literal:
    """An argument that continues in a literal the session must read before parsing goes on."""

    size: int  # octets
    nonsync: bool  # RFC 7888 {N+}: sent without waiting for a continuation request
    file: bool  # kept as a file (APPEND's message) rather than bytes
    resume: Callable[[Any, bytes], Result]  # (the literal, the line after it) -> a Result


def _string_literal(line: bytes, final: bool) -> Result:
    m = syntax.LITERAL_AT_END.fullmatch(line)
    if not m:
        raise CommandSyntaxError("malformed literal")
    size = int(m.group(1))
    if final and size == 0:
        return b"", b""
    if size > STRING_LITERAL_LIMIT:
        raise CommandSyntaxError(f"string literal too long, at most {STRING_LITERAL_LIMIT} octets")
    return Literal(size, bool(m.group(2)), False, lambda data, rest: (data, rest))


def astring(line: bytes, final: bool = False) -> Result:
    """An atom, a quoted string (with escapes) or a literal (RFC 3501 9 astring)."""
    line = line.lstrip(b" ")
    if not line:
        raise CommandSyntaxError("missing argument")
    if line[:1] == b'"':
        return syntax.read_quoted(line)
    if line[:1] == b"{":
        return _string_literal(line, final)
    arg, _, rest = line.partition(b" ")
    return arg, rest


def final_astring(line: bytes) -> Result:
    """An astring as the last argument, where an empty literal {0} needs no continuation."""
    return astring(line, final=True)


def atom(line: bytes) -> Result:
    if not line:
        raise CommandSyntaxError("Missing argument")
    m = _ATOM.match(line)
    if not m:
        raise CommandSyntaxError("Malformed ATOM")
    return m.group(1), m.group(2) or b""


def paren_list(line: bytes) -> Result:
    """A parenthesised list of atoms and quoted strings, without literals (STATUS items, APPEND flags)."""
    if not line:
        raise CommandSyntaxError("Missing argument")
    if line[:1] != b"(":
        raise CommandSyntaxError("Missing parenthesis")
    end = line.find(b")")
    if end == -1:
        raise CommandSyntaxError("Mismatched parenthesis")
    try:
        return imap4.parseNestedParens(line[1:end], 0), line[end + 2:]
    except (imap4.MismatchedNesting, imap4.MismatchedQuoting):
        raise CommandSyntaxError("unbalanced parentheses or quotes") from None


def optional_paren_list(line: bytes) -> Result:
    if line.startswith(b"("):
        return paren_list(line)
    return None, line


def optional_date_time(line: bytes) -> Result:
    """A quoted date-time, left as text (syntax.parse_date_time reads it), or None when absent."""
    if not line.startswith(b'"'):
        return None, line
    try:
        _, value, rest = line.split(b'"', 2)
    except ValueError:
        raise CommandSyntaxError("Malformed date-time") from None
    return value, rest[1:]


@dataclass
class AppendMessage:
    """One message of an APPEND: its flags and date-time when given, and its literal as a file."""

    flags: list | None
    date: bytes | None
    file: Any
    binary: bool  # sent as ~{N} (RFC 3516 4.4): may hold any octet, NUL too


def append_messages(line: bytes, done: list[AppendMessage] | None = None) -> Result:
    """APPEND's messages: one, or several (MULTIAPPEND, RFC 3502 6), each [flags] [date-time] literal, the
    literal of any size and kept as a file; a binary literal ~{N} too (RFC 3516 4.4)."""
    done = [] if done is None else done
    flags, line = optional_paren_list(line)
    date, line = optional_date_time(line)
    m = syntax.LITERAL_AT_END.fullmatch(line.strip()) if line else None
    if not m:
        raise CommandSyntaxError("literal expected")
    binary = line.strip().startswith(b"~")

    def resume(data, rest: bytes) -> Result:
        done.append(AppendMessage(flags, date, data, binary))
        if not rest:
            return done, b""
        if rest[:1] != b" ":
            raise CommandSyntaxError("expected another message or the end of the command after a message")
        return append_messages(rest[1:], done)

    return Literal(int(m.group(1)), bool(m.group(2)), True, resume)


def sequence_set(line: bytes) -> Result:
    arg, _, rest = line.partition(b" ")
    if arg == b"$":
        return esearch.SAVED, rest  # RFC 5182 2.1: the saved search result
    return syntax.parse_sequence_set(arg), rest


def fetch_items(line: bytes) -> Result:
    """FETCH's data items, as names and fetch.Section (RFC 3501 6.4.5)."""
    try:
        if b"BINARY" in line.upper():
            return binary.parse_items(line), b""  # RFC 3516 items, which the FETCH parser does not know
        return fetchlib.parse_items(line), b""
    except fetchlib.FetchError as e:
        raise CommandSyntaxError(str(e)) from None


def search_keys(line: bytes, stack: list | None = None) -> Result:
    """SEARCH's keys as tokens (syntax.tokenize): the rest of the line, with any literals in it."""
    return tokens(line, stack, "search literal too long")


def list_arguments(line: bytes) -> Result:
    """LIST's arguments as tokens: with RFC 5258's options and pattern lists they are not a fixed sequence."""
    return tokens(line, None, f"string literal too long, at most {STRING_LITERAL_LIMIT} octets")


def tokens(line: bytes, stack: list | None, too_long: str) -> Result:
    """The rest of the line as tokens (syntax.tokenize), with any literals in it."""
    found, pending = syntax.tokenize(line, stack=stack)
    if pending is None:
        return found, b""
    size, nonsync, stack = pending
    if size > STRING_LITERAL_LIMIT:
        raise CommandSyntaxError(too_long)

    def resume(data: bytes, rest: bytes) -> Result:
        stack[-1].append(syntax.String(data))
        return tokens(rest, stack, too_long)

    return Literal(size, nonsync, False, resume)


def flag_list(line: bytes) -> Result:
    """STORE's flags: a parenthesised list, or flags without parentheses (RFC 3501 6.4.6)."""
    if not line:
        raise CommandSyntaxError("missing flags")
    if line[:1] == b"(":
        if line[-1:] != b")":
            raise CommandSyntaxError("Mismatched parenthesis")
        line = line[1:-1]
    flags = []
    i = 0
    while i < len(line):
        m = _FLAG.match(line, i)
        if not m:
            raise CommandSyntaxError("Malformed flag")
        flags.append(m.group(1).decode("ascii"))
        i = m.end()
    return flags, b""


def rest_of_line(line: bytes) -> Result:
    """Everything left, unparsed (ID's and ENABLE's arguments, the command after UID)."""
    return line, b""
