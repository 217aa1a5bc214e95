"""What the `mox queue ...` commands share: the server's database opened
next to a running server (or without one), their common arguments, and
running a command with the database open.

The queue and webhook operations themselves are the queue and webhook
stores' (moxpy.store.queue, moxpy.store.webhooks) and, for drops,
queue/control.py's and webhooks/control.py's; this module only opens the
stores and gives them a Recorder that raises the same events the server's
would.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import config as configlib


class QueueDatabase:
    """The server database's queue and webhook stores, and a Recorder with the
    event sinks the server registers, so an operator's change (a drop) raises
    the same webhooks."""

    def __init__(self, config: configlib.Config):
        from ..newsletter.jobs import outcome_sink
        from ..queue.outcome import Recorder
        from ..store import backend
        from ..webhooks.enqueue import outgoing_sink

        self.config = config
        data_dir = config.data_dir()
        path = os.path.join(data_dir, "mox.db")
        if not backend.postgresql(config) and not os.path.exists(path):
            raise configlib.ConfigError(f"no database at {path}: has the server run with this config?")
        self.serverdb = backend.server_database(config)
        self.queue = self.serverdb.queue
        self.webhooks = self.serverdb.webhooks

        def keep(account: str) -> float:
            acc = config.Accounts.get(account)
            return acc.KeepRetiredMessagePeriod if acc else 0.0

        # As the server's: an operator's drop reaches the webhooks and the counts of send jobs.
        self.recorder = Recorder(keep, [outgoing_sink(configlib.Source(config, reload=False)), outcome_sink])

    def close(self) -> None:
        self.serverdb.close()


def parse_ids(text: str | None, kind: str) -> list[int]:
    """The -ids argument: comma-separated numbers."""
    ids = []
    for part in (text or "").split(","):
        part = part.strip()
        if part:
            if not part.isdigit():
                raise configlib.ConfigError(f"-ids: {part!r} is not a {kind} id")
            ids.append(int(part))
    return ids


def add_common_arguments(q: argparse.ArgumentParser) -> None:
    q.add_argument("-config", "--config", help="config file (default: config/mox.toml, else "
                                               "localserve/config/mox.toml)")
    q.add_argument("-dir", "--dir", help="localserve directory, instead of -config")
    q.add_argument("-ids", "--ids", help="comma-separated ids")
    q.add_argument("-account", "--account", help="account that queued the message")


def runner(func):
    """An argparse command that opens the database, runs func(qdb, args) and
    closes it. A config problem is exit code 1 before the command, 2 in it."""

    def run(args: argparse.Namespace) -> int:
        try:
            config = configlib.load(configlib.locate(args.config, args.dir))
            qdb = QueueDatabase(config)
        except configlib.ConfigError as e:
            print(f"mox: {e}", file=sys.stderr)
            return 1
        try:
            return func(qdb, args)
        except configlib.ConfigError as e:
            print(f"mox: {e}", file=sys.stderr)
            return 2
        finally:
            qdb.close()

    return run
