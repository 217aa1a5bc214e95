"""Retry schedule of the delivery queue.

Temporary failures are retried with doubling intervals from the first one
(7.5 minutes by default: 7.5m, 15m, 30m, 1h, 2h, 4h, 8h, 16h), with a
little jitter so entries that failed together do not retry in lockstep.
"""

from __future__ import annotations

import random

JITTER = 0.1  # up to 10% either way


def delay(first: float, attempts: int, rand: random.Random | None = None) -> float:
    """Seconds to wait after the given number of failed attempts (1-based)."""
    base = first * (2 ** max(0, attempts - 1))
    r = (rand or random).uniform(-JITTER, JITTER)
    return base * (1 + r)
