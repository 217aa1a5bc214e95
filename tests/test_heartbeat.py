"""The heartbeat helper notices a stalled server and passes a healthy one."""

import os
import signal
import time

import pytest

from .heartbeat import Heartbeat

pytestmark = pytest.mark.timing  # dev.py test runs these alone


def test_heartbeat_passes_while_the_server_is_idle(server):
    with Heartbeat(server) as beat:
        time.sleep(0.5)
    beat.check()
    assert {name for name, _ in beat.beats} == {"smtp banner", "imap noop"}


def test_heartbeat_fails_when_the_server_is_stopped_for_a_while(new_server):
    server = new_server().start()
    with Heartbeat(server, limit=0.5) as beat:
        time.sleep(0.3)
        os.kill(server.proc.pid, signal.SIGSTOP)
        time.sleep(1.5)
        os.kill(server.proc.pid, signal.SIGCONT)
        time.sleep(0.3)
    with pytest.raises(AssertionError, match="slower than"):
        beat.check()
