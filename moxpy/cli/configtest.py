"""`mox config test`: check a config file without starting anything.

Loading the file checks its fields and references (config.validate); this
adds what needs the file system: the listeners' certificate and key files
exist and, outside localserve, load as a TLS certificate. It does not
check DNS records or whether ports are free.
"""

from __future__ import annotations

import argparse
import os

from .. import config as configlib
from ..tls import server_context
from . import configfile


def cmd_config_test(args: argparse.Namespace) -> int:
    config = configfile.load(args)
    problems = []
    for listener_name, listener in config.Listeners.items():
        if listener.TLS:
            for path in (listener.TLS.CertFile, listener.TLS.KeyFile):
                if not os.path.exists(config.resolve(path)):
                    problems.append(f"listener {listener_name}: {config.resolve(path)} does not exist")
    if problems:
        raise configlib.ConfigError("; ".join(problems))
    if not config.Localserve:
        for listener_name, listener in config.Listeners.items():
            if listener.TLS:
                try:
                    server_context(config.resolve(listener.TLS.CertFile), config.resolve(listener.TLS.KeyFile))
                except (OSError, ValueError) as e:
                    raise configlib.ConfigError(f"listener {listener_name}: TLS certificate: {e}") from None
    print(f"{config.path}: config OK")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("config", help="check a config file")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = csub.add_parser("test", help="check the config without starting the server")
    configfile.add_arguments(t)
    t.set_defaults(func=cmd_config_test)
