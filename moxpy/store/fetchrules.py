"""Storage of fetch rules, the remote mailboxes collected into accounts:
the records kept and the interface a backend implements (SQLite:
store/sqlite/fetchrules.py, in mox.db).

A rule's ID is global (the admin methods name a rule by ID alone), so rules
live in the server database with the account they deliver to. Beside the
settings, a rule carries the state of its runs (status, counts, the IMAP
UIDVALIDITY) and the set of remote messages already fetched: POP3 UIDLs
or IMAP UIDs, each with the SHA-256 of what was fetched, one row each.

The remote password is kept only encrypted (moxpy/fetch/secret.py); the
store never sees it in the clear. Collection itself is moxpy/fetch's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# Settings that name the remote mailbox: changing any of them makes the rule start afresh, since the
# messages it remembers are those of another mailbox.
IDENTITY = ("protocol", "host", "username", "mailbox")


@dataclass
class FetchSettings:
    """What an administrator sets on a rule."""

    account: str  # the account fetched messages are delivered to
    protocol: str  # "pop3" or "imap"
    host: str  # name or IP address of the remote server
    port: int  # its TCP port
    tls: str  # "implicit", "starttls" or "none"
    tls_skip_verify: bool  # accept any certificate (for a self-signed one)
    username: str  # the remote login
    mailbox: str  # IMAP mailbox; "" for POP3
    delete_after_fetch: bool  # remove each message from the remote once stored here
    interval: int  # seconds between runs


@dataclass
class FetchOutcome:
    """The result of one run."""

    status: str  # ok, authFailed, connectionFailed, badHost or error
    error: str  # what went wrong, "" when status is ok
    fetched: int  # messages delivered in this run
    skipped: int  # messages left on the remote because they are over the size limit


@dataclass
class FetchRuleRecord(FetchSettings):
    id: int = 0  # never reused; 0 until stored
    password: bytes = field(repr=False, default=b"")  # encrypted (fetch/secret.py)
    created: float = 0.0  # unix time
    epoch: int = 0  # counts changes of the IDENTITY settings; seen messages belong to one epoch
    status: str = "notRunYet"  # of the last run, see FetchOutcome
    last_run: float = 0.0  # unix time the last run ended; 0 before the first
    last_error: str = ""  # of the last run
    last_fetched: int = 0  # messages delivered by the last run
    fetched: int = 0  # messages delivered by every run
    skipped: int = 0  # messages over the size limit, by every run
    uidvalidity: int = 0  # IMAP UIDVALIDITY of the UIDs remembered; 0 for POP3 and before the first run
    next_run: float = 0.0  # unix time the rule is due; 0 for as soon as possible


class FetchRuleNotFound(Exception):
    """No rule has the ID."""


class FetchRuleStore(Protocol):
    async def add(self, settings: FetchSettings, password: bytes, now: float) -> int:
        """Store a new rule, due at once; its id."""
        ...

    async def update(self, rule_id: int, settings: FetchSettings, password: bytes | None) -> None:
        """Replace a rule's settings (its password too unless None) and make it due at once. A change of an
        IDENTITY setting forgets the messages it fetched and the UIDVALIDITY. FetchRuleNotFound."""
        ...

    async def delete(self, rule_id: int) -> None:
        """Remove a rule and what it remembers. FetchRuleNotFound."""
        ...

    async def remove_account(self, account: str) -> int:
        """Delete the rules of a removed account (and what they fetched), so that an account made later under
        its name collects nothing of the old one's; how many."""
        ...

    def get(self, rule_id: int) -> FetchRuleRecord | None:
        ...

    def list(self, account: str = "") -> list[FetchRuleRecord]:
        """The rules of an account (of every account when empty), oldest first."""
        ...

    def due(self, now: float) -> list[FetchRuleRecord]:
        """Rules whose next run is at or before now, the longest waiting first."""
        ...

    def next_due(self) -> float | None:
        """The earliest next_run of all rules; None without rules."""
        ...

    async def claim(self, rule_id: int, epoch: int, next_run: float) -> bool:
        """At the start of a run: set the next run (a change made during the run makes the rule due again);
        False when the rule is gone or its identity changed."""
        ...

    def seen(self, rule_id: int) -> dict[str, bytes]:
        """The remote messages the rule fetched: key (see fetch/plan.py) -> SHA-256 of the bytes (b"" for one
        skipped). As many as the remote mailbox holds: may be called from a worker thread."""
        ...

    async def mark_seen(self, rule_id: int, epoch: int, key: str, digest: bytes) -> bool:
        """Remember a fetched message; False (nothing stored) when the rule is gone or its identity changed
        since the run started."""
        ...

    async def finish(self, rule_id: int, epoch: int, outcome: FetchOutcome, now: float, uidvalidity: int,
                     keep: set[str] | None) -> None:
        """Record a run's outcome. keep: when the run listed the remote mailbox, the keys still there; the
        others are forgotten. Nothing changes when the rule is gone or its identity changed."""
        ...
