"""Log output of the server commands (serve, localserve): one line per
record on standard error, in mox's level names.

Our own loggers and those of the libraries (httpx, aiosmtpd, asyncio,
Twisted, Python warnings) all come out in the same format. It only sets
up where records go; what is logged is up to each module.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from .. import config as configlib

# mox's names for the levels (mlog), where Python's differ.
_LEVEL_NAMES = {logging.WARNING: "warn", logging.CRITICAL: "fatal"}


class _Formatter(logging.Formatter):
    """One line per record: TIME LEVEL LOGGER: MESSAGE. Our messages are a
    short phrase and key=value pairs; a library's (httpx, aiosmtpd, asyncio,
    Twisted) is free text, so it becomes one quoted msg= value, and every
    line reads the same way. A traceback, if any, follows on its own lines."""

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
    root.setLevel(configlib.LOG_LEVELS[level])
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    logging.captureWarnings(True)  # Python warnings as log lines ("py.warnings"), not bare stderr text
    # Twisted has its own logging, which keeps events in memory until told
    # where they go: into Python logging, under the name "twisted". Imported
    # here, as only the server commands need Twisted.
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False)
