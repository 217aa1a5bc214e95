"""Replies and forwards: what a new message takes from the message it
answers or passes on (the webapi's Send with a Reference).

- The subject: "Re: " or "Fwd: " before the original's, after taking off
  the reply and forward prefixes it has already, so a thread does not grow
  "Re: Re: Fwd: ".
- Threading (RFC 5322 3.6.4): References are the original's References
  (or its In-Reply-To when it has none) followed by its Message-ID, the
  last of which becomes In-Reply-To.
- Recipients of a reply: the original's Reply-To, else its From; a reply
  to all adds the original's To and Cc as Cc, without the sender's own
  addresses and without duplicates.

Pure functions over values; reading the original's header is parse.py's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import parse as msgparse

REPLY = "reply"
REPLY_ALL = "replyAll"
FORWARD = "forward"
ACTIONS = (REPLY, REPLY_ALL, FORWARD)

# Prefixes mail programs put before a subject when replying or forwarding: English and the common
# translations (German AW/WG, Scandinavian SV, Dutch Antw, French TR, Italian R/RIF), with the
# counters some add (Re[2]:, Re(2):, Re^2:).
_PREFIXES = re.compile(
    r"^(?:\s*(?:re|fwd?|aw|wg|sv|antw|tr|rif|r)\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*:)+\s*", re.IGNORECASE)

# References kept: the first (the thread's start) and the most recent ones. Long threads would make the
# header grow without end; readers thread on the first and the last.
MAX_REFERENCES = 50
# A message ID as long as this is no real one; it could not be written in a header line either.
MAX_MESSAGE_ID = 250

Correspondent = tuple[str, str]  # (display name, address)


@dataclass
class Original:
    """What a reply or forward needs of the message it refers to."""

    subject: str
    message_id: str
    in_reply_to: str
    references: list[str]
    from_: list[Correspondent]
    reply_to: list[Correspondent]
    to: list[Correspondent]
    cc: list[Correspondent]


# Decoded header text may hold control characters (an encoded word can say anything); a new header may not.
_CONTROL = re.compile("[\x00-\x1f\x7f]+")


def _text(text: str) -> str:
    return _CONTROL.sub(" ", text)


def original(data: bytes) -> Original:
    """The header fields of a stored message that a reply or forward uses, with control characters in
    its texts made spaces."""
    msg = msgparse.parse_headers(data)
    references: list[str] = []
    for value in msg.get_all("References") or []:
        references.extend(msgparse.clean(str(value)).split())

    def addresses(name: str) -> list[Correspondent]:
        return [(_text(display), address) for display, address in msgparse.addresses(msg, name)]

    return Original(
        subject=_text(msgparse.header_str(msg, "Subject")),
        message_id=msgparse.header_str(msg, "Message-ID"),
        in_reply_to=(msgparse.header_str(msg, "In-Reply-To").split() or [""])[0],
        references=references,
        from_=addresses("From"),
        reply_to=addresses("Reply-To"),
        to=addresses("To"),
        cc=addresses("Cc"),
    )


def subject(original_subject: str, prefix: str) -> str:
    """The subject of a reply ("Re") or forward ("Fwd"): the prefix, then the original's subject without
    the prefixes it has."""
    rest = _PREFIXES.sub("", original_subject, count=1).strip()
    return f"{prefix}: {rest}" if rest else f"{prefix}:"


def _is_message_id(text: str) -> bool:
    return (text.startswith("<") and text.endswith(">") and len(text) <= MAX_MESSAGE_ID
            and all(33 <= ord(c) <= 126 or ord(c) > 127 for c in text))


def references(orig: Original) -> list[str]:
    """The References of a message answering or forwarding orig, oldest first; the last (orig's
    Message-ID) is its In-Reply-To. Empty when orig has no Message-ID: there is then nothing to refer to.
    Malformed IDs in orig's fields are left out, so they cannot make the new header invalid."""
    if not _is_message_id(orig.message_id):
        return []
    earlier = orig.references or ([orig.in_reply_to] if orig.in_reply_to else [])
    earlier = [ref for ref in earlier if _is_message_id(ref) and ref != orig.message_id]
    if len(earlier) >= MAX_REFERENCES:
        earlier = earlier[:1] + earlier[-(MAX_REFERENCES - 2):]
    return earlier + [orig.message_id]


def reply_recipients(orig: Original, everyone: bool, own: Callable[[str], bool]
                     ) -> tuple[list[Correspondent], list[Correspondent]]:
    """(To, Cc) of a reply: To is orig's Reply-To, else its From; with everyone, Cc is orig's To and Cc
    without the addresses own says are the sender's and without those listed already."""
    to = _unique(orig.reply_to or orig.from_, set())
    if not everyone:
        return to, []
    seen = {address.lower() for _, address in to}
    cc = _unique([(name, address) for name, address in orig.to + orig.cc if not own(address)], seen)
    return to, cc


def _unique(correspondents: list[Correspondent], seen: set[str]) -> list[Correspondent]:
    """The correspondents whose address (in any case) is not in seen, each once; seen is updated."""
    result = []
    for name, address in correspondents:
        key = address.lower()
        if key not in seen:
            seen.add(key)
            result.append((name, address))
    return result


def forward_filename(original_subject: str) -> str:
    """A file name for a forwarded message: its subject, as mail programs name it, with .eml."""
    name = "".join(c if c.isprintable() and c not in '/\\:*?"<>|' else " " for c in original_subject)
    name = " ".join(name.split())[:100].strip(" .")
    return (name or "message") + ".eml"
