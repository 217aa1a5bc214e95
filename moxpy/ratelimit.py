"""Counting events per remote address and per network around it, over
sliding time windows, as mox's ratelimit package does.

One address rarely acts alone: whoever guesses passwords from 100
addresses of one hosting network must not get 100 times the budget of
one address. So every event counts for three classes of its address: the
address itself, a small network and a larger one (for IPv4 the address,
its /26 and its /21; for IPv6, where one subscriber gets a whole /64,
the /64, /48 and /32), each with its own limit.

Pure bookkeeping over values and a clock: no sockets, no event loop.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# Prefix lengths of the three classes of an address, as in mox.
IPV4_PREFIXES = (32, 26, 21)
IPV6_PREFIXES = (64, 48, 32)

Key = tuple[int, str]  # (class index, address or network in text)


# Every login asks, mostly for the same few addresses; the networks are worth remembering.
@functools.lru_cache(maxsize=4096)
def ip_classes(ip: str) -> tuple[Key, Key, Key]:
    """The three keys an event from ip counts for, narrowest first. An
    IPv4-mapped IPv6 address counts as its IPv4 address; text that is no
    address counts as itself in every class."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return (0, ip), (1, ip), (2, ip)
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefixes = IPV4_PREFIXES if address.version == 4 else IPV6_PREFIXES
    keys = tuple((i, str(ipaddress.ip_network((address, prefix), strict=False))) for i, prefix in enumerate(prefixes))
    return keys  # type: ignore[return-value]


@dataclass(frozen=True)
class Window:
    seconds: float  # how far back events count
    limits: tuple[int, int, int]  # events allowed in the window per address, small network, large network


class Limiter:
    """Sliding-window counts of events per address class.

    can_add() says whether one more event stays within every limit; add()
    records one; reset() forgets an address's own events (and their share
    in its networks' counts), as after a successful login."""

    def __init__(self, windows: tuple[Window, ...], *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000):
        self.windows = windows
        self._clock = clock
        self._max_keys = max_keys
        # Per window: key -> times of its events, each with the address (class 0 key) it came from.
        self._events: list[dict[Key, deque[tuple[float, Key]]]] = [{} for _ in windows]

    def _count(self, events: dict[Key, deque[tuple[float, Key]]], key: Key, cutoff: float) -> int:
        found = events.get(key)
        if found is None:
            return 0
        while found and found[0][0] <= cutoff:
            found.popleft()
        if not found:
            del events[key]
            return 0
        return len(found)

    def can_add(self, ip: str) -> bool:
        keys = ip_classes(ip)
        now = self._clock()
        for window, events in zip(self.windows, self._events):
            cutoff = now - window.seconds
            for key, limit in zip(keys, window.limits):
                if self._count(events, key, cutoff) + 1 > limit:
                    return False
        return True

    def add(self, ip: str) -> None:
        keys = ip_classes(ip)
        now = self._clock()
        for window, events in zip(self.windows, self._events):
            if len(events) >= self._max_keys:
                self._prune(events, now - window.seconds)
            for key in keys:
                events.setdefault(key, deque()).append((now, keys[0]))

    def reset(self, ip: str) -> bool:
        """Forget the address's own events; whether there were any."""
        keys = ip_classes(ip)
        forgot = False
        for events in self._events:
            if keys[0] not in events:
                continue  # nothing of this address is counted anywhere
            forgot = True
            for key in keys:
                found = events.get(key)
                if found is None:
                    continue
                kept = deque(event for event in found if event[1] != keys[0])
                if kept:
                    events[key] = kept
                else:
                    del events[key]
        return forgot

    def _prune(self, events: dict[Key, deque[tuple[float, Key]]], cutoff: float) -> None:
        """Bound memory under a spray from very many networks: drop what has
        expired, and if that is not enough, start the window afresh."""
        for key in [key for key, found in events.items() if found[-1][0] <= cutoff]:
            del events[key]
        if len(events) >= self._max_keys:
            events.clear()
