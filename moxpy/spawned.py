"""The delivery process started on demand (secondprocess.py): its program, run by processes.spawn in a
fresh interpreter as `python -P -m moxpy.spawned LINK_FD`."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys

import msgspec

from . import config as configlib
from . import metrics, processes, server
from .cli.logs import setup_logging


def main(link_fd: int) -> None:
    """Read the setup from the link (descriptor link_fd), then serve until told to stop or retire."""
    link = socket.socket(fileno=link_fd)
    try:
        setup = processes.read_setup(link)
    except (EOFError, OSError, msgspec.DecodeError) as e:
        print(f"mox: delivery process: {e}", file=sys.stderr, flush=True)
        os._exit(1)
    processes.die_with(setup.parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal: the front stops this process
    setup_logging(setup.log_level)
    config = msgspec.msgpack.decode(setup.config, type=configlib.Config)
    current = msgspec.msgpack.decode(setup.current, type=configlib.Config)
    if config.Metrics.Enabled:
        metrics.join(os.path.join(config.data_dir(), "metrics"))
    sockets = {(service, ip, port): socket.socket(fileno=fd) for service, ip, port, fd in setup.sockets}
    code = 1
    try:
        code = server.serve_delivery(config, current, sockets, link, socket.socket(fileno=setup.handoff))
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main(int(sys.argv[1]))
