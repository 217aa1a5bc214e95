"""The three ways of changing flags (IMAP STORE FLAGS, +FLAGS, -FLAGS; RFC 3501 6.4.6)."""

from moxpy.store import flags
from moxpy.store.sqlite.flagchange import new_flags

SEEN, FLAGGED = flags.SEEN, flags.FLAGGED


def test_add_keeps_what_is_there():
    assert new_flags("add", SEEN, ["a"], FLAGGED, ["b", "a"]) == (SEEN | FLAGGED, ["a", "b"])


def test_remove_takes_only_what_is_named():
    assert new_flags("remove", SEEN | FLAGGED, ["a", "b"], SEEN, ["b", "c"]) == (FLAGGED, ["a"])


def test_set_replaces_everything():
    assert new_flags("set", SEEN | FLAGGED, ["a"], 0, ["z", "b"]) == (0, ["b", "z"])
