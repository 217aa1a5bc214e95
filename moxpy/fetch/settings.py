"""A fetch rule's settings as an administrator gives them: checked, with the defaults filled in."""

from __future__ import annotations

import dataclasses

from ..store.fetchrules import FetchSettings

PROTOCOLS = ("pop3", "imap")
TLS_MODES = ("implicit", "starttls", "none")
# RFC 8314 3.3 and 7.3: implicit TLS on 995 and 993; RFC 1939 3 and RFC 9051 2.1: 110 and 143 otherwise.
DEFAULT_PORTS = {("pop3", True): 995, ("pop3", False): 110, ("imap", True): 993, ("imap", False): 143}
DEFAULT_INTERVAL = 300  # seconds
MIN_INTERVAL = 60  # seconds; remote servers do not like being polled more often
MIN_INTERVAL_LOCALSERVE = 1  # for tests and development against a local server
MAX_INTERVAL = 30 * 24 * 3600
MAX_HOST = 253  # RFC 1035 2.3.4, in text form


class SettingsError(Exception):
    """The settings cannot be used; the message says which and why."""


def _plain(name: str, value: str, required: bool = True) -> None:
    if required and not value:
        raise SettingsError(f"{name} is required")
    # They go into POP3 and IMAP command lines: a line break would start another command.
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in value):
        raise SettingsError(f"{name} must not contain control characters")


def check(settings: FetchSettings, accounts, localserve: bool) -> FetchSettings:
    """The settings with defaults filled in; SettingsError when they cannot be used. accounts: the names
    of the configured accounts."""
    s = dataclasses.replace(settings, host=settings.host.strip(), protocol=settings.protocol.lower(),
                            tls=settings.tls.lower() or "implicit")
    if s.account not in accounts:
        raise SettingsError(f"no account {s.account!r}" if s.account else "Account is required")
    if s.protocol not in PROTOCOLS:
        raise SettingsError(f"Protocol must be one of {', '.join(PROTOCOLS)}")
    if s.tls not in TLS_MODES:
        raise SettingsError(f"TLS must be one of {', '.join(TLS_MODES)}")
    _plain("Host", s.host)
    if len(s.host) > MAX_HOST or " " in s.host:
        raise SettingsError("Host must be a host name or IP address")
    if s.port == 0:
        s.port = DEFAULT_PORTS[(s.protocol, s.tls == "implicit")]
    if not 1 <= s.port <= 65535:
        raise SettingsError("Port must be between 1 and 65535 (0 for the protocol's default)")
    _plain("Username", s.username)
    if s.protocol == "imap":
        _plain("Mailbox", s.mailbox, required=False)
        s.mailbox = s.mailbox or "INBOX"
    elif s.mailbox:
        raise SettingsError("Mailbox is for IMAP only: POP3 has just the one mailbox")
    if s.interval == 0:
        s.interval = DEFAULT_INTERVAL
    least = MIN_INTERVAL_LOCALSERVE if localserve else MIN_INTERVAL
    if not least <= s.interval <= MAX_INTERVAL:
        raise SettingsError(f"IntervalSeconds must be between {least} and {MAX_INTERVAL} (0 for {DEFAULT_INTERVAL})")
    return s


def check_password(password: str, required: bool) -> None:
    _plain("Password", password, required)
