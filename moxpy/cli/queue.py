"""`mox queue list|hold|release|kick|drop|retired`: the delivery queue of
a server, running or not, for operators.

Matching messages are selected with -ids, -account, -domain, -to and
-hold/-result, and shown as a plain table, one row per entry. The changes
are queue/control.py's; a running server picks them up within a second.
The `queue webhook` group is in queuewebhook.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from . import queuewebhook
from .queuedb import QueueDatabase, add_common_arguments, parse_ids, runner
from .table import short, stamp, table, when


def _filter(args: argparse.Namespace):
    from ..store.queue import EntryFilter

    hold = None
    if getattr(args, "hold", None):
        hold = args.hold == "true"
    success = None
    if getattr(args, "result", None):
        success = args.result == "success"
    return EntryFilter(ids=parse_ids(args.ids, "queue"), account=args.account or "", domain=args.domain or "",
                       to=args.to or "", hold=hold, success=success)


def cmd_list(qdb: QueueDatabase, args) -> int:
    rows = qdb.queue.queued(_filter(args))
    now = time.time()
    max_attempts = qdb.config.Queue.MaxAttempts
    table(["ID", "ACCOUNT", "FROM", "TO", "ATTEMPTS", "NEXT ATTEMPT", "HOLD", "LAST ERROR"],
          [[str(r.id), r.account, r.mail_from, r.rcpt_to, f"{r.attempts}/{max_attempts}",
            "on hold" if r.hold else when(r.next_attempt, now), "yes" if r.hold else "no",
            short(r.last_error) or "-"] for r in rows])
    print(f"{len(rows)} message(s) in queue")
    return 0


def cmd_retired(qdb: QueueDatabase, args) -> int:
    rows = qdb.queue.retired(_filter(args))
    table(["ID", "ACCOUNT", "FROM", "TO", "RESULT", "ATTEMPTS", "RETIRED", "LAST ERROR"],
          [[str(r.id), r.account, r.mail_from, r.rcpt_to, r.event or ("delivered" if r.success else "failed"),
            str(r.attempts), stamp(r.retired), short(r.last_error) or "-"] for r in rows])
    print(f"{len(rows)} retired message(s)")
    if args.verbose:
        for r in rows:
            print(f"\n{r.id}: {r.rcpt_to}, message-id {r.message_id or '-'}, subject {r.subject!r}")
            for result in r.results:
                outcome = "ok" if result.success else "failed"
                detail = result.error or (str(result.code) if result.code else "")
                print(f"  {stamp(result.start)}  {result.duration:.3f}s  {outcome}  {detail}")
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
    from ..queue import control

    f = _filter(args)
    if f == type(f)() and not args.all:
        print("mox: refusing to drop every message without -all; give a filter (-ids, -account, -domain, -to)",
              file=sys.stderr)
        return 2
    n = asyncio.run(control.drop(qdb.queue, f, qdb.recorder))
    print(f"{n} message(s) dropped")
    return 0


COMMANDS = {
    "list": (cmd_list, "list messages in the queue"),
    "hold": (cmd_hold, "put matching messages on hold: no delivery attempts until released"),
    "release": (cmd_release, "release matching messages from hold"),
    "kick": (cmd_kick, "attempt delivery of matching messages now"),
    "drop": (cmd_drop, "remove matching messages from the queue (a \"canceled\" event, no DSN)"),
    "retired": (cmd_retired, "list delivered, failed, suppressed and canceled messages kept after the queue"),
}


def add_parsers(sub) -> None:
    """Add `queue`, its subcommands and the `queue webhook` group to the top-level subparsers."""
    p = sub.add_parser("queue", help="list and change the delivery queue of a server (running or not)")
    qsub = p.add_subparsers(dest="queue_command", metavar="SUBCOMMAND")
    qsub.required = True
    for name, (func, help_text) in COMMANDS.items():
        q = qsub.add_parser(name, help=help_text, description=help_text)
        add_common_arguments(q)
        q.add_argument("-domain", "--domain", help="recipient domain")
        q.add_argument("-to", "--to", help="part of the recipient address")
        if name == "retired":
            q.add_argument("-result", "--result", choices=["success", "failure"], help="delivered or not")
            q.add_argument("-v", "--verbose", action="store_true", help="also print every delivery attempt")
        else:
            q.add_argument("-hold", "--hold", choices=["true", "false"], help="only messages (not) on hold")
        if name == "drop":
            q.add_argument("-all", "--all", action="store_true", help="allow dropping without a filter")
        q.set_defaults(func=runner(func))
    queuewebhook.add_parsers(qsub)
