"""What GET /metrics answers: the counted metrics of every process of the
server, read from the shared directory, and the sizes looked up now.

The sizes come from the stores the server hands over (duck-typed, so this
package needs none of moxpy's): count() of the delivery queue's and the
webhook queue's store, and for each account its mailboxes' counts.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from . import directory

CONTENT_TYPE = CONTENT_TYPE_LATEST  # the text format


class Sizes:
    """A collector of the sizes, looked up at each scrape."""

    def __init__(self, queue, webhooks, store, accounts: Callable[[], list[str]], per_account: bool):
        """queue, webhooks: the queue stores (count()); store: the accounts (account(name)); accounts: the
        names of the accounts configured now; per_account: report each account's messages."""
        self.queue = queue
        self.webhooks = webhooks
        self.store = store
        self.accounts = accounts
        self.per_account = per_account

    def describe(self):
        return []  # known only when collected; prometheus_client then checks no names at registration

    def collect(self):
        yield GaugeMetricFamily("moxpy_queue_messages", "Messages in the delivery queue, one per recipient, held "
                                "ones included.", value=self.queue.count())
        yield GaugeMetricFamily("moxpy_webhook_queue", "Webhooks waiting to be delivered.", value=self.webhooks.count())
        if not self.per_account:
            return
        messages = GaugeMetricFamily("moxpy_account_messages", "Messages stored in an account, in all its "
                                     "mailboxes.", labels=["account"])
        octets = GaugeMetricFamily("moxpy_account_message_bytes", "Size of the messages stored in an account.",
                                   labels=["account"])
        for name in self.accounts():
            account = self.store.account(name)
            statuses = [account.mailbox_status(box.id) for box in account.mailboxes()]
            messages.add_metric([name], sum(s.messages for s in statuses))
            octets.add_metric([name], sum(s.size for s in statuses))
        yield messages
        yield octets


def exposition(sizes: Sizes) -> bytes:
    """The metrics in the Prometheus text format."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory())
    registry.register(sizes)
    return generate_latest(registry)
