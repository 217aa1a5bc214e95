"""Operator control of the webhook queue (`mox.py queue webhook ...`).

Listing and kick are single store calls (WebhookStore.list, retired,
kick); dropping keeps the webhook as retired with a note, and replaying
queues retired webhooks again, so those are here.
Like the delivery queue's commands, each change is one transaction that a
running server notices at its next rescan (within a second).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from ..store.webhooks import RetiredWebhook, Webhook, WebhookAttempt, WebhookFilter, WebhookStore, WebhookTransaction


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


async def replay(store: WebhookStore, f: WebhookFilter, authorization: Callable[[RetiredWebhook], str],
                 now: float | None = None) -> list[tuple[RetiredWebhook, int]]:
    """Queue matching retired webhooks again, in the order they were first queued: new webhooks (new ids,
    attempts from 1) with the same URL and payload; the Authorization header is authorization(webhook), as
    the config has it now (a retired webhook does not keep it). Returns each with its new id."""
    now = time.time() if now is None else now

    def requeue(tx: WebhookTransaction) -> list[tuple[RetiredWebhook, int]]:
        queued = []
        for old in tx.retired_matching(f):
            # Not superseding: a replayed delivery event must not retire the replay of the one before it.
            new_id = tx.add(Webhook(
                id=0, account=old.account, url=old.url, is_incoming=old.is_incoming, event=old.event,
                payload=old.payload, submitted=now, queue_msg_id=old.queue_msg_id, from_id=old.from_id,
                message_id=old.message_id, subject=old.subject, extra=dict(old.extra),
                authorization=authorization(old), next_attempt=now))
            queued.append((old, new_id))
        return queued

    return await store.transaction(requeue)
