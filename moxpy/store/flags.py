"""Message flags: the system flags and keywords, their names and validation.

RFC 3501 2.3.2 system flags, plus the common keywords that mox treats as
system flags ($Forwarded, $Junk, $NotJunk, $Phishing, $MDNSent). All are
matched case-insensitively. The store reports them by name (Message.flags):
system flags in their usual case, in a fixed order, then the other keywords
lower case and sorted. The SQLite index keeps system flags as bits of one
integer (BIT) and keywords as a list.
"""

from __future__ import annotations

# name as reported -> lower case, in the order FETCH FLAGS lists them.
_SYSTEM = (
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "$Forwarded",
    "$Junk",
    "$NotJunk",
    "$Phishing",
    "$MDNSent",
)
SYSTEM_FLAGS = tuple(name.lower() for name in _SYSTEM)
DISPLAY = {name.lower(): name for name in _SYSTEM}  # lower case -> usual case
BIT = {name: 1 << i for i, name in enumerate(SYSTEM_FLAGS)}
SEEN, ANSWERED, FLAGGED, DELETED, DRAFT = (BIT[f] for f in SYSTEM_FLAGS[:5])

# RFC 3501 9: flag-keyword = atom; atom excludes these.
_ATOM_SPECIALS = set('(){ %*"\\]') | {chr(c) for c in range(0x20)} | {"\x7f"}


class FlagError(ValueError):
    pass


def parse(words: list[str]) -> tuple[int, list[str]]:
    """Split flag words into a system-flag bitmask and sorted lower-case keywords; FlagError for bad words."""
    mask = 0
    keywords: set[str] = set()
    for word in words:
        lower = word.lower()
        if lower in BIT:
            mask |= BIT[lower]
        elif lower.startswith("\\"):
            raise FlagError(f"unknown system flag {_printable(word)}")
        elif not word or any(c in _ATOM_SPECIALS or ord(c) > 0x7E for c in word):
            raise FlagError(f"invalid keyword {_printable(word)}: a keyword is an atom of printable ASCII")
        else:
            keywords.add(lower)
    return mask, sorted(keywords)


def _printable(word: str) -> str:
    # Echoed in error messages to IMAP and webapi clients: printable ASCII only, and not too long.
    text = "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in word[:60])
    return f'"{text}"' if text else "(empty)"


def names(mask: int, keywords: list[str]) -> list[str]:
    """A message's flags by name: the system flags of mask in their usual case and order, then keywords."""
    return [DISPLAY[name] for name in SYSTEM_FLAGS if mask & BIT[name]] + list(keywords)


def is_system(name: str) -> bool:
    """Whether a flag name is one of the system flags (any case), as opposed to a keyword."""
    return name.lower() in BIT
