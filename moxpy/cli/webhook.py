"""`mox webhook secret ACCOUNT [-kind K] [-rotate [-overlap D]]`: the
secrets that sign an account's webhooks (webhooks/signing.py).

A new secret is printed once and kept only in the server's database
(mox.db, readable by the server alone); a running server signs with it
from its next webhook on. Without -rotate an account that already has a
secret for a kind keeps it and the command fails; with -rotate the old
secret goes on signing beside the new one for -overlap (default 24h).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from .. import config as configlib
from .. import durations
from . import configfile

DEFAULT_OVERLAP = "24h"

def parse_duration(text: str) -> float:
    """A duration as Go writes them ("24h", "1h30m", "90s"), or in days ("2d"); in seconds."""
    text = text.strip()
    if text == "0":
        return 0.0
    total = durations.seconds(text, ("d", "h", "m", "s"))
    if total is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 24h, 90m or 2d")
    return total


def cmd_secret(args: argparse.Namespace) -> int:
    from ..store import backend
    from ..webhooks import signing

    config = configfile.load(args)
    if args.account not in config.Accounts:
        raise configlib.ConfigError(f"no account {args.account!r}")
    data_dir = config.data_dir()
    if not os.path.isdir(data_dir):
        raise configlib.ConfigError(f"no data directory {data_dir}")
    kinds = [args.kind] if args.kind else list(signing.KINDS)
    overlap = args.overlap if args.rotate else None
    serverdb = backend.server_database(config)
    made = []
    try:
        for kind in kinds:
            secret = signing.new_secret()
            if asyncio.run(serverdb.webhooks.add_signing_secret(args.account, kind, secret, time.time(), overlap)):
                made.append((kind, secret))
            else:
                print(f"mox: account {args.account} already has a {kind} webhook secret; use -rotate to replace it",
                      file=sys.stderr)
    finally:
        serverdb.close()
    for kind, secret in made:
        print(secret if args.kind else f"{kind} {secret}")
    return 0 if len(made) == len(kinds) else 1


def add_parsers(sub) -> None:
    p = sub.add_parser("webhook", help="signing secrets of an account's webhooks")
    wsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = wsub.add_parser("secret", help="make a webhook signing secret and print it once (Standard Webhooks)")
    a.add_argument("account")
    a.add_argument("-kind", "--kind", choices=("outgoing", "incoming", "change"), default="",
                   help="the kind of webhook (default: a secret for each kind, printed as KIND SECRET)")
    a.add_argument("-rotate", "--rotate", action="store_true",
                   help="replace the current secret; it goes on signing beside the new one for -overlap")
    a.add_argument("-overlap", "--overlap", default=DEFAULT_OVERLAP, type=parse_duration,
                   help=f"with -rotate: how long the old secret still signs (default {DEFAULT_OVERLAP}; 0: stops now)")
    configfile.add_arguments(a)
    a.set_defaults(func=cmd_secret)
