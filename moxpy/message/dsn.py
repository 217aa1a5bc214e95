"""Delivery status notifications (RFC 3464, with RFC 6533 for UTF-8).

compose() builds a DSN: a multipart/report (RFC 6522) with a human-readable
text part, a machine-readable message/delivery-status part, and the
original message's header as text/rfc822-headers. parse() reads the
delivery-status part of a DSN someone else sent back to us.

Pure functions over values with Python's email package; no I/O, no
knowledge of the queue.
"""

from __future__ import annotations

import email.utils
import io
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.generator import BytesGenerator
from email.message import Message, MIMEPart

from . import headers as headerlib
from . import parse as msgparse
from .status import is_enhanced

# RFC 3464 2.3.3: the action values.
ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")


class DSNError(ValueError):
    """Not a DSN, or one we cannot read; the message says why."""


@dataclass
class RecipientStatus:
    """The fields of one recipient's group (RFC 3464 2.3)."""

    final_recipient: str  # address, without the "rfc822;" type
    action: str  # one of ACTIONS
    status: str  # RFC 3463 enhanced status code, e.g. "5.1.1"
    status_comment: str = ""  # human-readable, goes in parentheses after the status
    original_recipient: str = ""
    remote_mta: str = ""  # host name of the server that gave the diagnostic
    diagnostic_code: str = ""  # SMTP reply, without the "smtp;" type
    last_attempt: datetime | None = None
    will_retry_until: datetime | None = None


@dataclass
class DSN:
    reporting_mta: str  # our host name
    recipients: list[RecipientStatus]
    arrival_date: datetime | None = None
    original_envelope_id: str = ""
    # Outer message, for composing.
    sender: str = ""  # From, e.g. postmaster@hostname
    to: str = ""  # the original message's sender, who gets this DSN
    subject: str = ""
    message_id: str = ""  # with <>
    references: str = ""  # Message-ID of the original message, so clients thread the DSN with it
    text: str = ""  # human-readable explanation, \n line ends
    original_headers: bytes = b""  # header section of the original message
    smtputf8: bool = False  # use message/global-delivery-status and utf-8 address types (RFC 6533)


def _date(value: datetime) -> str:
    return email.utils.format_datetime(value)


def _block(pol, fields: list[tuple[str, str]]) -> Message:
    block = Message(policy=pol)
    for name, value in fields:
        block[name] = value
    return block


def compose(dsn: DSN) -> bytes:
    """The DSN as a message in wire format (CRLF line ends)."""
    if not dsn.recipients:
        raise DSNError("a DSN needs at least one recipient")  # RFC 3464 2.1: one or more per-recipient groups
    pol = (policy.SMTPUTF8 if dsn.smtputf8 else policy.SMTP).clone(max_line_length=78)
    # RFC 6533 3: utf-8 address type for internationalized addresses.
    addr_type = "utf-8" if dsn.smtputf8 else "rfc822"

    msg = MIMEPart(policy=pol)
    msg["From"] = dsn.sender
    msg["To"] = dsn.to
    msg["Subject"] = dsn.subject
    msg["Message-Id"] = dsn.message_id
    if dsn.references:
        msg["References"] = dsn.references
    msg["Date"] = email.utils.format_datetime(email.utils.localtime())
    # RFC 3834 5: a DSN is an automatic response.
    msg["Auto-Submitted"] = "auto-replied"
    msg["MIME-Version"] = "1.0"
    msg.make_mixed()
    # RFC 6522 3: multipart/report with report-type delivery-status.
    msg.set_type("multipart/report")
    msg.set_param("report-type", "delivery-status")

    text = MIMEPart(policy=pol)
    body = dsn.text if dsn.text.endswith("\n") else dsn.text + "\n"
    if body.isascii():
        text.set_content(body, charset="us-ascii", cte="7bit")
    else:
        text.set_content(body, charset="utf-8", cte="quoted-printable")
    msg.attach(text)

    # RFC 3464 2.2: per-message fields, then a group per recipient, each
    # group a block of header-like fields separated by blank lines.
    per_message = []
    if dsn.original_envelope_id:
        per_message.append(("Original-Envelope-Id", dsn.original_envelope_id))
    per_message.append(("Reporting-MTA", f"dns; {dsn.reporting_mta}"))
    if dsn.arrival_date:
        per_message.append(("Arrival-Date", _date(dsn.arrival_date)))
    blocks = [_block(pol, per_message)]
    for r in dsn.recipients:
        fields = []
        if r.original_recipient:
            fields.append(("Original-Recipient", f"{addr_type}; {r.original_recipient}"))
        fields.append(("Final-Recipient", f"{addr_type}; {r.final_recipient}"))
        fields.append(("Action", r.action))
        status = r.status + (f" ({_comment(r.status_comment)})" if r.status_comment else "")
        fields.append(("Status", status))
        if r.remote_mta:
            fields.append(("Remote-MTA", f"dns; {r.remote_mta}"))
        if r.diagnostic_code:
            # RFC 3464 2.3.6: the presence of Diagnostic-Code means the code came from Remote-MTA.
            fields.append(("Diagnostic-Code", f"smtp; {r.diagnostic_code}"))
        if r.last_attempt:
            fields.append(("Last-Attempt-Date", _date(r.last_attempt)))
        if r.will_retry_until:
            fields.append(("Will-Retry-Until", _date(r.will_retry_until)))
        blocks.append(_block(pol, fields))
    status_part = MIMEPart(policy=pol)
    if dsn.smtputf8:
        # The email package writes only the first block of a message/* part
        # other than delivery-status: give it the blocks as text.
        status_part.set_type("message/global-delivery-status")
        status_part["Content-Transfer-Encoding"] = "8bit"
        text = b"".join(b.as_bytes(policy=pol) for b in blocks)
        status_part.set_payload(text.decode("ascii", "surrogateescape"))
    else:
        status_part.set_type("message/delivery-status")
        status_part.set_payload(blocks)
    msg.attach(status_part)

    if dsn.original_headers:
        # RFC 6522 3 / RFC 3464 2: the third part holds the original
        # message or, as here, only its header section.
        headers = MIMEPart(policy=pol)
        if dsn.smtputf8:
            headers.set_type("message/global-headers")  # RFC 6533 3
        else:
            headers.set_type("text/rfc822-headers")
        headers.set_payload(dsn.original_headers.decode("utf-8", "replace"))
        msg.attach(headers)
    out = io.BytesIO()
    _Generator(out, policy=pol).flatten(msg)
    return out.getvalue()


class _Generator(BytesGenerator):
    # RFC 6533 3: message/global-delivery-status is UTF-8 text. The email
    # package would write a message/* part as an ASCII message; write it
    # as the 8-bit text it is.
    _handle_message_global_delivery_status = BytesGenerator._handle_text


def _comment(text: str) -> str:
    # RFC 5322 3.2.2: parentheses and backslashes in a comment are quoted.
    text = " ".join(text.split())
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


# RFC 6522 3: report-type names the media subtype of a report's second part;
# for DSNs message/delivery-status (RFC 3464 2) or, with UTF-8, message/global-delivery-status (RFC 6533 3).
REPORT_TYPES = ("delivery-status", "global-delivery-status")


def is_dsn(msg: Message) -> bool:
    """Whether a message says it is a DSN: a multipart/report with a report-type of REPORT_TYPES.

    Only the header is looked at, so a parsed header section will do; this is
    what the store's DSN flag means, as in mox. parse() reads a DSN by its
    parts instead, and needs none of this.
    """
    try:
        return (msg.get_content_type() == "multipart/report"
                and str(msg.get_param("report-type", "")).lower() in REPORT_TYPES)
    except Exception:  # a malformed Content-Type is no DSN
        return False


def _status_part(msg: Message) -> Message | None:
    """The machine-readable part of a report, when it is a delivery status (RFC 6522 3: the second part).

    As mox reads DSNs, the parts decide; a missing or wrong report-type does not.
    """
    if msg.get_content_type() != "multipart/report":
        return None
    parts = msgparse.subparts(msg)
    if len(parts) >= 2 and parts[1].get_content_type() in [f"message/{t}" for t in REPORT_TYPES]:
        return parts[1]
    return None


def parse(data: bytes) -> DSN:
    """Read the delivery-status part of a DSN; raise DSNError when it is not one."""
    msg = msgparse.parse(data)
    status_part = _status_part(msg)
    if status_part is None:
        raise DSNError(f"not a DSN: content type {msg.get_content_type()}, need multipart/report "
                       "with message/delivery-status as second part")
    blocks = _status_blocks(status_part)
    if len(blocks) < 2:
        raise DSNError("delivery-status part needs per-message fields and at least one recipient group")
    per_message = _fields(blocks[0])
    froms = msgparse.addresses(msg, "From")
    tos = msgparse.addresses(msg, "To")
    result = DSN(
        reporting_mta=_typed_value(per_message.get("reporting-mta", "")),
        original_envelope_id=str(per_message.get("original-envelope-id", "") or "").strip(),
        arrival_date=_parse_date(per_message.get("arrival-date")),
        recipients=[],
        sender=froms[0][1] if froms else "",
        to=tos[0][1] if tos else "",
        subject=msgparse.header_str(msg, "Subject"),
        message_id=msgparse.header_str(msg, "Message-ID"),
        references=msgparse.header_str(msg, "References"),
        smtputf8=status_part.get_content_type() == "message/global-delivery-status",
    )
    text_parts = msgparse.subparts(msg)
    if text_parts and text_parts[0].get_content_type() == "text/plain":
        result.text, _ = msgparse.readable_parts(text_parts[0])
    for block in map(_fields, blocks[1:]):
        action = str(block.get("action", "") or "").strip().lower()
        status, _, comment = str(block.get("status", "") or "").strip().partition(" ")
        final = _typed_value(block.get("final-recipient", ""))
        if not final or not action or not status:
            raise DSNError("recipient group without Final-Recipient, Action or Status")  # RFC 3464 2.3: required
        result.recipients.append(RecipientStatus(
            final_recipient=final,
            action=action,
            status=status,
            status_comment=comment.strip().removeprefix("(").removesuffix(")"),
            original_recipient=_typed_value(block.get("original-recipient", "")),
            remote_mta=_typed_value(block.get("remote-mta", "")),
            diagnostic_code=_typed_value(block.get("diagnostic-code", "")),
            last_attempt=_parse_date(block.get("last-attempt-date")),
            will_retry_until=_parse_date(block.get("will-retry-until")),
        ))
    return result


def _status_blocks(part: Message) -> list[Message]:
    """The field blocks of a (global) delivery-status part.

    The email package splits message/delivery-status into blocks itself;
    message/global-delivery-status (RFC 6533) it reads as one message whose
    body holds the remaining blocks, and an encoded part arrives as text.
    """
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _text_blocks(msgparse.decoded_payload(part))
    blocks = []
    for sub in payload:
        if len(sub.keys()):
            blocks.append(sub)
        if not sub.is_multipart():
            rest = msgparse.decoded_payload(sub)
            if rest.strip():
                blocks += _text_blocks(rest)
    return blocks


def _fields(block: Message) -> dict[str, str]:
    """A block's fields by lower-case name; raw values, so UTF-8 (RFC 6533) survives."""
    fields: dict[str, str] = {}
    for name, value in block.raw_items():
        fields.setdefault(name.lower(), " ".join(msgparse.clean(str(value)).split()))
    return fields


def _text_blocks(raw: bytes) -> list[Message]:
    blocks = []
    # RFC 3464 2.1: blocks of fields, separated by empty lines.
    for chunk in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        if chunk.strip():
            blocks.append(headerlib.parse(chunk.strip(b"\n") + b"\n"))
    return blocks


def _typed_value(value) -> str:
    """The value of a typed field ("rfc822; a@b" -> "a@b"; RFC 3464 2.1.2)."""
    text = " ".join(msgparse.clean(str(value or "")).split())
    kind, sep, rest = text.partition(";")
    return rest.strip() if sep else text.strip()


def _parse_date(value) -> datetime | None:
    if value is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None


def smtp_codes(dsn_recipient: RecipientStatus) -> tuple[int, str]:
    """(SMTP code, enhanced code) of a recipient group: from Diagnostic-Code when
    it holds an SMTP reply, else a generic 400/500 with the Status."""
    code, enhanced = 0, ""
    words = dsn_recipient.diagnostic_code.split()
    if words and len(words[0]) == 3 and words[0].isdigit() and words[0][0] in "245":
        code = int(words[0])
        if len(words) > 1 and is_enhanced(words[1]):
            enhanced = words[1]
    if not enhanced and is_enhanced(dsn_recipient.status):
        enhanced = dsn_recipient.status
    if code == 0 and enhanced[:1] in ("4", "5"):
        code = int(enhanced[0]) * 100
    return code, enhanced


__all__ = ["ACTIONS", "DSN", "DSNError", "REPORT_TYPES", "RecipientStatus", "compose", "parse", "is_dsn", "smtp_codes"]
