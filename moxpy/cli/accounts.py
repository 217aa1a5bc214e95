"""`mox account|address|domain ...`: list and change the accounts,
addresses and domains of a config, also while its server runs.

The changes themselves, their checks and the atomic rewrite of the file
are provision/edit.py's; this module reads arguments (and passwords from
the terminal or standard input) and prints the outcome.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from .. import config as configlib
from . import configfile


def _password(args: argparse.Namespace) -> str:
    if args.password:
        return args.password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("new password: ")
    if first != getpass.getpass("again: "):
        raise configlib.ConfigError("passwords do not match")
    return first


def cmd_account(args: argparse.Namespace) -> int:
    from ..provision import edit

    config = configfile.load(args)
    if args.action == "list":
        for name, acc in sorted(config.Accounts.items()):
            print(f"{name}\t{', '.join(acc.Destinations)}")
    elif args.action == "add":
        with edit.edited(config.path) as config:
            password = edit.add_account(config, args.name, args.address, args.password or None, args.fullname)
        print(f"account {args.name} added with login {args.address}")
        if not args.password:
            print(f"password (shown only now): {password}")
    elif args.action == "del":
        with edit.edited(config.path) as config:
            edit.delete_account(config, args.name)
        kept = (edit.kept_in(config, args.name) if config.Storage == "postgresql"
                else edit.account_directory(config, args.name))
        print(f"account {args.name} removed; its mail stays in {kept} "
              "(the webapi's AccountDelete removes it)")
    elif args.action == "passwd":
        password = _password(args)
        with edit.edited(config.path) as config:
            edit.set_password(config, args.name, password)
        print(f"password of {args.name} changed")
    return 0


def cmd_address(args: argparse.Namespace) -> int:
    from ..provision import edit

    config = configfile.load(args)
    if args.action == "add":
        address = edit.add_address(config, args.address, args.account)
        print(f"{address} now delivers to account {args.account}")
    else:
        edit.delete_address(config, args.address)
        print(f"{args.address} removed")
    return 0


def cmd_domain(args: argparse.Namespace) -> int:
    from ..provision import edit, quickstart

    config = configfile.load(args)
    if args.action == "add":
        domain = edit.add_domain(config, args.domain, args.account or "", args.localpart or "")
        config = configlib.load(config.path)
        print(f"domain {domain} added; publish its DNS records:\n")
        print("\n".join(line for line in quickstart.dns_records(config) if domain in line or line.startswith(";; Domain")))
    else:
        edit.delete_domain(config, args.domain)
        print(f"domain {args.domain} removed")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("account", help="list, add, remove accounts, change passwords")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = asub.add_parser("list", help="list accounts and their addresses")
    configfile.add_arguments(a)
    a = asub.add_parser("add", help="add an account with its login address")
    a.add_argument("name")
    a.add_argument("address")
    a.add_argument("-password", "--password", default="", help="password, at least 8 characters (default: generated "
                                                                   "and printed)")
    a.add_argument("-fullname", "--fullname", default="", help="display name for outgoing mail")
    configfile.add_arguments(a)
    a = asub.add_parser("del", help="remove an account from the config (its stored mail is kept)")
    a.add_argument("name")
    configfile.add_arguments(a)
    a = asub.add_parser("passwd", help="set an account's password (asked for, or read from stdin)")
    a.add_argument("name")
    a.add_argument("-password", "--password", default="", help=argparse.SUPPRESS)
    configfile.add_arguments(a)
    p.set_defaults(func=cmd_account)

    p = sub.add_parser("address", help="add or remove addresses of accounts (@domain for a catchall)")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = asub.add_parser("add", help="deliver an address (or @domain) to an account")
    a.add_argument("address")
    a.add_argument("account")
    configfile.add_arguments(a)
    a = asub.add_parser("del", help="remove an address")
    a.add_argument("address")
    configfile.add_arguments(a)
    p.set_defaults(func=cmd_address)

    p = sub.add_parser("domain", help="add or remove domains")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = asub.add_parser("add", help="add a domain with new DKIM keys, optionally with an address for an account")
    a.add_argument("domain")
    a.add_argument("account", nargs="?")
    a.add_argument("localpart", nargs="?", help="with account: the address LOCALPART@DOMAIN (default: catchall @DOMAIN)")
    configfile.add_arguments(a)
    a = asub.add_parser("del", help="remove a domain no account uses")
    a.add_argument("domain")
    configfile.add_arguments(a)
    p.set_defaults(func=cmd_domain)

    p = sub.add_parser("passwordhash", help="print the hash of a password (asked for, or read from stdin), for "
                                            "the password files of the config")
    p.set_defaults(func=cmd_passwordhash)


def cmd_passwordhash(args: argparse.Namespace) -> int:
    from .. import auth

    password = _password(argparse.Namespace(password=""))
    if not password:
        raise configlib.ConfigError("empty password")
    print(auth.hash_password(password))
    return 0
