"""Commands for running a real domain: quickstart, serve, config test, and
managing accounts, addresses and domains in the config of a (running)
server. Registered on the command line by cli.py.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys

from . import config as configlib

def _load(args: argparse.Namespace) -> configlib.Config:
    return configlib.load(configlib.locate(args.config, args.dir))


def cmd_quickstart(args: argparse.Namespace) -> int:
    from .provision import quickstart

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


def cmd_serve(args: argparse.Namespace) -> int:
    from . import server
    from .cli import setup_logging

    config = _load(args)
    setup_logging(args.loglevel or config.LogLevel)

    def ready(_server) -> None:
        print("moxpy serve ready", flush=True)

    return server.run(config, on_ready=ready)


def cmd_config_test(args: argparse.Namespace) -> int:
    config = _load(args)
    problems = []
    for listener_name, listener in config.Listeners.items():
        if listener.TLS:
            for path in (listener.TLS.CertFile, listener.TLS.KeyFile):
                if not os.path.exists(config.resolve(path)):
                    problems.append(f"listener {listener_name}: {config.resolve(path)} does not exist")
    if problems:
        raise configlib.ConfigError("; ".join(problems))
    if not config.Localserve:
        from .tls import server_context

        for listener_name, listener in config.Listeners.items():
            if listener.TLS:
                try:
                    server_context(config.resolve(listener.TLS.CertFile), config.resolve(listener.TLS.KeyFile))
                except (OSError, ValueError) as e:
                    raise configlib.ConfigError(f"listener {listener_name}: TLS certificate: {e}") from None
    print(f"{config.path}: config OK")
    return 0


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
    from .provision import edit as manage

    config = _load(args)
    if args.action == "list":
        for name, acc in sorted(config.Accounts.items()):
            print(f"{name}\t{', '.join(acc.Destinations)}")
    elif args.action == "add":
        password = manage.add_account(config, args.name, args.address, args.password or None, args.fullname)
        print(f"account {args.name} added with login {args.address}")
        if not args.password:
            print(f"password (shown only now): {password}")
    elif args.action == "del":
        manage.delete_account(config, args.name)
        print(f"account {args.name} removed; its mail stays in {os.path.join(config.data_dir(), 'accounts', args.name)}")
    elif args.action == "passwd":
        manage.set_password(config, args.name, _password(args))
        print(f"password of {args.name} changed")
    return 0


def cmd_address(args: argparse.Namespace) -> int:
    from .provision import edit as manage

    config = _load(args)
    if args.action == "add":
        address = manage.add_address(config, args.address, args.account)
        print(f"{address} now delivers to account {args.account}")
    else:
        manage.delete_address(config, args.address)
        print(f"{args.address} removed")
    return 0


def cmd_domain(args: argparse.Namespace) -> int:
    from .provision import edit as manage, quickstart

    config = _load(args)
    if args.action == "add":
        domain = manage.add_domain(config, args.domain, args.account or "", args.localpart or "")
        config = configlib.load(config.path)
        print(f"domain {domain} added; publish its DNS records:\n")
        print("\n".join(line for line in quickstart.dns_records(config) if domain in line or line.startswith(";; Domain")))
    else:
        manage.delete_domain(config, args.domain)
        print(f"domain {args.domain} removed")
    return 0


def add_commands(sub) -> None:
    def config_arg(p):
        p.add_argument("-config", "--config", default="",
                       help="config file (default: config/mox.toml, else localserve/config/mox.toml)")
        p.add_argument("-dir", "--dir", default="", help="a localserve directory, instead of -config")

    p = sub.add_parser("quickstart", help="create a config for a real domain and print the DNS records to publish")
    p.add_argument("address", help="your email address, e.g. you@example.com")
    p.add_argument("-hostname", "--hostname", default="", help="the mail server's host name (default mail.DOMAIN)")
    p.add_argument("-dir", "--dir", default=".", help="where to create config/ and data/ (default .)")
    p.set_defaults(func=cmd_quickstart)

    p = sub.add_parser("serve", help="run the mail server from a config file")
    config_arg(p)
    p.add_argument("-loglevel", "--loglevel", choices=list(configlib.LOG_LEVELS), metavar="LEVEL",
                   help=f"log level, one of {', '.join(configlib.LOG_LEVELS)} (default from config)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("config", help="check a config file")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = csub.add_parser("test", help="check the config without starting the server")
    config_arg(t)
    t.set_defaults(func=cmd_config_test)

    p = sub.add_parser("account", help="list, add, remove accounts, change passwords")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = asub.add_parser("list", help="list accounts and their addresses")
    config_arg(a)
    a = asub.add_parser("add", help="add an account with its login address")
    a.add_argument("name")
    a.add_argument("address")
    a.add_argument("-password", "--password", default="", help="password (default: generated and printed)")
    a.add_argument("-fullname", "--fullname", default="", help="display name for outgoing mail")
    config_arg(a)
    a = asub.add_parser("del", help="remove an account (its stored mail is kept)")
    a.add_argument("name")
    config_arg(a)
    a = asub.add_parser("passwd", help="set an account's password (asked for, or read from stdin)")
    a.add_argument("name")
    a.add_argument("-password", "--password", default="", help=argparse.SUPPRESS)
    config_arg(a)
    p.set_defaults(func=cmd_account)

    p = sub.add_parser("address", help="add or remove addresses of accounts (@domain for a catchall)")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = asub.add_parser("add", help="deliver an address (or @domain) to an account")
    a.add_argument("address")
    a.add_argument("account")
    config_arg(a)
    a = asub.add_parser("del", help="remove an address")
    a.add_argument("address")
    config_arg(a)
    p.set_defaults(func=cmd_address)

    p = sub.add_parser("domain", help="add or remove domains")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = asub.add_parser("add", help="add a domain with new DKIM keys, optionally with an address for an account")
    a.add_argument("domain")
    a.add_argument("account", nargs="?")
    a.add_argument("localpart", nargs="?", help="with account: the address LOCALPART@DOMAIN (default: catchall @DOMAIN)")
    config_arg(a)
    a = asub.add_parser("del", help="remove a domain no account uses")
    a.add_argument("domain")
    config_arg(a)
    p.set_defaults(func=cmd_domain)
