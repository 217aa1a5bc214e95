import pytest

from . import dovecot as dovecotlib


@pytest.fixture(scope="module")
def dovecot():
    """One Dovecot for the tests of a module, with users alice, bob, carol and dave."""
    reason = dovecotlib.missing()
    if reason:
        pytest.skip(reason)
    server = dovecotlib.Dovecot({"alice": "alice-pw-1", "bob": "bob-pw-22", "carol": "carol-pw-333",
                                 "dave": "dave-pw-4444"}).start()
    yield server
    server.stop()
