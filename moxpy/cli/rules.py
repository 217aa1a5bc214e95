"""`mox rule list ACCOUNT [-sieve]`: an account's delivery rules, read
from its index (the rules live there, not in the config; the webapi's
RuleCreate, RuleUpdate and RuleDelete change them). Safe while the server
runs: the index is opened read-only.

One line per rule, in the order they run, with tab-separated columns; or,
with -sieve, the rules as the Sieve script RuleList gives.
"""

from __future__ import annotations

import argparse
import json

from .. import config as configlib
from . import configfile


def _conditions(rule) -> str:
    if not rule.conditions:
        return "(every message)"
    joined = f" {rule.join} "
    return joined.join(f"{c.field} {c.operation} {json.dumps(c.value, ensure_ascii=False)}" for c in rule.conditions)


def cmd_rule(args: argparse.Namespace) -> int:
    from .. import sieve
    from ..store import backend

    config = configfile.load(args)
    if args.account not in config.Accounts:
        raise configlib.ConfigError(f"rule list: no account {args.account!r}")
    store = backend.accounts(config, readonly=True)
    try:
        try:
            rules = store.account(args.account).rules.list()
        except FileNotFoundError:
            rules = []  # the server never opened the account: it has no rules yet
    finally:
        store.close()
    if args.sieve:
        print(sieve.export(rules, args.account), end="")
        return 0
    print("position\tname\tstate\taction\tconditions")
    for position, rule in enumerate(rules, 1):
        action = rule.action.kind + (f" {rule.action.value}" if rule.action.value else "")
        state = "disabled" if rule.disabled else "enabled"
        print(f"{position}\t{rule.name}\t{state}\t{action}\t{_conditions(rule)}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("rule", help="list an account's delivery rules (changed with the webapi's Rule methods)")
    rsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = rsub.add_parser("list", help="the rules in the order they run, or as a Sieve script")
    a.add_argument("account")
    a.add_argument("-sieve", "--sieve", action="store_true", help="print them as a Sieve script (RFC 5228)")
    configfile.add_arguments(a)
    p.set_defaults(func=cmd_rule)
