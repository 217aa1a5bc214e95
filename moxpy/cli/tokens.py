"""`mox token add|list|revoke`: the accounts' API tokens, in the server
database (mox.db), also while the server runs: it reads every token from
the database at each call, so a revocation takes effect at once.

Making and checking tokens is moxpy/tokens.py's; this module reads the
arguments and prints the outcome. The token itself is printed once, alone
on the last line, so a script can take it with `tail -n 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from .. import config as configlib
from . import configfile


def _open(config: configlib.Config):
    from ..store import backend

    data_dir = config.data_dir()
    os.makedirs(data_dir, exist_ok=True)
    return backend.server_database(config)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp)) if timestamp else "-"


def cmd_token(args: argparse.Namespace) -> int:
    from .. import tokens as tokenlib

    config = configfile.load(args)
    if args.action == "add":
        if args.account not in config.Accounts:
            raise configlib.ConfigError(f"token add: no account {args.account!r}")
        scopes = tokenlib.parse_scopes(args.scope)
        lifetime = tokenlib.parse_duration(args.expires)
    elif args.action == "revoke" and not args.id.isdigit():
        raise configlib.ConfigError(f"token revoke: {args.id!r} is not a token id")
    db = _open(config)
    try:
        if args.action == "add":
            record, token = asyncio.run(tokenlib.create(db.tokens, args.account, scopes, args.name, lifetime))
            expires = f", expires {_when(record.expires)}" if record.expires else ""
            print(f"token {record.id} for account {args.account}, scopes {','.join(scopes)}{expires}; "
                  "shown only now:")
            print(token)
        elif args.action == "list":
            now = time.time()
            print("id\taccount\tscopes\tcreated\texpires\tstate\tname")
            for r in db.tokens.list(args.account or ""):
                state = "revoked" if r.revoked else "expired" if r.expires and r.expires <= now else "active"
                print(f"{r.id}\t{r.account}\t{','.join(r.scopes)}\t{_when(r.created)}\t{_when(r.expires)}\t"
                      f"{state}\t{r.name}")
        else:
            if not asyncio.run(db.tokens.revoke(int(args.id), "", time.time())):
                raise configlib.ConfigError(f"token revoke: no token with id {args.id}")
            print(f"token {args.id} revoked")
    finally:
        db.close()
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("token", help="add, list and revoke the accounts' webapi tokens")
    tsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = tsub.add_parser("add", help="make a token for an account; it is printed once, on the last line")
    a.add_argument("account")
    a.add_argument("-scope", "--scope", required=True,
                   help="comma-separated: send, read, read.body, modify, suppressions, tokens, admin")
    a.add_argument("-name", "--name", default="", help="free text to tell tokens apart")
    a.add_argument("-expires", "--expires", default="",
                   help="lifetime such as 24h, 90m or 1h30m (default: does not expire)")
    configfile.add_arguments(a)
    a = tsub.add_parser("list", help="list tokens (never the tokens themselves)")
    a.add_argument("account", nargs="?", help="only this account's")
    configfile.add_arguments(a)
    a = tsub.add_parser("revoke", help="revoke a token at once")
    a.add_argument("id")
    configfile.add_arguments(a)
    p.set_defaults(func=cmd_token)
