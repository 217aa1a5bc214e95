"""The retry schedules: the delivery queue's backoff and the webhook queue's intervals."""

import random

from moxpy.queue import backoff
from moxpy.webhooks import sender


def test_backoff_doubles_from_the_first_interval():
    schedule = [backoff.delay(450, n, jitter=False) for n in range(1, 9)]
    assert schedule == [450, 900, 1800, 3600, 7200, 14400, 28800, 57600]  # 7.5m ... 16h
    for n in range(1, 9):
        assert abs(backoff.delay(450, n) - schedule[n - 1]) <= schedule[n - 1] * backoff.JITTER


def test_backoff_jitter_spreads_entries_that_failed_together():
    rand = random.Random(7)
    waits = {round(backoff.delay(450, 3, rand), 3) for _ in range(20)}
    assert len(waits) > 1
    assert all(1800 * (1 - backoff.JITTER) <= w <= 1800 * (1 + backoff.JITTER) for w in waits)


def test_backoff_counts_from_the_first_attempt():
    # Attempt 0 (not yet tried) waits as long as attempt 1.
    assert backoff.delay(60, 0, jitter=False) == backoff.delay(60, 1, jitter=False) == 60


def test_webhook_retries_follow_the_intervals_then_give_up():
    waits = [sender.retry_delay(n) for n in range(1, len(sender.INTERVALS) + 1)]
    for wait, interval in zip(waits, sender.INTERVALS):
        assert abs(wait - interval) <= interval * 0.01
    assert sender.retry_delay(len(sender.INTERVALS) + 1) is None


def test_webhook_retry_first_interval_scales_the_schedule():
    assert abs(sender.retry_delay(3, first=1.0) - 4.0) <= 0.04  # 240s of 60s, scaled to a first of 1s
