"""`mox storage migrate -to postgresql`: move a stopped server's data
directory (SQLite) into an empty PostgreSQL database.

The copy and its verification are moxpy/store/pg/migrate.py's, imported
(and psycopg with it) only when the command runs; this module reads the
arguments, finds the DSN and prints the outcome.
"""

from __future__ import annotations

import argparse
import sys

from .. import config as configlib
from . import configfile


def cmd_migrate(args: argparse.Namespace) -> int:
    config = configfile.load(args)
    from ..store import backend

    dsn = args.dsn or (backend.dsn(config) if config.PostgreSQL.DSN else "")
    if not dsn:
        raise configlib.ConfigError("storage migrate: no DSN: give -dsn, or set [PostgreSQL] DSN in the config")
    from ..store.pg import migrate

    try:
        summary = migrate.migrate(config.data_dir(), dsn)
    except migrate.MigrationError as e:
        print(f"mox: storage migrate: {e}", file=sys.stderr)
        return 1
    for problem in summary.problems:
        print(f"mox: storage migrate: {problem}", file=sys.stderr)
    if summary.problems:
        print("mox: storage migrate: the copy does not match the original; keep using SQLite", file=sys.stderr)
        return 1
    print(f"copied and verified: {summary.accounts} accounts, {summary.messages} messages, "
          f"{summary.queued} queue entries, {summary.octets} octets of messages")
    print(f"to use it, set in {config.path or 'the config'}:")
    print('  Storage = "postgresql"')
    print("  [PostgreSQL]")
    if args.dsn:
        secret = "  # and its password in PasswordFile" if migrate.password(dsn) else ""
        print(f'  DSN = "{migrate.redacted(dsn)}"{secret}')
    else:
        print("  DSN and PasswordFile as they are")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("storage", help="move the server's storage to another backend")
    ssub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    m = ssub.add_parser("migrate", help="copy a stopped server's SQLite data into an empty PostgreSQL database",
                        description="Copy the data directory (mox.db, the accounts, the queue) of a stopped "
                                    "server into an empty PostgreSQL database, and verify the copy.")
    m.add_argument("-to", "--to", required=True, choices=["postgresql"], help="the backend to move to")
    m.add_argument("-dsn", "--dsn", default="", help="PostgreSQL connection string (default: the config's)")
    configfile.add_arguments(m)
    m.set_defaults(func=cmd_migrate)
