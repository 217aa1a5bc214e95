"""`mox localserve` and `mox serve`: run the mail server in the foreground.

localserve makes its config on first start (provision/localserve.py) and
prints what it offers and how it fails on request; serve runs from an
existing config file. Both set up logging and hand over to server.run,
which returns the exit code. What runs is server.py's business; this
module only starts it.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from .. import config as configlib
from . import configfile
from .logs import setup_logging

LOCALSERVE_RULES = """\
all mail for any address is accepted and delivered to the mox account,
unless the recipient localpart ends with:

- "temperror": fail with a temporary error code (451)
- "permerror": fail with a permanent error code (550)
- [45][0-9][0-9]: fail with that specific error code
- "timeout": no response for an hour (then 451), to test client timeouts

the failure comes after "data", except that:
- a MAIL FROM address whose localpart begins with "mailfrom" (e.g.
  mailfromtimeout@example.org) fails at the MAIL FROM command;
- a recipient whose localpart begins with "rcptto" (e.g.
  rcptto451@example.com) fails at the RCPT TO command.
at submission, a recipient whose localpart begins with "queue" is accepted,
and the delivery from the queue fails.

outgoing mail is never sent to the internet: the queue delivers it to the
smtp listener below, so it lands in the mox account and webhooks fire."""


def localserve_banner(config: configlib.Config, directory: str, created: bool) -> str:
    from ..provision import localserve

    address, password = localserve.ADDRESS, localserve.PASSWORD
    user = address.replace("@", "%40")
    lines = [f"moxpy localserve, version {__version__}", "",
             f"the default user is {address}, with password {password}",
             f"the admin password is {localserve.ADMIN_PASSWORD} (webapi account administration, basic auth as admin)",
             "port numbers are those common for the services + 1000", "", LOCALSERVE_RULES, ""]
    host = "localhost"
    for listener in config.Listeners.values():
        if listener.SMTP.Enabled:
            lines.append(f"smtp://{host}:{listener.SMTP.Port}  - receive email (delivery, no auth)")
        if listener.Submissions.Enabled:
            lines.append(f"smtps://{user}:{password}@{host}:{listener.Submissions.Port}  - send email (submission, "
                         "implicit tls with the generated self-signed certificate)")
        if listener.Submission.Enabled:
            lines.append(f"smtp://{user}:{password}@{host}:{listener.Submission.Port}  - send email "
                         "(submission, AUTH PLAIN/LOGIN/SCRAM-SHA-256, STARTTLS optional)")
        if listener.IMAP.Enabled:
            lines.append(f"imap://{user}:{password}@{host}:{listener.IMAP.Port}  - read email (STARTTLS optional)")
        if listener.IMAPS.Enabled:
            lines.append(f"imaps://{user}:{password}@{host}:{listener.IMAPS.Port}  - read email (implicit tls "
                         "with the generated self-signed certificate)")
        if listener.WebAPIHTTP.Enabled:
            lines.append(f"http://{host}:{listener.WebAPIHTTP.Port}{listener.WebAPIHTTP.Path}  - webapi "
                         f"(basic auth {address} / {password})")
        if listener.WebAPIHTTPS.Enabled:
            lines.append(f"https://{host}:{listener.WebAPIHTTPS.Port}{listener.WebAPIHTTPS.Path}  - webapi over TLS "
                         "(self-signed certificate)")
        if listener.WebAPIHTTP.Enabled and config.Metrics.Enabled:
            lines.append(f"http://{host}:{listener.WebAPIHTTP.Port}/metrics  - prometheus metrics")
    lines += ["", f"tls uses the self-signed certificate {os.path.join(directory, 'config', 'localhost.crt')}",
              f"{'created' if created else 'using'} config {localserve.config_path(directory)}",
              f"data in {os.path.join(directory, 'data')}", ""]
    return "\n".join(lines)


def _run(config: configlib.Config, ready_line: str) -> int:
    from .. import server

    def ready(_server) -> None:
        print(ready_line, flush=True)

    return server.run(config, on_ready=ready)


def cmd_localserve(args: argparse.Namespace) -> int:
    from ..provision import localserve

    directory = os.path.abspath(args.dir)
    try:
        config, created = localserve.ensure(directory)
    except configlib.ConfigError as e:
        print(f"mox: {e}", file=sys.stderr)
        return 1
    setup_logging(args.loglevel or config.LogLevel)
    print(localserve_banner(config, directory, created), flush=True)
    return _run(config, "moxpy localserve ready")


def cmd_serve(args: argparse.Namespace) -> int:
    config = configfile.load(args)
    setup_logging(args.loglevel or config.LogLevel)
    return _run(config, "moxpy serve ready")


def add_localserve_parser(sub) -> None:
    levels = list(configlib.LOG_LEVELS)
    p = sub.add_parser("localserve", help="run a local mail server for developing and testing applications")
    p.add_argument("-dir", "--dir", default="localserve", help="directory for config and data (default ./localserve)")
    p.add_argument("-loglevel", "--loglevel", choices=levels, metavar="LEVEL",
                   help=f"log level, one of {', '.join(levels)} (default from config: info)")
    p.set_defaults(func=cmd_localserve)


def add_serve_parser(sub) -> None:
    levels = list(configlib.LOG_LEVELS)
    p = sub.add_parser("serve", help="run the mail server from a config file")
    configfile.add_arguments(p)
    p.add_argument("-loglevel", "--loglevel", choices=levels, metavar="LEVEL",
                   help=f"log level, one of {', '.join(levels)} (default from config)")
    p.set_defaults(func=cmd_serve)
