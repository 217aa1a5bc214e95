"""Webhooks: the payload types of outgoing-delivery events and incoming
messages (types.py), and the durable queue that POSTs them with retries.
Storage is behind moxpy.store.webhooks.WebhookStore; nothing here writes SQL.

enqueue.py   builds payloads and queues webhooks inside the transactions of
             what they report (queue outcomes, incoming deliveries)
sender.py    the worker that POSTs them, one request per URL at a time
incoming.py  the step after an SMTP delivery: FromID match or incoming webhook
changes.py   change webhooks from each account's change log, and its pruning
control.py   operator commands beyond one store call (drop); examples.py
             for `mox.py example`
"""

from __future__ import annotations

from .. import config as configlib
from ..queue import Queue
from ..store import Store
from ..store.webhooks import WebhookStore
from .changes import ChangeHooks, PayloadMaker
from .enqueue import outgoing_sink
from .incoming import IncomingHooks
from .sender import WebhookSender


class Webhooks:
    """The webhook queue, fed by the delivery queue's events, by incoming deliveries and by the accounts'
    change logs (change_payloads makes the payloads of their entries)."""

    def __init__(self, config: configlib.Source, store: WebhookStore, queue: Queue, accounts: Store,
                 change_payloads: PayloadMaker, wake=None):
        """wake: this process only queues webhooks (its sender and change producer are not started), and
        wake tells the process that sends them."""
        self.sender = WebhookSender(config, store)
        kick = wake or self.sender.kick
        queue.event_sinks.append(outgoing_sink(config))
        queue.on_events.append(kick)
        self.incoming = IncomingHooks(config, queue.store, queue.recorder, on_queued=kick)
        self.changes = ChangeHooks(config, accounts, store, change_payloads, on_queued=self.sender.kick)

    def start(self) -> None:
        self.sender.start()
        self.changes.start()

    async def stop(self) -> None:
        await self.changes.stop()
        await self.sender.stop()
