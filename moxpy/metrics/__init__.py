"""The server's metrics for Prometheus, served as GET /metrics on the
webapi's HTTP listeners when the config's Metrics.Enabled is set.

Events are counted where they happen, with the functions below: webapi
calls, SMTP sessions and messages, queue deliveries, webhook attempts,
IMAP sessions. They do nothing until enable() has run, so the
command-line tools and a server without metrics pay one test per event.
Sizes (the delivery and webhook queues, the accounts' messages) are not
counted but looked up when /metrics is read (scrape.py), so they are right
whichever process answers.

The server may run as two processes (processes.py), each counting its own
events. prometheus_client's multiprocess mode adds them up: every process
writes its values to memory-mapped files in one directory, and a scrape
in either process reads all of them. The directory is named by an
environment variable that prometheus_client reads when it is imported, so
enable() sets it and imports it once, in the server's first process
before it forks; the forked process inherits both and writes files of
its own. The directory is emptied at each start, so counters start at
zero with the server, as Prometheus expects of a restarted target.

This package imports nothing else of moxpy: listeners call it, and the
server hands it what a scrape looks up.
"""

from __future__ import annotations

import os
import shutil

# The metric objects (families.py) once enabled; None: metrics are off.
_families = None
_directory = ""


def enable(directory: str) -> None:
    """Count from now on, in directory (emptied first); call before the server forks."""
    global _families, _directory
    if _families is not None:
        return
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from . import families

    _families = families
    _directory = directory


def join(directory: str) -> None:
    """Count from now on, in the directory another process of the server set up with enable()."""
    global _families, _directory
    if _families is not None:
        return
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from . import families

    _families = families
    _directory = directory


def enabled() -> bool:
    return _families is not None


def directory() -> str:
    """Where the processes' values are kept; empty when metrics are off."""
    return _directory


def process_exiting() -> None:
    """This process stops: its open-connection gauges no longer count (their files are removed)."""
    if _families is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), _directory)


def webapi_call(method: str, result: str, seconds: float) -> None:
    """A webapi call ended: result is "ok", an error code, or "badauth"/"ratelimited" for a refused login."""
    if _families is not None:
        _families.WEBAPI_CALLS.labels(method, result).inc()
        _families.WEBAPI_DURATION.labels(method).observe(seconds)


def smtp_session(role: str, result: str) -> None:
    """An SMTP connection ended; role "delivery" or "submission", result "quit" (the client said QUIT),
    "closed" (we ended it with 421), "dropped" (the client went away) or "refused" (over the connection
    limit)."""
    if _families is not None:
        _families.SMTP_SESSIONS.labels(role, result).inc()


def smtp_message(role: str, result: str) -> None:
    """A message's DATA was answered: "accepted" (2xx), "temperror" (4xx) or "permerror" (5xx)."""
    if _families is not None:
        _families.SMTP_MESSAGES.labels(role, result).inc()


def queue_delivery(result: str) -> None:
    """A delivery attempt of one queued message was recorded: "delivered", "delayed" (to be tried again),
    "failed" (given up) or "suppressed" (not attempted: the recipient is on the suppression list)."""
    if _families is not None:
        _families.QUEUE_DELIVERIES.labels(result).inc()


def webhook_attempt(result: str) -> None:
    """A webhook was POSTed: "ok" (2xx), "httperror" (another status) or "error" (no answer)."""
    if _families is not None:
        _families.WEBHOOK_ATTEMPTS.labels(result).inc()


def imap_session(opened: bool) -> None:
    """An IMAP connection was greeted (opened) or ended."""
    if _families is not None:
        if opened:
            _families.IMAP_SESSIONS.inc()
            _families.IMAP_OPEN.inc()
        else:
            _families.IMAP_OPEN.dec()
