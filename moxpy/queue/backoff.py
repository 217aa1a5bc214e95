"""Retry schedule of the delivery queue.

Temporary failures are retried with doubling intervals from the first one
(7.5 minutes by default: 7.5m, 15m, 30m, 1h, 2h, 4h, 8h, 16h), with a
little jitter so entries that failed together do not retry in lockstep.
RFC 5321 4.5.4.1 asks for at least 30 minutes between retries and giving up
after 4-5 days; the faster start follows mox, since most temporary
failures (greylisting) clear within minutes.
"""

from __future__ import annotations

import random

JITTER = 0.05  # up to 5% either way


def delay(first: float, attempts: int, rand: random.Random | None = None, jitter: bool = True) -> float:
    """Seconds to wait after the given number of attempts (1-based)."""
    base = first * (2 ** max(0, attempts - 1))
    if not jitter:
        return base
    return base * (1 + (rand or random).uniform(-JITTER, JITTER))
