#!/usr/bin/env python3
"""Composing a Send's message (message/compose.py): prints µs per message.

    .venv/bin/python bench/compose.py [-runs 7]

For each draft, the median over RUNS runs of composing it as many times as
take about 0.2 s. No server: composing is a pure function of the draft.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from moxpy.message.address import parse_address  # noqa: E402
from moxpy.message.compose import Attachment, Draft, compose  # noqa: E402

ADDRESS = parse_address("mox@localhost")
TEXT = ("The quick brown fox jumps over the lazy dog. " * 23)[:1024]
PROSE = "The quick brown fox jumps over the lazy dog.\n" * 23  # 1 KB in short lines
HTML = "<p>" + PROSE.replace("\n", "<br>\n") + "</p>"


def draft(**kw) -> Draft:
    return Draft(sender=("", ADDRESS), to=[("", ADDRESS)], subject="bench", **kw)


def drafts() -> dict[str, Draft]:
    attachment = Attachment(random.Random(0).randbytes(100 * 1024), "data.bin")
    small = [Attachment(b"file %d\n" % i, f"file{i}.txt", "text/plain; charset=utf-8") for i in range(10)]
    return {
        "1 KB text, one line (quoted-printable)": draft(text=TEXT),
        "1 KB text, short lines (7bit)": draft(text=PROSE),
        "1 KB text + 1 KB html": draft(text=PROSE, html=HTML),
        "1 KB non-ASCII text": draft(text=("Grüße aus Köln. " * 64)[:1024]),
        "1 KB text + 100 KB attachment": draft(text=PROSE, attached_files=[attachment]),
        "1 KB text + 10 small attachments": draft(text=PROSE, attached_files=small),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-runs", type=int, default=7)
    args = parser.parse_args()
    for name, d in drafts().items():
        timer = timeit.Timer(lambda: compose(d))
        number, _ = timer.autorange()  # enough calls for 0.2 s
        runs = timer.repeat(repeat=args.runs, number=number)
        print(f"{name:40} {statistics.median(runs) / number * 1e6:9.1f} µs")


if __name__ == "__main__":
    main()
