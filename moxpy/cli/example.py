"""`mox example [NAME]`: list the example webhook payloads, or print one.

The examples are made from the same types the server sends (webhooks/
examples.py, and webapi/examples.py for change webhooks, whose payloads
are the webapi's), which the generated documentation uses too; this
module only lists and prints them.
"""

from __future__ import annotations

import argparse
import sys


def cmd_example(args: argparse.Namespace) -> int:
    from ..webapi.examples import WEBHOOKS
    from ..webhooks.examples import EXAMPLES, render

    examples = {**EXAMPLES, **WEBHOOKS}
    if not args.name:
        for name in examples:
            print(name)
        return 0
    if args.name not in examples:
        print(f"mox: unknown example {args.name!r}; known: {', '.join(examples)}", file=sys.stderr)
        return 2
    sys.stdout.write(render(args.name, examples))
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("example", help="list example webhook payloads, or print one by name")
    p.add_argument("name", nargs="?", help="example to print; without it, the names are listed")
    p.set_defaults(func=cmd_example)
