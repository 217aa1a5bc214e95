"""The outgoing delivery queue.

Every submission becomes one queue entry per recipient, written with its
message and made durable before the submitter is answered. A worker
delivers due entries through a Deliverer (localserve: our own delivery
listener; otherwise direct SMTP to the recipient domain's MX hosts),
retries temporary failures with doubling backoff, and retires delivered,
failed, suppressed and canceled entries. Each outcome is an outgoing event,
handed to the event sinks (the webhook queue is one) inside the transaction
that records it; DSNs for the sender go through an outbox for the same
reason. Storage is behind moxpy.store.queue.QueueStore (records, not
rows); nothing here writes SQL.

One module per concern:

submit.py       NewMessage and Recipient, and the entries they become
fromid.py       FromID assignment at submission, incoming DSNs matched by it
limits.py       daily send limits per account
deliver.py      the Deliverer interface and localserve's deliverer
deliverers.py   the Deliverer the config asks for
direct.py       direct SMTP delivery; destinations.py finds the MX hosts
worker.py       Queue: the worker that picks, attempts and records entries
outcome.py      recording outcomes and emitting their events
events.py       the outgoing events and their names
backoff.py      the retry schedule
suppression.py  the per-account suppression list
notify.py       DSNs to our own senders; outbox.py delivers them
recovery.py     attempts cut off by a crash
control.py      operator commands that are more than one store call (drop)
"""

from __future__ import annotations

from .deliverers import make_deliverer
from .events import EVENTS, Event
from .fromid import recipients
from .outcome import EventSink
from .submit import Recipient, NewMessage
from .worker import MAX_BATCH, Queue

__all__ = ["Queue", "NewMessage", "Recipient", "recipients", "make_deliverer", "Event", "EventSink", "EVENTS",
           "MAX_BATCH"]
