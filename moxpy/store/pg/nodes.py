"""Changes between nodes that share one PostgreSQL database.

Within a node, a commit's changes reach the subscribers of the process
that made it at once, and the node's other process over their link. A
node does not hear another node's commits that way. So each transaction
that logs changes also notifies (pg_notify, channel CHANNEL: PostgreSQL
delivers it when, and only if, the transaction commits) with the
account's schema and the node's name, and every process of every node
listens on the channel (Listener).

A notification carries no changes, only which account changed: the
change log has them, in commit order (changelog.py). Hearing of another
node's commit, a process reads the log of that account from where it
last read (Follower): the entries it already announced (its node's own
commits, made here or heard over the link) are skipped, the others are
announced to its subscribers as the Change records the committing node
announced. A notification lost while the listening connection was down
loses nothing: on reconnecting, every open account reads its log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from itertools import groupby

from ..accounts import CHANGE_EVENTS, Change, LoggedChange
from ..flags import SYSTEM_FLAGS
from ..sqlite import changelog

log = logging.getLogger("moxpy.store.pg")

CHANNEL = "mox_changes"
BATCH = 1000  # log entries read at a time
# Own modseqs kept before the log is read to forget them, when no other node's commit made it read.
KEEP = 1000
RETRY = 1.0  # seconds before listening again after the connection failed


def payload(schema: str, node: str) -> str:
    return json.dumps({"schema": schema, "node": node})


class Follower:
    """For one account open in this process: what of its change log was announced here, and the reading
    of the rest (catch_up)."""

    def __init__(self, account):
        self.account = account
        self.position = changelog.current(account.db)
        self.announced: set[int] = set()  # modseqs after position that were announced here already

    def noted(self, changes: list[Change]) -> None:
        """Changes announced here (committed by this process, or heard over the link)."""
        self.announced.update(c.modseq for c in changes if c.modseq)
        if len(self.announced) > KEEP:
            self.catch_up()  # only to move the position past them

    def catch_up(self) -> None:
        """Announce, to this process's subscribers only (every process reads the log itself), what the log
        has after the position that was not announced here."""
        while True:
            entries, after, more = changelog.since(self.account.db, self.position, BATCH)
            fresh = [e for e in entries if e.position.modseq not in self.announced]
            self.position = after
            self.announced = {m for m in self.announced if m > after.modseq}
            if fresh:
                self.account._tell_subscribers(changes_of(fresh))
            if not more:
                return


def changes_of(entries: list[LoggedChange]) -> list[Change]:
    """The Change records of log entries: one per transaction, event and mailbox (and flags, for updates),
    as the committing node announced them; with a keywords change before an update that set keywords."""
    found: list[Change] = []

    def key(e: LoggedChange):
        return e.position.modseq, e.event, e.mailbox_id, tuple(e.added), tuple(e.removed), e.old_name

    for (modseq, event, mailbox_id, added, removed, old_name), group in groupby(entries, key):
        group = list(group)
        kind = CHANGE_EVENTS[event]
        if kind == "flags" and any(f.lower() not in SYSTEM_FLAGS for f in added):
            found.append(Change("keywords", mailbox_id))  # the mailbox may have keywords it had not
        if kind in ("added", "removed", "flags"):
            found.append(Change(kind, mailbox_id, [e.uid for e in group], [e.msg_id for e in group], modseq,
                                mailbox_name=group[0].mailbox_name, added=list(added), removed=list(removed)))
        else:
            found += [Change(kind, mailbox_id, modseq=modseq, mailbox_name=e.mailbox_name, old_name=old_name)
                      for e in group]
    return found


class Listener:
    """Listens on CHANNEL for this process, and calls heard(schema) for every other node's commit, and
    heard(None) after (re)connecting: every account may have missed some."""

    def __init__(self, dsn: str, node: str, heard: Callable[[str | None], None]):
        self.dsn = dsn
        self.node = node
        self.heard = heard
        self._task: asyncio.Task | None = None
        self.listening = False  # whether notifications are being heard now

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen(), name="postgresql notifications")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _listen(self) -> None:
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"listen {CHANNEL}")
                    self.listening = True
                    self.heard(None)
                    async for note in conn.notifies():
                        self._note(note.payload)
            except asyncio.CancelledError:
                self.listening = False
                raise
            except Exception as e:  # the connection failed (the server restarted): listen again
                log.warning("listening for other nodes' changes: %s; again in %.0f s", e, RETRY)
            self.listening = False
            await asyncio.sleep(RETRY)

    def _note(self, text: str) -> None:
        try:
            note = json.loads(text)
            schema, node = note["schema"], note["node"]
        except (ValueError, KeyError, TypeError):
            log.warning("notification not understood on %s: %r", CHANNEL, text[:200])
            return
        if node != self.node:
            try:
                self.heard(schema)
            except Exception:
                log.exception("announcing another node's changes schema=%s", schema)
