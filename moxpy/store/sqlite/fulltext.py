"""Search text as typed by a user, made an SQLite FTS5 query over
message_text (schema.py, summaries.py) that cannot be a syntax error.

The language is deliberately small: words, and "quoted phrases". Every
word must occur; a bare word matches words that start with it ("invoice"
finds "invoices"), a quoted phrase matches its words in that order, whole.
Nothing else is an operator: OR, NOT, -, *, ^, :, parentheses are text
like any other. FTS5's tokenizer (unicode61) splits on anything but letters
and digits, so "bob@example.com" is the phrase "bob example com" and
finds that address.

Each word or phrase becomes an FTS5 string (double quotes, inner quotes
doubled), so user input is never parsed as FTS5 syntax.
"""

from __future__ import annotations

import re

from ..search import SearchError

MAX_TERMS = 64  # words and phrases in one criterion

# A quoted phrase (an unclosed quote runs to the end), or a run of anything but space and quotes.
_TERM = re.compile(r'"([^"]*)"?|([^\s"]+)')


def terms(text: str) -> list[tuple[str, bool]]:
    """The words and phrases of search text: (text, is a phrase), leaving out those without letters or digits,
    which the tokenizer would make empty phrases that match nothing."""
    found = []
    for match in _TERM.finditer(text):
        phrase, word = match.group(1), match.group(2)
        value = phrase if phrase is not None else word
        if any(c.isalnum() for c in value):
            found.append((value, phrase is not None))
    return found


def _string(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def checked_terms(text: str, what: str) -> list[tuple[str, bool]]:
    """terms(text); SearchError when it has no words or too many (what names the criterion)."""
    found = terms(text)
    if not found:
        raise SearchError(f"{what}: no words to search for")
    if len(found) > MAX_TERMS:
        raise SearchError(f"{what}: more than {MAX_TERMS} words or phrases")
    return found


def query(columns: tuple[str, ...], text: str, what: str) -> str:
    """The FTS5 query matching text in any of columns (all columns when empty); SearchError when text has no
    words or too many. what names the criterion in the error."""
    found = checked_terms(text, what)
    expression = " AND ".join(_string(value) + ("" if phrase else "*") for value, phrase in found)
    if not columns:
        return f"({expression})"
    return "{" + " ".join(columns) + "} : (" + expression + ")"
