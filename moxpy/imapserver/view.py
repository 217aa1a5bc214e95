"""A session's view of its selected mailbox: the UIDs it has told the
client about (message sequence numbers are positions in that list) and
the changes made by others that it has yet to report.

RFC 3501 7.4.1 and 5.5: sequence numbers change only when the client is
told (EXISTS, EXPUNGE), so the view lags the store until the session
reports. EXPUNGE may not be sent during FETCH, STORE or SEARCH with
sequence numbers, so removals wait for a command that allows them.

RFC 3501 2.3.2: a message is \\Recent in the first session told about it,
and in no other. A read-write session claims the messages it reports
(at SELECT, and with each EXISTS) from the account, which hands each UID
to one session only; a read-only one (EXAMINE) shows the unclaimed ones
as recent without claiming them (RFC 3501 6.3.2).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ..store import Account, Change


@dataclass
class Updates:
    """Untagged responses due: expunged sequence numbers (in sending order), the mailbox's new keywords,
    EXISTS with RECENT, and UIDs with new flags."""

    expunged: list[int] = field(default_factory=list)
    expunged_uids: list[int] = field(default_factory=list)  # their UIDs, ascending (RFC 7162 3.2.10 VANISHED)
    keywords: list[str] | None = None
    exists: int | None = None
    recent: int = 0
    flags: list[int] = field(default_factory=list)


class MailboxView:
    """The selected mailbox as one session knows it: its UIDs in sequence order, its \\Recent messages,
    and what changed since the client was last told."""

    def __init__(self, account: Account, mailbox_id: int, readonly: bool, session: object, recent: bool = True):
        self.account = account
        self.mailbox_id = mailbox_id
        self.readonly = readonly
        self.session = session
        self.uids: list[int] = account.uids(mailbox_id)
        self.keywords: list[str] = self._mailbox_keywords()
        self.recent: list[tuple[int, int]] = []  # UID ranges, inclusive, of the messages recent in this session
        self._noted = 0  # highest UID considered for recent so far
        self._added: set[int] = set()
        self._removed: set[int] = set()
        self._flags: set[int] = set()
        self._keywords_changed = False
        self.saved: list[int] = []  # UIDs of the saved search result, "$" (RFC 5182)
        self._with_recent = recent  # False for IMAP4rev2, which has no \\Recent (RFC 9051 E): none are claimed
        if self.uids:
            self._note_recent(self.uids[-1])

    def _mailbox_keywords(self) -> list[str]:
        box = self.account.mailbox_by_id(self.mailbox_id)
        return box.keywords if box else []

    # \Recent.

    def _note_recent(self, upto: int) -> None:
        """The messages up to UID upto are now known to the client; take those nobody had."""
        if not self._with_recent:
            return
        if self.readonly:
            before = self.account.recent_claimed(self.mailbox_id)
        else:
            before = self.account.claim_recent(self.mailbox_id, upto)
        low = max(before, self._noted) + 1
        self._noted = max(self._noted, upto)
        if low <= upto:
            self.recent.append((low, upto))

    def is_recent(self, uid: int) -> bool:
        return any(low <= uid <= high for low, high in self.recent)

    def recent_count(self) -> int:
        return sum(bisect.bisect_right(self.uids, high) - bisect.bisect_left(self.uids, low)
                   for low, high in self.recent)

    # Changes from the store.

    def on_change(self, change: Change) -> bool:
        """Note a change; True when it concerns this mailbox."""
        if change.mailbox_id != self.mailbox_id:
            return False
        if change.kind == "added":
            self._added.update(change.uids)
        elif change.kind == "removed":
            for uid in change.uids:
                if uid in self._added:
                    self._added.discard(uid)
                else:
                    self._removed.add(uid)
                self._flags.discard(uid)
        elif change.kind == "flags":
            if change.origin is self.session:
                return False  # the session answered its own STORE already
            self._flags.update(change.uids)
        elif change.kind == "keywords":
            self._keywords_changed = True  # also for the session's own STORE: it is told with FLAGS
        else:
            return False
        return True

    @property
    def pending(self) -> bool:
        return bool(self._added or self._removed or self._flags or self._keywords_changed)

    def take_keywords(self) -> list[str] | None:
        """The mailbox's keywords when they changed since the client was told, else None."""
        if not self._keywords_changed:
            return None
        self._keywords_changed = False
        keywords = self._mailbox_keywords()
        if keywords == self.keywords:
            return None
        self.keywords = keywords
        return keywords

    def take_updates(self, allow_expunge: bool) -> Updates:
        """Apply pending changes to the view and say what to tell the client."""
        updates = Updates(keywords=self.take_keywords())
        if allow_expunge and self._removed:
            # Highest first, so each number is still right when the client applies it.
            for uid in sorted(self._removed, reverse=True):
                i = bisect.bisect_left(self.uids, uid)
                if i < len(self.uids) and self.uids[i] == uid:
                    del self.uids[i]
                    updates.expunged.append(i + 1)
                    updates.expunged_uids.append(uid)
            updates.expunged_uids.reverse()
            self._removed.clear()
        if self._added:
            last = self.uids[-1] if self.uids else 0
            new = sorted(uid for uid in self._added if uid > last)
            self.uids.extend(new)
            self._added.clear()
            if new:
                self._note_recent(new[-1])
                updates.exists = len(self.uids)
                updates.recent = self.recent_count()
        if self._flags:
            updates.flags = sorted(uid for uid in self._flags if uid not in self._removed)
            self._flags.clear()
        return updates

    # Sequence numbers and UIDs.

    def seq(self, uid: int) -> int:
        """The sequence number of a UID in the view, 0 when absent."""
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else 0

    def resolve(self, ranges: list[tuple[int | None, int | None]], by_uid: bool) -> list[int]:
        """UIDs (sorted, unique) a sequence set names. RFC 3501 6.4.8: a UID range needs no existing ends; a
        message sequence number past the last message is IndexError, also in an empty mailbox, where a range
        to "*" names nothing."""
        uids = self.uids
        result: set[int] = set()
        if by_uid:
            if not uids:
                return []
            star = uids[-1]
            for low, high in ranges:
                a, b = star if low is None else low, star if high is None else high
                if a > b:
                    a, b = b, a
                lo = bisect.bisect_left(uids, a)
                hi = bisect.bisect_right(uids, b)
                if lo == 0 and hi == len(uids):
                    return list(uids)
                result.update(uids[lo:hi])
        else:
            count = len(uids)
            for low, high in ranges:
                if not count and (low is None or high is None):
                    continue  # "1:*" of a mailbox emptied meanwhile: nothing, as clients send it so
                a, b = count if low is None else low, count if high is None else high
                if a > b:
                    a, b = b, a
                if b > count:
                    raise IndexError(b)
                if a == 1 and b == count:
                    return list(uids)
                result.update(uids[a - 1:b])
        return sorted(result)

    def uid_ranges(self, ranges: list[tuple[int | None, int | None]], by_uid: bool) -> list[tuple[int, int]]:
        """A sequence set as inclusive UID ranges, for searching in the store without listing every UID."""
        uids = self.uids
        out = []
        if by_uid:
            star = uids[-1] if uids else 0
            for low, high in ranges:
                a, b = star if low is None else low, star if high is None else high
                out.append((min(a, b), max(a, b)))
        else:
            count = len(uids)
            for low, high in ranges:
                if not count and (low is None or high is None):
                    continue  # "1:*" of a mailbox emptied meanwhile: nothing, as clients send it so
                a, b = count if low is None else low, count if high is None else high
                a, b = min(a, b), min(max(a, b), count)
                if a <= b and a >= 1:
                    out.append((uids[a - 1], uids[b - 1]))
        return out
