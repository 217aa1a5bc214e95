"""The loop watchdog names what holds the event loop up: one warning per
stall with the loop thread's innermost frames, and the stall's duration
once the loop runs again."""

import asyncio
import logging
import re
import sys
import time

from moxpy.watchdog import Watchdog, describe_stack


def sleeping_callback():
    time.sleep(0.3)  # blocks the loop, as a CPU-heavy or blocking call would


def run(loop: asyncio.AbstractEventLoop, seconds: float, stall: bool) -> None:
    async def main():
        watchdog = Watchdog(asyncio.get_running_loop())
        watchdog.start()
        try:
            await asyncio.sleep(0.1)
            if stall:
                loop.call_soon(sleeping_callback)
            await asyncio.sleep(seconds)
        finally:
            watchdog.stop()

    loop.run_until_complete(main())


def test_a_stall_is_reported_once_with_the_blocking_function_and_its_duration(caplog):
    caplog.set_level(logging.WARNING, logger="moxpy.watchdog")
    loop = asyncio.new_event_loop()
    try:
        run(loop, 0.3, stall=True)
    finally:
        loop.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "moxpy.watchdog"]
    stalled = [m for m in messages if m.startswith("event loop stalled")]
    ended = [m for m in messages if m.startswith("event loop ran again")]
    assert len(stalled) == 1 and len(ended) == 1, messages
    assert re.search(r"in=tests/test_watchdog\.py:\d+ sleeping_callback", stalled[0]), stalled[0]
    assert 200 <= int(ended[0].split("stalled_ms=")[1]) <= 1000, ended[0]
    assert messages.index(stalled[0]) < messages.index(ended[0])


def test_an_idle_loop_is_not_reported_and_stop_ends_the_thread(caplog):
    caplog.set_level(logging.WARNING, logger="moxpy.watchdog")
    loop = asyncio.new_event_loop()
    try:
        run(loop, 0.3, stall=False)
    finally:
        loop.close()
    assert not [r for r in caplog.records if r.name == "moxpy.watchdog"]
    import threading

    assert not [t for t in threading.enumerate() if t.name == "loop-watchdog"]


def test_stack_description_is_innermost_first_without_machine_paths():
    def inner():
        return describe_stack(sys._getframe(), limit=2)

    text = inner()
    assert re.fullmatch(r"tests/test_watchdog\.py:\d+ inner <- tests/test_watchdog\.py:\d+ "
                        r"test_stack_description_is_innermost_first_without_machine_paths", text), text
