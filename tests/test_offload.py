"""The helper process of offload.py: large work runs there, its failures come back as they are, it
stops when idle, and the work is done in the server process when the helper dies."""

import os
import signal
import time

import pytest

from moxpy import offload


def _pid(_: bytes) -> int:
    return os.getpid()


def _fail(message: str) -> None:
    raise ValueError(message)


def _die(_: bytes) -> int:
    if os.environ.get("MOXPY_TEST_PARENT") != str(os.getpid()):
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


@pytest.fixture(autouse=True)
def helper():
    yield
    offload.stop()


def test_work_runs_in_another_process_and_errors_come_back():
    assert offload.apart(_pid, b"x") != os.getpid()
    assert offload.running()
    with pytest.raises(ValueError, match="bad escape"):
        offload.apart(_fail, "bad escape")


def test_the_helper_stops_when_idle(monkeypatch):
    monkeypatch.setattr(offload, "IDLE", 0.2)
    offload.apart(_pid, b"x")
    deadline = time.monotonic() + 10
    while offload.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not offload.running()
    assert offload.apart(_pid, b"x") != os.getpid()  # and starts again when needed


def test_work_is_done_here_when_the_helper_dies(monkeypatch):
    monkeypatch.setenv("MOXPY_TEST_PARENT", str(os.getpid()))
    assert offload.apart(_die, b"x") == os.getpid()
    assert not offload.running()
    assert offload.apart(_pid, b"x") != os.getpid()  # a new helper takes the next work
