"""Webhook signatures as the Standard Webhooks specification defines them
(https://www.standardwebhooks.com/, "Signature scheme"), beside mox's own
X-Mox-Webhook-* headers.

- webhook-id: the webhook's id, the same on every attempt, so receivers can
  drop repeats; webhook-timestamp: Unix seconds of this attempt, which
  receivers check against their clock to refuse replays.
- webhook-signature: "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per
  secret in use, space-separated: during a rotation both the new and the old
  secret sign, so receivers can switch over at any point in the overlap.
- Secrets are "whsec_" followed by base64 of 32 random bytes; the key is the
  decoded bytes. There is one per account and kind of webhook (KINDS); they
  are kept in mox.db (store/webhooks.py), not in the config.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from ..config import CHANGE_WEBHOOK_EVENTS

KINDS = ("outgoing", "incoming", "change")
PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def kind_of(is_incoming: bool, event: str) -> str:
    """Which secret signs a webhook: incoming, change (mailbox events) or outgoing (delivery events)."""
    if is_incoming:
        return "incoming"
    return "change" if event in CHANGE_WEBHOOK_EVENTS else "outgoing"


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature value: one v1 signature per secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode()
                    for s in secrets_)


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt; none without secrets."""
    if not secrets_:
        return {}
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secrets_, msg_id, timestamp, body)}
