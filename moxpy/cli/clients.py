"""`mox client add|list|remove|rotatekey`: OAuth clients of the accounts
and the key that signs their access tokens, in the server database
(mox.db), also while the server runs: it checks the client at every call
with an access token, so a removal takes effect at once, and reads the
signing key at every token it issues.

Making clients and keys is moxpy/oauth's; this module reads the arguments
and prints the outcome. `add` prints the client id alone on the first
line and the secret, once, alone on the last, for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from .. import config as configlib
from . import configfile
from .tokens import _open, _when


def cmd_client(args: argparse.Namespace) -> int:
    from .. import tokens as tokenlib

    config = configfile.load(args)
    if args.action == "add":
        if args.account not in config.Accounts:
            raise configlib.ConfigError(f"client add: no account {args.account!r}")
        scopes = tokenlib.parse_scopes(args.scope)
    db = _open(config)
    try:
        if args.action == "add":
            _add(db, args.account, scopes, args.name)
        elif args.action == "list":
            print("id\taccount\tscopes\tcreated\tstate\tname")
            for c in db.oauth_clients.list(args.account or ""):
                print(f"{c.id}\t{c.account}\t{','.join(c.scopes)}\t{_when(c.created)}\t"
                      f"{'removed' if c.removed else 'active'}\t{c.name}")
        elif args.action == "remove":
            if not asyncio.run(db.oauth_clients.remove(args.id, time.time())):
                raise configlib.ConfigError(f"client remove: no client with id {args.id!r}")
            print(f"client {args.id} removed; its access tokens no longer work")
        else:
            _rotate(db, config.OAuth.TokenLifetime)
    finally:
        db.close()
    return 0


def _add(db, account: str, scopes: list[str], name: str) -> None:
    from ..oauth import clients as clientlib

    record, secret = asyncio.run(clientlib.create(db.oauth_clients, account, scopes, name))
    print(record.id)
    print(f"client {record.id} for account {account}, scopes {','.join(scopes)}; its secret, shown only now:")
    print(secret)


def _rotate(db, lifetime: float) -> None:
    from ..oauth import keys as keylib

    now = time.time()
    before = [k for k in db.signing_keys.keys() if not k.retired]
    key = keylib.new_key(now)

    async def rotate() -> None:
        await db.signing_keys.rotate(key, now)
        await db.signing_keys.drop_retired(now - lifetime - keylib.LEEWAY)

    asyncio.run(rotate())
    print(f"key {key.kid} signs access tokens from now on")
    for old in before:
        print(f"key {old.kid} retired: it verifies tokens until {_when(now + lifetime + keylib.LEEWAY)}, "
              "then is dropped")


def add_parsers(sub) -> None:
    p = sub.add_parser("client", help="add, list and remove OAuth clients; rotate the key of their access tokens")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = csub.add_parser("add", help="make an OAuth client for an account; prints its id, then its secret once")
    a.add_argument("account")
    a.add_argument("-scope", "--scope", required=True,
                   help="comma-separated, the most its tokens may get: send, read, read.body, modify, "
                        "suppressions, tokens, admin")
    a.add_argument("-name", "--name", default="", help="free text to tell clients apart")
    configfile.add_arguments(a)
    a = csub.add_parser("list", help="list clients (never their secrets)")
    a.add_argument("account", nargs="?", help="only this account's")
    configfile.add_arguments(a)
    a = csub.add_parser("remove", help="remove a client; its access tokens stop working at once")
    a.add_argument("id")
    configfile.add_arguments(a)
    a = csub.add_parser("rotatekey", help="make a new key that signs access tokens; the old one verifies until "
                                          "its tokens have expired")
    configfile.add_arguments(a)
    p.set_defaults(func=cmd_client)
