"""Durations as Go writes them ("24h", "1h30m", "90s", "500ms"), and days ("2d"), for the command line
and the webapi fields that take one; each caller says which units make sense for it."""

from __future__ import annotations

import re
from collections.abc import Collection

UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|d|h|m|s)")


def seconds(text: str, units: Collection[str] = UNITS.keys()) -> float | None:
    """The seconds of a duration written with only the given units; None when text is not one."""
    pos, total = 0, 0.0
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m or m.group(2) not in units:
            return None
        total += float(m.group(1)) * UNITS[m.group(2)]
        pos = m.end()
    return total if text else None
