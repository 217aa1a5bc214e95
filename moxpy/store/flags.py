"""Message flags: the system flags as bits, other keywords as lower-case words.

RFC 3501 2.3.2 system flags, plus the common keywords that mox treats as
system flags ($Forwarded, $Junk, $NotJunk, $Phishing, $MDNSent). They are
matched case-insensitively and reported lower case, as mox does.
"""

from __future__ import annotations

SYSTEM_FLAGS = (
    "\\seen",
    "\\answered",
    "\\flagged",
    "\\deleted",
    "\\draft",
    "$forwarded",
    "$junk",
    "$notjunk",
    "$phishing",
    "$mdnsent",
)
BIT = {name: 1 << i for i, name in enumerate(SYSTEM_FLAGS)}
SEEN, ANSWERED, FLAGGED, DELETED, DRAFT = (BIT[f] for f in SYSTEM_FLAGS[:5])

# RFC 3501 9: flag-keyword = atom; atom excludes these.
_ATOM_SPECIALS = set('(){ %*"\\]') | {chr(c) for c in range(0x20)} | {"\x7f"}


class FlagError(ValueError):
    pass


def parse(words: list[str]) -> tuple[int, list[str]]:
    """Split flag words into a system-flag bitmask and sorted lower-case keywords."""
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
    """All flags of a message, lower case: system flags sorted (as mox lists them), then keywords."""
    return [name for name in _SORTED if mask & BIT[name]] + list(keywords)


_SORTED = sorted(SYSTEM_FLAGS)
