"""The command line: `mox.py SUBCOMMAND ...` (also installed as `mox`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from . import __version__
from . import config as configlib

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


class _Formatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        name = record.name.removeprefix("moxpy.")
        text = f"{stamp} {record.levelname.lower()} {name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level, logging.INFO))
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter


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
    from .config.localserve import ADDRESS, PASSWORD, config_path

    user = ADDRESS.replace("@", "%40")
    lines = [f"moxpy localserve, version {__version__}", "",
             f"the default user is {ADDRESS}, with password {PASSWORD}",
             "port numbers are those common for the services + 1000", "", LOCALSERVE_RULES, ""]
    for listener in config.Listeners.values():
        host = "localhost"
        if listener.SMTP.Enabled:
            lines.append(f"smtp://{host}:{listener.SMTP.Port}  - receive email (delivery, no auth)")
        if listener.Submissions.Enabled:
            lines.append(f"smtps://{user}:{PASSWORD}@{host}:{listener.Submissions.Port}  - send email (submission, "
                         "implicit tls with the generated self-signed certificate)")
        if listener.Submission.Enabled:
            lines.append(f"smtp://{user}:{PASSWORD}@{host}:{listener.Submission.Port}  - send email "
                         "(submission, AUTH PLAIN/LOGIN/SCRAM-SHA-256, STARTTLS optional)")
        if listener.IMAP.Enabled:
            lines.append(f"imap://{user}:{PASSWORD}@{host}:{listener.IMAP.Port}  - read email (STARTTLS optional)")
        if listener.IMAPS.Enabled:
            lines.append(f"imaps://{user}:{PASSWORD}@{host}:{listener.IMAPS.Port}  - read email (implicit tls "
                         "with the generated self-signed certificate)")
        if listener.WebAPIHTTP.Enabled:
            lines.append(f"http://{host}:{listener.WebAPIHTTP.Port}{listener.WebAPIHTTP.Path}  - webapi "
                         f"(basic auth {ADDRESS} / {PASSWORD})")
        if listener.WebAPIHTTPS.Enabled:
            lines.append(f"https://{host}:{listener.WebAPIHTTPS.Port}{listener.WebAPIHTTPS.Path}  - webapi over TLS "
                         "(self-signed certificate)")
    lines += ["", f"tls uses the self-signed certificate {os.path.join(directory, 'config', 'localhost.crt')}",
              f"{'created' if created else 'using'} config {config_path(directory)}",
              f"data in {os.path.join(directory, 'data')}", ""]
    return "\n".join(lines)


def cmd_localserve(args: argparse.Namespace) -> int:
    from .config import localserve

    directory = os.path.abspath(args.dir)
    try:
        config, created = localserve.ensure(directory)
    except configlib.ConfigError as e:
        print(f"mox: {e}", file=sys.stderr)
        return 1
    setup_logging(args.loglevel or config.LogLevel)
    print(localserve_banner(config, directory, created), flush=True)

    from . import server

    def ready(_server) -> None:
        print("moxpy localserve ready", flush=True)

    return server.run(config, on_ready=ready)


def cmd_version(args: argparse.Namespace) -> int:
    print(__version__)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mox.py", description="moxpy mail server")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("localserve", help="run a local mail server for developing and testing applications")
    p.add_argument("-dir", "--dir", default="localserve", help="directory for config and data (default ./localserve)")
    p.add_argument("-loglevel", "--loglevel", choices=sorted(LEVELS), help="log level (default from config: info)")
    p.set_defaults(func=cmd_localserve)

    from . import admin, examplecmd, queuecmd

    admin.add_commands(sub)
    queuecmd.add_parsers(sub)
    examplecmd.add_parser(sub)

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except configlib.ConfigError as e:
        print(f"mox: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
