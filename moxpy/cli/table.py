"""Plain-text output of the queue commands: aligned columns, relative and
absolute times, shortened error texts. Formatting only, no data access."""

from __future__ import annotations

import sys
from datetime import datetime, timezone


def when(ts: float | None, now: float) -> str:
    """A moment relative to now: "in 7m30s", "2h ago", "now"; "-" when unset."""
    if not ts:
        return "-"
    delta = ts - now
    if abs(delta) < 1:
        return "now"
    text = duration(abs(delta))
    return f"in {text}" if delta > 0 else f"{text} ago"


def duration(seconds: float) -> str:
    """At most two units: "1d2h", "7m30s", "5s"."""
    seconds = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return "".join(parts[:2])


def stamp(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def short(text: str, limit: int = 60) -> str:
    """Whitespace runs as one space, cut to limit characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(headers: list[str], rows: list[list[str]], out=None) -> None:
    out = out or sys.stdout
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    for row in [headers] + rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths))
        print(line.rstrip(), file=out)
