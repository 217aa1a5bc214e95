"""The -config and -dir arguments of the commands that work on a server's
config file, and loading the file they name.

Without either, a command uses config/mox.toml, else
localserve/config/mox.toml, under the current directory (config.locate).
"""

from __future__ import annotations

import argparse

from .. import config as configlib


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-config", "--config", default="",
                        help="config file (default: config/mox.toml, else localserve/config/mox.toml)")
    parser.add_argument("-dir", "--dir", default="", help="a localserve directory, instead of -config")


def load(args: argparse.Namespace) -> configlib.Config:
    return configlib.load(configlib.locate(args.config, args.dir))
