"""Full-text search on PostgreSQL, giving what SQLite's FTS5 gives
(../sqlite/fulltext.py) for the same search text.

message_text (../sqlite/schema.py) keeps each column's words as FTS5's
unicode61 tokenizer with remove_diacritics makes them: runs of letters
and digits, lower case, without accents, each followed and preceded by
one space (" invoice from bob "). A word of the search text is then a
substring ending anywhere (" invo" finds words starting with it), a
quoted phrase one ending with a space (" invoice from "): strpos on
normalized text, no pattern syntax the user's text could use.
"""

from __future__ import annotations

import re
import unicodedata

from ..sqlite import fulltext as language

# Runs of letters and digits (\w less the underscore, which the tokenizer also splits on).
_WORD = re.compile(r"[^\W_]+")
TEXT_COLUMNS = ("subject", "from_addresses", "to_addresses", "body")


def words(text: str) -> list[str]:
    """The tokens of text: lower case, accents removed ("Élan" is "elan")."""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return _WORD.findall(text.lower())


def normalize(text: str) -> str:
    """A column's text as stored: its words, each between spaces."""
    found = words(text)
    return " " + " ".join(found) + " " if found else " "


def _needle(value: str, phrase: bool) -> str:
    found = " " + " ".join(words(value))
    return found + " " if phrase else found  # a bare word matches words starting with it


def condition(wanted: list[tuple[tuple[str, ...], str, str]]) -> tuple[str, list]:
    """The condition on message_text for criteria (columns, search text, what it is called): every word or
    phrase of each in one of its columns (any column when none is named); SearchError as FTS5's query."""
    clauses, params = [], []
    for columns, text, what in wanted:
        for value, phrase in language.checked_terms(text, what):
            needle = _needle(value, phrase)
            if needle.strip() == "":
                clauses.append("false")  # nothing the tokenizer keeps: FTS5 matches nothing either
                continue
            clauses.append("(" + " or ".join(f"strpos({c}, ?) > 0" for c in columns or TEXT_COLUMNS) + ")")
            params += [needle] * len(columns or TEXT_COLUMNS)
    return " and ".join(clauses), params
