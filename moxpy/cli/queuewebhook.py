"""`mox queue webhook list|kick|drop|retired`: the webhook queue of a
server, running or not, for operators.

Webhooks are selected with -ids, -account, -event and -queuemsgid and
shown as a plain table. The changes are webhooks/control.py's; a running
server picks them up within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from .queuedb import QueueDatabase, add_common_arguments, parse_ids, runner
from .table import short, stamp, table, when


def _events() -> list[str]:
    from ..queue.events import EVENTS

    return ["incoming", *EVENTS]


def _filter(args: argparse.Namespace):
    from ..store.webhooks import WebhookFilter

    return WebhookFilter(ids=parse_ids(args.ids, "webhook"), account=args.account or "", event=args.event or "",
                         queue_msg_id=args.queuemsgid or 0)


def _event(r) -> str:
    return "incoming" if r.is_incoming else r.event


def _last_result(r) -> str:
    if not r.results:
        return "-"
    last = r.results[-1]
    return short(last.error or f"{last.code} ok", 50)


def cmd_list(qdb: QueueDatabase, args) -> int:
    rows = qdb.webhooks.queued(_filter(args))
    now = time.time()
    table(["ID", "ACCOUNT", "EVENT", "QUEUEMSGID", "URL", "ATTEMPTS", "NEXT ATTEMPT", "LAST RESULT"],
          [[str(r.id), r.account, _event(r), str(r.queue_msg_id or "-"), r.url, str(r.attempts),
            when(r.next_attempt, now), _last_result(r)] for r in rows])
    print(f"{len(rows)} webhook(s) in queue")
    return 0


def cmd_retired(qdb: QueueDatabase, args) -> int:
    rows = qdb.webhooks.retired(_filter(args))
    table(["ID", "ACCOUNT", "EVENT", "QUEUEMSGID", "URL", "RESULT", "ATTEMPTS", "LAST ACTIVITY", "LAST RESULT"],
          [[str(r.id), r.account, _event(r), str(r.queue_msg_id or "-"), r.url,
            "delivered" if r.success else (f"superseded by {r.superseded_by}" if r.superseded_by else "failed"),
            str(r.attempts), stamp(r.last_activity), _last_result(r)] for r in rows])
    print(f"{len(rows)} retired webhook(s)")
    if args.verbose:
        for r in rows:
            print(f"\n{r.id}: {_event(r)} to {r.url}, payload {short(r.payload, 100)}")
            for result in r.results:
                outcome = "ok" if result.success else "failed"
                print(f"  {stamp(result.start)}  {result.duration:.3f}s  {outcome}  status {result.code}"
                      f"  {result.error or '-'}  response {short(result.response, 60)!r}")
    return 0


def cmd_kick(qdb: QueueDatabase, args) -> int:
    n = asyncio.run(qdb.webhooks.kick(_filter(args), time.time()))
    print(f"{n} webhook(s) scheduled for delivery now")
    return 0


def cmd_drop(qdb: QueueDatabase, args) -> int:
    from ..webhooks import control

    f = _filter(args)
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


COMMANDS = {
    "list": (cmd_list, "list webhooks waiting to be delivered"),
    "kick": (cmd_kick, "attempt delivery of matching webhooks now"),
    "drop": (cmd_drop, "give up matching webhooks (kept as retired, not delivered)"),
    "retired": (cmd_retired, "list delivered and given-up webhooks with their attempts"),
}


def add_parsers(qsub) -> None:
    """Add `webhook` and its subcommands to the subparsers of `queue`."""
    p = qsub.add_parser("webhook", help="list and change the webhook queue")
    hsub = p.add_subparsers(dest="webhook_command", metavar="SUBCOMMAND")
    hsub.required = True
    for name, (func, help_text) in COMMANDS.items():
        q = hsub.add_parser(name, help=help_text, description=help_text)
        add_common_arguments(q)
        q.add_argument("-event", "--event", choices=_events(), help="kind of webhook")
        q.add_argument("-queuemsgid", "--queuemsgid", type=int, help="queue message the webhook is about")
        if name == "retired":
            q.add_argument("-v", "--verbose", action="store_true", help="also print every delivery attempt")
        if name == "drop":
            q.add_argument("-all", "--all", action="store_true", help="allow dropping without a filter")
        q.set_defaults(func=runner(func))
