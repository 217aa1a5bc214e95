"""`mox example [NAME]`: list the example webhook payloads, or print one.

The examples are made from the same types the server sends (webhooks/
examples.py), which the generated documentation uses too; this module
only lists and prints them.
"""

from __future__ import annotations

import argparse
import sys


def cmd_example(args: argparse.Namespace) -> int:
    from ..webhooks.examples import EXAMPLES, render

    if not args.name:
        for name in EXAMPLES:
            print(name)
        return 0
    if args.name not in EXAMPLES:
        print(f"mox: unknown example {args.name!r}; known: {', '.join(EXAMPLES)}", file=sys.stderr)
        return 2
    sys.stdout.write(render(args.name))
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("example", help="list example webhook payloads, or print one by name")
    p.add_argument("name", nargs="?", help="example to print; without it, the names are listed")
    p.set_defaults(func=cmd_example)
