"""Daily sending limits per account, as mox applies them.

Every submitted message is logged once per recipient, in the same
transaction that queues it (QueueStore.submit). Over the last 24 hours an
account may send at most MaxOutgoingMessagesPerDay such messages, to at
most MaxFirstTimeRecipientsPerDay recipients it never sent to before (0:
unlimited). The limits keep a compromised account from doing much harm.
"""

from __future__ import annotations

import time

from ..store.queue import QueueStore

DAY = 24 * 3600


def reached(store: QueueStore, account: str, recipients: list[str], max_messages: int, max_first_time: int) -> str:
    """Which limit sending to recipients would exceed: "messages", "recipients" or ""."""
    now = time.time()
    since = now - DAY
    sent = store.sent_count(account, since)
    if max_messages and sent + len(recipients) > max_messages:
        return "messages"
    # Like mox, only count first-time recipients when there are enough messages to reach the limit.
    if not max_first_time or sent + len(recipients) < max_first_time:
        return ""
    count = sum(not store.sent_before(account, r, now) for r in {r.lower() for r in recipients})
    count += sum(not store.sent_before(account, recipient, first)
                 for recipient, first in store.recent_recipients(account, since))
    return "recipients" if count > max_first_time else ""
