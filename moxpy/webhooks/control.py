"""Operator control of the webhook queue (`mox.py queue webhook ...`).

Listing and kick are single store calls (WebhookStore.list, retired,
kick); dropping keeps the webhook as retired with a note, so it is here.
Like the delivery queue's commands, each change is one transaction that a
running server notices at its next rescan (within a second).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from ..store.webhooks import WebhookAttempt, WebhookFilter, WebhookStore, WebhookTransaction


async def drop(store: WebhookStore, f: WebhookFilter, keep_period: Callable[[str], float],
               now: float | None = None) -> int:
    """Give up matching webhooks, kept as retired (not successful) with a note; how many."""
    now = time.time() if now is None else now

    def give_up(tx: WebhookTransaction) -> int:
        hooks = tx.matching(f)
        for hook in hooks:
            keep = keep_period(hook.account)
            note = WebhookAttempt(start=now, duration=0.0, url=hook.url, success=False, code=0,
                                  error="canceled by operator", response="")
            retired = replace(hook.retired(success=False, now=now, keep=keep), results=hook.results + [note])
            tx.retire(hook.id, retired if keep > 0 else None)
        return len(hooks)

    return await store.transaction(give_up)
