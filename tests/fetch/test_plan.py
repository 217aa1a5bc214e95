"""What a run fetches, from a listing and what the rule remembers (plan.py), and the
settings checks (settings.py): plain data."""

import pytest

from moxpy.fetch import settings as settingslib
from moxpy.fetch.failure import BAD_HOST, CONNECTION_FAILED, ERROR, classify, scrub
from moxpy.fetch.plan import Remote, imap_key, plan
from moxpy.fetch.secret import PasswordBox, SecretError
from moxpy.store.fetchrules import FetchSettings


def remotes(*keys_sizes):
    return [Remote(key, i + 1, size) for i, (key, size) in enumerate(keys_sizes)]


def test_only_new_messages_are_fetched_and_gone_ones_forgotten():
    listing = remotes(("a", 10), ("b", 20), ("c", 30))
    todo = plan(listing, {"a": b"d1", "z": b"d9"}, max_size=0)
    assert [r.key for r in todo.fetch] == ["b", "c"]
    assert todo.keep == {"a", "b", "c"}  # z is no longer there: not kept
    assert todo.delete == [] and not todo.by_content


def test_messages_over_the_limit_are_left_and_not_fetched():
    todo = plan(remotes(("a", 100), ("b", 101)), {}, max_size=100)
    assert [r.key for r in todo.fetch] == ["a"] and [r.key for r in todo.too_large] == ["b"]
    # Remembered as skipped (no digest): neither fetched nor deleted later.
    todo = plan(remotes(("a", 100), ("b", 101)), {"a": b"d", "b": b""}, max_size=100, delete_after_fetch=True)
    assert todo.fetch == [] and todo.too_large == [] and [r.key for r in todo.delete] == ["a"]


def test_a_changed_uidvalidity_compares_by_content():
    seen = {imap_key(1, 1): b"x", imap_key(1, 2): b"y", imap_key(1, 3): b""}
    listing = [Remote(imap_key(2, 1), 1, 5), Remote(imap_key(2, 2), 2, 5)]
    todo = plan(listing, seen, 0, validity_changed=True)
    assert len(todo.fetch) == 2 and todo.by_content and todo.known_digests == {b"x", b"y"}


def check(**fields):
    base = dict(account="mox", protocol="imap", host=" mail.example.org ", port=0, tls="", tls_skip_verify=False,
                username="u", mailbox="", delete_after_fetch=False, interval=0)
    return settingslib.check(FetchSettings(**{**base, **fields}), {"mox": None}, localserve=False)


def test_defaults_are_filled_in():
    s = check()
    assert (s.host, s.port, s.tls, s.mailbox, s.interval) == ("mail.example.org", 993, "implicit", "INBOX", 300)
    assert check(protocol="POP3", tls="starttls").port == 110
    assert check(protocol="pop3").port == 995 and check(tls="none").port == 143


def test_the_interval_has_a_floor_outside_localserve():
    with pytest.raises(settingslib.SettingsError, match="between 60 and"):
        check(interval=5)
    lenient = FetchSettings("mox", "pop3", "h", 0, "none", False, "u", "", False, 1)
    assert settingslib.check(lenient, {"mox": None}, localserve=True).interval == 1


def test_failures_are_classified():
    import socket

    assert classify(socket.gaierror(-2, "Name or service not known"), "x.invalid", 1).status == BAD_HOST
    assert classify(ConnectionRefusedError(111, "refused"), "h", 1).status == CONNECTION_FAILED
    assert classify(TimeoutError(), "h", 1).status == CONNECTION_FAILED
    assert classify(ValueError("odd"), "h", 1).status == ERROR
    assert scrub("server said: bad password hunter2", "hunter2") == "server said: bad password ********"


def test_passwords_are_sealed_with_a_key_of_the_data_directory(tmp_path):
    box = PasswordBox(str(tmp_path))
    sealed = box.seal("pässword")
    assert b"p\xc3\xa4ssword" not in sealed and box.open(sealed) == "pässword"
    assert box.seal("pässword") != sealed  # a fresh nonce each time
    assert (tmp_path / "fetch-passwords.key").stat().st_mode & 0o777 == 0o600
    assert PasswordBox(str(tmp_path)).open(sealed) == "pässword"  # the key is kept
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(SecretError):
        PasswordBox(str(other)).open(sealed)
