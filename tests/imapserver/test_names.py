"""Mailbox names on the wire: modified UTF-7 (RFC 3501 5.1.3), INBOX,
and LIST patterns (6.3.8)."""

import pytest

from moxpy.imapserver import names


def test_modified_utf7_both_ways():
    # The example of RFC 3501 5.1.3.
    assert names.encode("~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e") == b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert names.decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-") == "~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e"
    assert names.decode(b"Entw&APw-rfe") == "Entw\u00fcrfe"
    assert names.decode(b"Tom &- Jerry") == "Tom & Jerry"
    assert names.encode("Tom & Jerry") == b'"Tom &- Jerry"'
    assert names.decode("Entw\u00fcrfe".encode()) == "Entw\u00fcrfe"  # raw UTF-8, meant literally


@pytest.mark.parametrize("raw", [b"a&b", b"&Jjo", b"&AGE-", b"&A-", b"&2D0-", b"\xff\xfe"])
def test_names_no_mailbox_can_have(raw):
    with pytest.raises(names.MailboxNameError):
        names.decode(raw)


def test_inbox_is_shown_as_INBOX():
    assert names.display("Inbox") == "INBOX"
    assert names.display("Inbox/Sub") == "INBOX/Sub"
    assert names.display("Inboxes") == "Inboxes"


@pytest.mark.parametrize("pattern, matching", [
    ("*", ["INBOX", "INBOX/a", "Archive", "Archive/2024", "Archive/2024/Jan"]),
    ("%", ["INBOX", "Archive"]),
    ("Archive/%", ["Archive/2024"]),
    ("Archive/*", ["Archive/2024", "Archive/2024/Jan"]),
    ("inbox", ["INBOX"]),
    ("Inbox/%", ["INBOX/a"]),
    ("A%e", ["Archive"]),
    ("archive", []),  # only INBOX is case-insensitive
    ("Arch.ve", []),  # no regular expressions
])
def test_list_patterns(pattern, matching):
    all_names = ["INBOX", "INBOX/a", "Archive", "Archive/2024", "Archive/2024/Jan"]
    matches = names.list_matcher(pattern)
    assert [n for n in all_names if matches(n)] == matching
