"""A session's view of its selected mailbox: the UIDs it has told the
client about (message sequence numbers are positions in that list) and
the changes made by others that it has yet to report.

RFC 3501 7.4.1 and 5.5: sequence numbers change only when the client is
told (EXISTS, EXPUNGE), so the view lags the store until the session
reports. EXPUNGE may not be sent during FETCH, STORE or SEARCH with
sequence numbers, so removals wait for a command that allows them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ..store import Account, Change


@dataclass
class Updates:
    """Untagged responses due: expunged sequence numbers (in sending order), EXISTS, and UIDs with new flags."""

    expunged: list[int] = field(default_factory=list)
    exists: int | None = None
    flags: list[int] = field(default_factory=list)


class Selected:
    def __init__(self, account: Account, mailbox_id: int, name: str, readonly: bool, session: object):
        self.account = account
        self.mailbox_id = mailbox_id
        self.name = name
        self.readonly = readonly
        self.session = session
        self.uids: list[int] = account.uids(mailbox_id)
        self._added: set[int] = set()
        self._removed: set[int] = set()
        self._flags: set[int] = set()

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
        else:
            return False
        return True

    @property
    def pending(self) -> bool:
        return bool(self._added or self._removed or self._flags)

    def take_updates(self, allow_expunge: bool) -> Updates:
        """Apply pending changes to the view and say what to tell the client."""
        updates = Updates()
        if allow_expunge and self._removed:
            # Highest first, so each number is still right when the client applies it.
            for uid in sorted(self._removed, reverse=True):
                i = bisect.bisect_left(self.uids, uid)
                if i < len(self.uids) and self.uids[i] == uid:
                    del self.uids[i]
                    updates.expunged.append(i + 1)
            self._removed.clear()
        if self._added:
            last = self.uids[-1] if self.uids else 0
            new = sorted(uid for uid in self._added if uid > last)
            self.uids.extend(new)
            self._added.clear()
            if new:
                updates.exists = len(self.uids)
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
        """UIDs (sorted, unique) a sequence set names. RFC 3501 6.4.8: a UID range needs no existing ends."""
        uids = self.uids
        if not uids:
            return []
        result: set[int] = set()
        if by_uid:
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
                a, b = count if low is None else low, count if high is None else high
                a, b = min(a, b), min(max(a, b), count)
                if a <= b and a >= 1:
                    out.append((uids[a - 1], uids[b - 1]))
        return out
