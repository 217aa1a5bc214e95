"""The command line: `mox COMMAND ...` (mox.py, and the `mox` script the
package installs), with mox's command names and single-dash flags.

One module per command group registers its subcommands on the parser
built here; main() runs the chosen one and turns the errors a user can
cause (bad arguments, addresses, config, files) into one line on standard
error and a non-zero exit code: 2 for arguments a command does not
accept, 1 otherwise.

serve.py         localserve, serve; logs.py sets up their log output
quickstart.py    quickstart
configtest.py    config test
accounts.py      account, address, domain
queue.py         queue list|hold|release|kick|drop|retired
queuewebhook.py  queue webhook list|kick|drop|retired
tokens.py        token add|list|revoke
clients.py       client add|list|remove|rotatekey
webhook.py       webhook secret
rules.py         rule list
example.py       example
storage.py       storage migrate

configfile.py (-config/-dir), queuedb.py (the queue commands' database)
and table.py (their output) are shared by the groups.

Commands import the code they work with (the server, the queue, the
provisioning) when they run, so `mox -h` and the small commands start in
a fraction of a second. The commands hold no mail logic themselves.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from .. import config as configlib
from . import accounts, clients, configtest, example, queue, quickstart, rules, serve, storage, tokens, webhook


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, like every other command-line error
    (subcommands' parsers are of the same class)."""

    def error(self, message: str):
        self.exit(2, f"mox: {self.prog}: {message} (see -h)\n")


def cmd_version(args: argparse.Namespace) -> int:
    print(__version__)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mox.py", description="moxpy mail server")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    serve.add_localserve_parser(sub)
    quickstart.add_parser(sub)
    serve.add_serve_parser(sub)
    configtest.add_parser(sub)
    accounts.add_parsers(sub)
    queue.add_parsers(sub)
    tokens.add_parsers(sub)
    clients.add_parsers(sub)
    webhook.add_parsers(sub)
    rules.add_parsers(sub)
    example.add_parser(sub)
    storage.add_parsers(sub)
    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (configlib.ConfigError, ValueError) as e:
        # Bad arguments, addresses (AddressError is a ValueError) or config:
        # the message says which, no traceback.
        print(f"mox: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"mox: {args.command}: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        from ..store import storage_error  # loaded only when a command failed

        if not storage_error(e):
            raise
        print(f"mox: {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
