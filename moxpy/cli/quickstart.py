"""`mox quickstart ADDRESS`: create a config for a real domain and print
what to do next (DNS records, client settings, how to start).

The config, keys and certificate are made by provision/quickstart.py; this
module only prints. It does not start the server.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys


def cmd_quickstart(args: argparse.Namespace) -> int:
    from ..provision import quickstart

    config, password = quickstart.create(args.dir, args.address, args.hostname)
    address = next(iter(next(iter(config.Accounts.values())).Destinations))
    print(f"Created {config.path} and DKIM keys for {', '.join(config.Domains)}.\n")
    print(f"Account {next(iter(config.Accounts))}, login {address}, password (shown only now):\n\n    {password}\n")
    print("Publish these DNS records:\n")
    print("\n".join(quickstart.dns_records(config)))
    print("\nClient settings:\n")
    print("\n".join(quickstart.client_settings(config, address)))
    cert = os.path.join(os.path.dirname(config.path), "tls.crt")
    print(f"""
TLS: {cert} is self-signed for {config.Hostname}. Replace CertFile and KeyFile
in {config.path} with a real certificate (e.g. from certbot) before use.

Start the server (ports below 1024 need privileges, see the README):

    {_mox_command()} serve -config {shlex.quote(config.path)}
""")
    return 0


def _mox_command() -> str:
    """How to run mox: the script installed beside this Python (in the virtual
    environment), which works from any directory; else through dev.py."""
    script = os.path.join(os.path.dirname(sys.executable), "mox")
    return shlex.quote(script) if os.path.exists(script) else "python3 dev.py mox"


def add_parser(sub) -> None:
    p = sub.add_parser("quickstart", help="create a config for a real domain and print the DNS records to publish")
    p.add_argument("address", help="your email address, e.g. you@example.com")
    p.add_argument("-hostname", "--hostname", default="", help="the mail server's host name (default mail.DOMAIN)")
    p.add_argument("-dir", "--dir", default=".", help="where to create config/ and data/ (default .)")
    p.set_defaults(func=cmd_quickstart)
