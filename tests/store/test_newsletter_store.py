"""Mailing list members in the server database: the writes that must not overwrite a change made
meanwhile (a confirmation racing a subscribe), and the lists of one account kept from another."""

import asyncio

import pytest

from moxpy.store.newsletter import BOUNCED, CONFIRMED, PENDING, UNSUBSCRIBED, ListNotFound, MailingList, Member

from ..serverdbhelp import open_server_database


@pytest.fixture
def lists(tmp_path, storage):
    loop = asyncio.new_event_loop()
    db = open_server_database(tmp_path, storage)
    yield db.newsletter, loop.run_until_complete
    db.close()
    loop.close()


def test_a_confirmation_is_single_use_and_not_undone_by_a_stale_save(lists):
    store, run = lists
    list_id = run(store.create_list(MailingList(0, "mox", "News", "mox@localhost", created=1.0)))
    member = Member(list_id, "Reader@example.org", PENDING, created=1.0, confirm_nonce="n1")
    assert run(store.save_member_if("mox", member, None))
    assert not run(store.save_member_if("mox", member, None))  # made meanwhile
    stale = store.member("mox", list_id, "reader@EXAMPLE.org")
    assert stale.email == "Reader@example.org" and stale.confirm_nonce == "n1"

    assert not run(store.confirm_member("mox", list_id, "reader@example.org", "other", 2.0))
    assert not run(store.confirm_member("other", list_id, "reader@example.org", "n1", 2.0))
    assert run(store.confirm_member("mox", list_id, "reader@example.org", "n1", 2.0))
    assert not run(store.confirm_member("mox", list_id, "reader@example.org", "n1", 3.0))
    confirmed = store.member("mox", list_id, "reader@example.org")
    assert (confirmed.status, confirmed.confirm_nonce, confirmed.updated) == (CONFIRMED, "", 2.0)

    # A subscribe that read the member while pending does not put it back to pending.
    stale.confirm_sent = 5.0
    assert not run(store.save_member_if("mox", stale, (PENDING, "n1")))
    assert store.member("mox", list_id, "reader@example.org").status == CONFIRMED


def test_status_and_preferences_change_alone(lists):
    store, run = lists
    list_id = run(store.create_list(MailingList(0, "mox", "News", "mox@localhost", created=1.0)))
    run(store.save_member("mox", Member(list_id, "a@example.org", CONFIRMED, {"lang": "en"}, 1.0, 1.0)))
    assert run(store.set_preferences("mox", list_id, "A@example.org", {"lang": "nl"}, 2.0))
    assert not run(store.set_preferences("bob", list_id, "a@example.org", {"lang": "fr"}, 2.0))
    assert not run(store.set_status("mox", list_id, "a@example.org", UNSUBSCRIBED, 3.0, only_from=(PENDING,)))
    assert run(store.set_status("mox", list_id, "a@example.org", UNSUBSCRIBED, 3.0, only_from=(PENDING, CONFIRMED)))
    member = store.member("mox", list_id, "a@example.org")
    assert (member.status, member.preferences, member.updated) == (UNSUBSCRIBED, {"lang": "nl"}, 3.0)
    assert run(store.mark_bounced("mox", "a@example.org", 4.0)) == 0  # unsubscribed stays so
    assert store.member("mox", list_id, "a@example.org").status != BOUNCED


def test_lists_of_another_account(lists):
    store, run = lists
    list_id = run(store.create_list(MailingList(0, "mox", "News", "mox@localhost", created=1.0)))
    assert store.get_list("bob", list_id) is None and store.lists("bob") == []
    assert store.list_by_id(list_id).account == "mox"
    with pytest.raises(ListNotFound):
        run(store.save_member_if("bob", Member(list_id, "a@example.org", PENDING), None))
    with pytest.raises(ListNotFound):
        run(store.delete_list("bob", list_id))
    assert store.member("bob", list_id, "a@example.org") is None
