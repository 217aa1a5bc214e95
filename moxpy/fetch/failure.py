"""What went wrong in a run, as the rule's status and a sentence for people.

The clients raise FetchFailure where they know what failed (a refused
login is authFailed); anything else is classified from the exception:
name resolution failing is badHost, a refused or timed-out connection
connectionFailed, the rest (TLS, protocol, our side) error. The remote
password is never part of the text, even if a server echoed it.
"""

from __future__ import annotations

import errno
import socket
import ssl

OK = "ok"
NOT_RUN_YET = "notRunYet"
AUTH_FAILED = "authFailed"
CONNECTION_FAILED = "connectionFailed"
BAD_HOST = "badHost"
ERROR = "error"
STATUSES = (OK, NOT_RUN_YET, AUTH_FAILED, CONNECTION_FAILED, BAD_HOST, ERROR)

MAX_ERROR = 1000  # characters of LastError kept
MIN_SCRUB = 4

_UNREACHABLE = {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT,
                errno.ECONNABORTED, errno.EHOSTDOWN, errno.ENETDOWN}


class FetchFailure(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def classify(e: BaseException, host: str, port: int) -> FetchFailure:
    """The failure an exception of a run stands for."""
    if isinstance(e, FetchFailure):
        return e
    where = f"{host}:{port}"
    if isinstance(e, socket.gaierror):
        return FetchFailure(BAD_HOST, f"cannot resolve {host}: {e.strerror or e}")
    if isinstance(e, ssl.SSLCertVerificationError):
        return FetchFailure(ERROR, f"TLS with {where}: certificate not trusted: {e.verify_message or e} "
                                   "(TLSSkipVerify accepts any certificate)")
    if isinstance(e, ssl.SSLError):
        return FetchFailure(ERROR, f"TLS with {where}: {e.reason or e}")
    if isinstance(e, (TimeoutError, socket.timeout)):
        return FetchFailure(CONNECTION_FAILED, f"{where}: timed out")
    if isinstance(e, ConnectionRefusedError):
        return FetchFailure(CONNECTION_FAILED, f"{where}: connection refused")
    if isinstance(e, OSError) and e.errno in _UNREACHABLE:
        return FetchFailure(CONNECTION_FAILED, f"{where}: {e.strerror or e}")
    if isinstance(e, EOFError) or isinstance(e, OSError) and e.errno is None:
        return FetchFailure(ERROR, f"{where}: connection closed unexpectedly")
    return FetchFailure(ERROR, f"{where}: {_text(e)}")


def _text(e: BaseException) -> str:
    text = " ".join(str(a.decode("utf-8", "replace") if isinstance(a, bytes) else a) for a in e.args) or type(e).__name__
    return text


def scrub(message: str, password: str) -> str:
    """The message without the password in it, cut to MAX_ERROR characters. A password of fewer than
    MIN_SCRUB characters is left: its letters are in any sentence."""
    if len(password) >= MIN_SCRUB:
        message = message.replace(password, "********")
    return message[:MAX_ERROR]
