"""The command line: `mox.py SUBCOMMAND ...` (also installed as `mox`)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from . import __version__
from . import config as configlib

LEVELS = configlib.LOG_LEVELS


# mox's names for the levels (mlog), where Python's differ.
_LEVEL_NAMES = {logging.WARNING: "warn", logging.CRITICAL: "fatal"}


class _Formatter(logging.Formatter):
    """One line per record: TIME LEVEL LOGGER: MESSAGE. Our messages are a
    short phrase and key=value pairs; a library's (httpx, aiosmtpd, asyncio,
    Twisted) is free text, so it becomes one quoted msg= value, and every
    line reads the same way. A traceback, if any, follows on its own lines."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        level = _LEVEL_NAMES.get(record.levelno, record.levelname.lower())
        message = record.getMessage()
        if record.name == "moxpy" or record.name.startswith("moxpy."):
            name = record.name.removeprefix("moxpy.")
        else:
            name, message = record.name, "msg=" + json.dumps(message, ensure_ascii=False)
        text = f"{stamp} {level} {name}: {message}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    logging.captureWarnings(True)  # Python warnings as log lines ("py.warnings"), not bare stderr text
    # Twisted has its own logging, which keeps events in memory until told
    # where they go: into Python logging, under the name "twisted".
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False)


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
    from .provision.localserve import ADDRESS, PASSWORD, config_path

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
    from .provision import localserve

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


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, like every other command-line error
    (subcommands' parsers are of the same class)."""

    def error(self, message: str):
        self.exit(2, f"mox: {self.prog}: {message} (see -h)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mox.py", description="moxpy mail server")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("localserve", help="run a local mail server for developing and testing applications")
    p.add_argument("-dir", "--dir", default="localserve", help="directory for config and data (default ./localserve)")
    p.add_argument("-loglevel", "--loglevel", choices=list(LEVELS), metavar="LEVEL",
                   help=f"log level, one of {', '.join(LEVELS)} (default from config: info)")
    p.set_defaults(func=cmd_localserve)

    from . import admin, examplecmd, queuecmd

    admin.add_commands(sub)
    queuecmd.add_parsers(sub)
    examplecmd.add_parser(sub)

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    import sqlite3

    from .message.address import AddressError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (configlib.ConfigError, AddressError, ValueError) as e:
        # Bad arguments or config: the message says which, no traceback.
        print(f"mox: {e}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as e:
        print(f"mox: {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
