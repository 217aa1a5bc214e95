"""Enhanced mail system status codes (RFC 3463), as they appear at the start
of SMTP reply text (RFC 2034 3) and in the Status field of DSNs (RFC 3464
2.3.4). Parsed here only, so every reader agrees on what counts as one.
"""

from __future__ import annotations

import re

# RFC 3463 2: class "." subject "." detail; class 2, 4 or 5, subject and
# detail one to three digits.
_CODE = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")


def is_enhanced(text: str) -> bool:
    """Whether text is exactly one enhanced status code, e.g. "5.1.1"."""
    return _CODE.fullmatch(text) is not None


def from_reply(text: str) -> str:
    """The enhanced code that opens an SMTP reply's text ("5.1.1 no such user"), "" when it has none."""
    words = text.split(None, 1)
    return words[0] if words and is_enhanced(words[0]) else ""


def with_class(klass: str, code: str) -> str:
    """The code with its class set to klass ("2", "4" or "5"); klass.0.0 without a code.

    RFC 3464 2.3.4: a DSN's Status must agree with its Action (failed is
    5.x.x, delayed 4.x.x) even when the last reply said otherwise.
    """
    if not code:
        return f"{klass}.0.0"
    return klass + code[1:]
