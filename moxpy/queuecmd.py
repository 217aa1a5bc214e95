"""The `mox.py queue ...` and `mox.py queue webhook ...` commands for operators.

They open the data directory's server database next to a running server
(or without one) and work through its queue and webhook stores (and
queue.control and webhooks.control for drops); output
is a plain table, one row per entry. The config is found with -config FILE, -dir DIR (a
localserve directory), or else config/mox.toml or localserve/config/mox.toml
under the current directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import datetime, timezone

from . import config as configlib


def find_config(args: argparse.Namespace) -> configlib.Config:
    return configlib.load(configlib.locate(args.config, args.dir))


class QueueDatabase:
    """The server database's stores and a Recorder with the same event sinks the server uses."""

    def __init__(self, config: configlib.Config):
        from .queue.outcome import Recorder
        from .store.sqlite.serverdb import ServerDatabase

        self.config = config
        data_dir = config.data_dir()
        path = os.path.join(data_dir, "mox.db")
        if not os.path.exists(path):
            raise configlib.ConfigError(f"no database at {path}: has the server run with this config?")
        self.serverdb = ServerDatabase(data_dir)
        self.queue = self.serverdb.queue
        self.webhooks = self.serverdb.webhooks

        def keep(account: str) -> float:
            acc = config.Accounts.get(account)
            return acc.KeepRetiredMessagePeriod if acc else 0.0

        self.recorder = Recorder(keep, event_sinks(lambda: config))

    def close(self) -> None:
        self.serverdb.close()


def event_sinks(get_config) -> list:
    """Event sinks registered by the server as well, so operator changes raise the same events."""
    from .webhooks.enqueue import outgoing_sink

    return [outgoing_sink(get_config)]


# Output.

def _when(ts: float | None, now: float) -> str:
    if not ts:
        return "-"
    delta = ts - now
    text = _duration(abs(delta))
    if abs(delta) < 1:
        return "now"
    return f"in {text}" if delta > 0 else f"{text} ago"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return "".join(parts[:2])


def _stamp(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def table(headers: list[str], rows: list[list[str]], out=None) -> None:
    out = out or sys.stdout
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    for row in [headers] + rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths))
        print(line.rstrip(), file=out)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Commands.

def _filter(args: argparse.Namespace):
    from .store.queue import EntryFilter

    ids = []
    for part in (args.ids or "").split(","):
        part = part.strip()
        if part:
            if not part.isdigit():
                raise configlib.ConfigError(f"-ids: {part!r} is not a queue id")
            ids.append(int(part))
    hold = None
    if getattr(args, "hold", None):
        hold = args.hold == "true"
    success = None
    if getattr(args, "result", None):
        success = args.result == "success"
    return EntryFilter(ids=ids, account=args.account or "", domain=args.domain or "", to=args.to or "", hold=hold,
                       success=success)


def cmd_list(qdb: QueueDatabase, args) -> int:
    rows = qdb.queue.queued(_filter(args))
    now = time.time()
    max_attempts = qdb.config.Queue.MaxAttempts
    table(["ID", "ACCOUNT", "FROM", "TO", "ATTEMPTS", "NEXT ATTEMPT", "HOLD", "LAST ERROR"],
          [[str(r.id), r.account, r.mail_from, r.rcpt_to, f"{r.attempts}/{max_attempts}",
            "on hold" if r.hold else _when(r.next_attempt, now), "yes" if r.hold else "no",
            _short(r.last_error) or "-"] for r in rows])
    print(f"{len(rows)} message(s) in queue")
    return 0


def cmd_retired(qdb: QueueDatabase, args) -> int:
    rows = qdb.queue.retired(_filter(args))
    table(["ID", "ACCOUNT", "FROM", "TO", "RESULT", "ATTEMPTS", "RETIRED", "LAST ERROR"],
          [[str(r.id), r.account, r.mail_from, r.rcpt_to, r.event or ("delivered" if r.success else "failed"),
            str(r.attempts), _stamp(r.retired), _short(r.last_error) or "-"] for r in rows])
    print(f"{len(rows)} retired message(s)")
    if args.verbose:
        for r in rows:
            print(f"\n{r.id}: {r.rcpt_to}, message-id {r.message_id or '-'}, subject {r.subject!r}")
            for result in r.results:
                outcome = "ok" if result.success else "failed"
                detail = result.error or (str(result.code) if result.code else "")
                print(f"  {_stamp(result.start)}  {result.duration:.3f}s  {outcome}  {detail}")
    return 0


def cmd_hold(qdb: QueueDatabase, args) -> int:
    n = asyncio.run(qdb.queue.set_hold(_filter(args), True))
    print(f"{n} message(s) put on hold")
    return 0


def cmd_release(qdb: QueueDatabase, args) -> int:
    n = asyncio.run(qdb.queue.set_hold(_filter(args), False))
    print(f"{n} message(s) released from hold")
    return 0


def cmd_kick(qdb: QueueDatabase, args) -> int:
    n = asyncio.run(qdb.queue.kick(_filter(args), time.time()))
    print(f"{n} message(s) scheduled for delivery now")
    return 0


def cmd_drop(qdb: QueueDatabase, args) -> int:
    from .queue import control

    f = _filter(args)
    if f == type(f)() and not args.all:
        print("mox: refusing to drop every message without -all; give a filter (-ids, -account, -domain, -to)",
              file=sys.stderr)
        return 2
    n = asyncio.run(control.drop(qdb.queue, f, qdb.recorder))
    print(f"{n} message(s) dropped")
    return 0


# The webhook queue.

def _hook_filter(args: argparse.Namespace):
    from .store.webhooks import WebhookFilter

    ids = []
    for part in (args.ids or "").split(","):
        part = part.strip()
        if part:
            if not part.isdigit():
                raise configlib.ConfigError(f"-ids: {part!r} is not a webhook id")
            ids.append(int(part))
    return WebhookFilter(ids=ids, account=args.account or "", event=args.event or "",
                         queue_msg_id=args.queuemsgid or 0)


def _hook_event(r) -> str:
    return "incoming" if r.is_incoming else r.event


def _last_result(r) -> str:
    if not r.results:
        return "-"
    last = r.results[-1]
    return _short(last.error or f"{last.code} ok", 50)


def cmd_hook_list(qdb: QueueDatabase, args) -> int:
    rows = qdb.webhooks.queued(_hook_filter(args))
    now = time.time()
    table(["ID", "ACCOUNT", "EVENT", "QUEUEMSGID", "URL", "ATTEMPTS", "NEXT ATTEMPT", "LAST RESULT"],
          [[str(r.id), r.account, _hook_event(r), str(r.queue_msg_id or "-"), r.url, str(r.attempts),
            _when(r.next_attempt, now), _last_result(r)] for r in rows])
    print(f"{len(rows)} webhook(s) in queue")
    return 0


def cmd_hook_retired(qdb: QueueDatabase, args) -> int:
    rows = qdb.webhooks.retired(_hook_filter(args))
    table(["ID", "ACCOUNT", "EVENT", "QUEUEMSGID", "URL", "RESULT", "ATTEMPTS", "LAST ACTIVITY", "LAST RESULT"],
          [[str(r.id), r.account, _hook_event(r), str(r.queue_msg_id or "-"), r.url,
            "delivered" if r.success else (f"superseded by {r.superseded_by}" if r.superseded_by else "failed"),
            str(r.attempts), _stamp(r.last_activity), _last_result(r)] for r in rows])
    print(f"{len(rows)} retired webhook(s)")
    if args.verbose:
        for r in rows:
            print(f"\n{r.id}: {_hook_event(r)} to {r.url}, payload {_short(r.payload, 100)}")
            for result in r.results:
                outcome = "ok" if result.success else "failed"
                print(f"  {_stamp(result.start)}  {result.duration:.3f}s  {outcome}  status {result.code}"
                      f"  {result.error or '-'}  response {_short(result.response, 60)!r}")
    return 0


def cmd_hook_kick(qdb: QueueDatabase, args) -> int:
    n = asyncio.run(qdb.webhooks.kick(_hook_filter(args), time.time()))
    print(f"{n} webhook(s) scheduled for delivery now")
    return 0


def cmd_hook_drop(qdb: QueueDatabase, args) -> int:
    from .webhooks import control

    f = _hook_filter(args)
    if f == type(f)() and not args.all:
        print("mox: refusing to drop every webhook without -all; give a filter (-ids, -account, -event)",
              file=sys.stderr)
        return 2

    def keep(account: str) -> float:
        acc = qdb.config.Accounts.get(account)
        return acc.KeepRetiredWebhookPeriod if acc else 0.0

    n = asyncio.run(control.drop(qdb.webhooks, f, keep))
    print(f"{n} webhook(s) dropped")
    return 0


HOOK_COMMANDS = {
    "list": (cmd_hook_list, "list webhooks waiting to be delivered"),
    "kick": (cmd_hook_kick, "attempt delivery of matching webhooks now"),
    "drop": (cmd_hook_drop, "give up matching webhooks (kept as retired, not delivered)"),
    "retired": (cmd_hook_retired, "list delivered and given-up webhooks with their attempts"),
}

def _hook_events() -> list[str]:
    from .queue.events import EVENTS

    return ["incoming", *EVENTS]


def _common_arguments(q) -> None:
    q.add_argument("-config", "--config", help="config file (default: config/mox.toml, else "
                                               "localserve/config/mox.toml)")
    q.add_argument("-dir", "--dir", help="localserve directory, instead of -config")
    q.add_argument("-ids", "--ids", help="comma-separated ids")
    q.add_argument("-account", "--account", help="account that queued the message")


def _add_hook_parsers(qsub) -> None:
    p = qsub.add_parser("webhook", help="list and change the webhook queue")
    hsub = p.add_subparsers(dest="webhook_command", metavar="SUBCOMMAND")
    hsub.required = True
    for name, (func, help_text) in HOOK_COMMANDS.items():
        q = hsub.add_parser(name, help=help_text, description=help_text)
        _common_arguments(q)
        q.add_argument("-event", "--event", choices=_hook_events(), help="kind of webhook")
        q.add_argument("-queuemsgid", "--queuemsgid", type=int, help="queue message the webhook is about")
        if name == "retired":
            q.add_argument("-v", "--verbose", action="store_true", help="also print every delivery attempt")
        if name == "drop":
            q.add_argument("-all", "--all", action="store_true", help="allow dropping without a filter")
        q.set_defaults(func=_run(func))


COMMANDS = {
    "list": (cmd_list, "list messages in the queue"),
    "hold": (cmd_hold, "put matching messages on hold: no delivery attempts until released"),
    "release": (cmd_release, "release matching messages from hold"),
    "kick": (cmd_kick, "attempt delivery of matching messages now"),
    "drop": (cmd_drop, "remove matching messages from the queue (a \"canceled\" event, no DSN)"),
    "retired": (cmd_retired, "list delivered, failed, suppressed and canceled messages kept after the queue"),
}


def add_parsers(sub) -> None:
    """Add `queue` and its subcommands to the top-level subparsers."""
    p = sub.add_parser("queue", help="list and change the delivery queue of a server (running or not)")
    qsub = p.add_subparsers(dest="queue_command", metavar="SUBCOMMAND")
    qsub.required = True
    for name, (func, help_text) in COMMANDS.items():
        q = qsub.add_parser(name, help=help_text, description=help_text)
        _common_arguments(q)
        q.add_argument("-domain", "--domain", help="recipient domain")
        q.add_argument("-to", "--to", help="part of the recipient address")
        if name == "retired":
            q.add_argument("-result", "--result", choices=["success", "failure"], help="delivered or not")
            q.add_argument("-v", "--verbose", action="store_true", help="also print every delivery attempt")
        else:
            q.add_argument("-hold", "--hold", choices=["true", "false"], help="only messages (not) on hold")
        if name == "drop":
            q.add_argument("-all", "--all", action="store_true", help="allow dropping without a filter")
        q.set_defaults(func=_run(func))
    _add_hook_parsers(qsub)


def _run(func):
    def run(args: argparse.Namespace) -> int:
        try:
            config = find_config(args)
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
