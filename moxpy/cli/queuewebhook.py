"""`mox queue webhook list|kick|drop|retired|replay`: the webhook queue of
a server, running or not, for operators.

Webhooks are selected with -ids, -account, -event and -queuemsgid (and
for replay -since) and shown as a plain table. The changes are
webhooks/control.py's; a running server picks them up within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from datetime import datetime

from .. import durations
from .queuedb import QueueDatabase, add_common_arguments, parse_ids, runner
from .table import short, stamp, table, when


def _events() -> list[str]:
    from ..config import CHANGE_WEBHOOK_EVENTS
    from ..queue.events import EVENTS

    return ["incoming", *EVENTS, *CHANGE_WEBHOOK_EVENTS]


def _filter(args: argparse.Namespace):
    from ..store.webhooks import WebhookFilter

    return WebhookFilter(ids=parse_ids(args.ids, "webhook"), account=args.account or "", event=args.event or "",
                         queue_msg_id=args.queuemsgid or 0, since=getattr(args, "since", None) or 0.0)


def parse_since(text: str, now: float | None = None) -> float:
    """-since: an RFC 3339 time ("2024-04-04T14:29:42Z"), or a duration before now ("-24h", "24h", "90m");
    as Unix time."""
    now = time.time() if now is None else now
    # A duration; a leading "-" (ago) changes nothing.
    ago = durations.seconds(text.strip().removeprefix("-"))
    if ago is not None:
        return now - ago
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an RFC 3339 time with a time zone (2024-04-04T14:29:42Z) or a duration (-24h)")
    return moment.timestamp()


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


def cmd_replay(qdb: QueueDatabase, args) -> int:
    from ..config import CHANGE_WEBHOOK_EVENTS
    from ..webhooks import control

    def authorization(hook) -> str:
        # As configured now for the kind of webhook: retired webhooks do not keep the header.
        account = qdb.config.Accounts.get(hook.account)
        if account is None:
            return ""
        current = account.IncomingWebhook if hook.is_incoming else (
            account.ChangeWebhook if hook.event in CHANGE_WEBHOOK_EVENTS else account.OutgoingWebhook)
        return current.Authorization if current is not None else ""

    replayed = asyncio.run(control.replay(qdb.webhooks, _filter(args), authorization))
    table(["ID", "NEW ID", "ACCOUNT", "EVENT", "QUEUED FIRST", "URL"],
          [[str(old.id), str(new_id), old.account, _event(old), stamp(old.submitted), old.url]
           for old, new_id in replayed])
    print(f"{len(replayed)} webhook(s) queued again")
    return 0


COMMANDS = {
    "list": (cmd_list, "list webhooks waiting to be delivered"),
    "kick": (cmd_kick, "attempt delivery of matching webhooks now"),
    "drop": (cmd_drop, "give up matching webhooks (kept as retired, not delivered)"),
    "retired": (cmd_retired, "list delivered and given-up webhooks with their attempts"),
    "replay": (cmd_replay, "queue retired webhooks again: same payloads, new ids"),
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
        if name == "replay":
            q.add_argument("-since", "--since", type=parse_since, required=True, metavar="TIME",
                           help="webhooks first queued at or after TIME: RFC 3339 (2024-04-04T14:29:42Z) or "
                                "a duration ago (-24h, 90m)")
            # So that "-since -24h" takes "-24h" as the value rather than as an unknown option.
            q._negative_number_matcher = re.compile(r"^-(?:\d|\.\d)")
        q.set_defaults(func=runner(func))
