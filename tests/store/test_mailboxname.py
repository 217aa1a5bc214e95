"""Mailbox names: which are allowed, and how INBOX is spelled."""

import pytest

from moxpy.store import MailboxError, mailboxname


@pytest.mark.parametrize("name, kept", [
    ("INBOX", "Inbox"),
    ("inbox", "Inbox"),
    ("iNbOx/Lists/Python", "Inbox/Lists/Python"),  # RFC 3501 5.1: also as a parent
    ("Inboxes", "Inboxes"),
    ("Lists/INBOX", "Lists/INBOX"),  # only the top level is the inbox
    ("Archive", "Archive"),
    ("archive", "archive"),  # other names are case-sensitive
    ("Reçus/2024", "Reçus/2024"),
])
def test_check_keeps_one_spelling_of_the_inbox(name, kept):
    assert mailboxname.check(name) == kept


@pytest.mark.parametrize("name, why", [
    ("", "empty"),
    ("/Archive", "leading"),
    ("Archive/", "trailing"),
    ("Lists//Python", "doubled"),
    ("Lists/*", "wildcard"),
    ("100%", "wildcard"),
    ("tab\there", "control character"),
    ("del\x7f", "control character"),
])
def test_check_refuses_names_no_mailbox_can_have(name, why):
    with pytest.raises(MailboxError) as e:
        mailboxname.check(name)
    assert why in str(e.value)


def test_parents_and_below():
    assert mailboxname.parents("a/b/c") == ["a", "a/b"]
    assert mailboxname.parents("a") == []
    assert mailboxname.is_below("a/b/c", "a") and mailboxname.is_below("a/b", "a")
    assert not mailboxname.is_below("ab", "a") and not mailboxname.is_below("a", "a")
