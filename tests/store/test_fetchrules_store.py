"""Fetch rules in the server database: what a rule remembers between runs,
and what a change of the remote mailbox or a deletion does to it."""

import asyncio
import dataclasses

import pytest

from moxpy.store.fetchrules import FetchOutcome, FetchRuleNotFound, FetchSettings

from ..serverdbhelp import open_server_database

SETTINGS = FetchSettings(account="mox", protocol="pop3", host="pop.example.org", port=995, tls="implicit",
                         tls_skip_verify=False, username="u", mailbox="", delete_after_fetch=False, interval=60)


@pytest.fixture
def rules(tmp_path, storage):
    loop = asyncio.new_event_loop()
    db = open_server_database(tmp_path, storage)
    yield db.fetch_rules, loop.run_until_complete
    db.close()
    loop.close()


def test_a_run_forgets_messages_no_longer_on_the_remote(rules):
    store, run = rules
    rule_id = run(store.add(SETTINGS, b"sealed", 1000.0))
    new = store.get(rule_id)
    assert (new.status, new.next_run, new.password, new.created) == ("notRunYet", 0, b"sealed", 1000.0)
    for key in ("a", "b", "c"):
        assert run(store.mark_seen(rule_id, 0, key, key.encode()))
    run(store.finish(rule_id, 0, FetchOutcome("ok", "", 3, 0), 2000.0, 0, keep={"a", "d"}))
    assert store.seen(rule_id) == {"a": b"a"}
    got = store.get(rule_id)
    assert (got.status, got.last_run, got.fetched, got.last_fetched) == ("ok", 2000.0, 3, 3)
    # A failed run (keep None) forgets nothing and adds to the counts.
    run(store.finish(rule_id, 0, FetchOutcome("connectionFailed", "refused", 0, 0), 3000.0, 0, keep=None))
    assert store.seen(rule_id) == {"a": b"a"} and store.get(rule_id).fetched == 3


def test_another_remote_mailbox_starts_afresh_and_a_run_in_progress_stores_nothing_more(rules):
    store, run = rules
    rule_id = run(store.add(SETTINGS, b"sealed", 1000.0))
    assert run(store.claim(rule_id, 0, 5000.0)) and store.get(rule_id).next_run == 5000.0
    run(store.mark_seen(rule_id, 0, "a", b"x"))
    # Only the interval: the same mailbox, remembered messages kept, password kept, due at once.
    run(store.update(rule_id, dataclasses.replace(SETTINGS, interval=600), None))
    got = store.get(rule_id)
    assert (got.epoch, got.interval, got.next_run, got.password) == (0, 600, 0, b"sealed")
    assert store.seen(rule_id) == {"a": b"x"}
    # Another host: forgotten, and the run of the old settings can no longer record anything.
    run(store.update(rule_id, dataclasses.replace(SETTINGS, host="other.example.org"), b"new"))
    got = store.get(rule_id)
    assert (got.epoch, got.password, store.seen(rule_id)) == (1, b"new", {})
    assert not run(store.mark_seen(rule_id, 0, "b", b"y"))
    assert not run(store.claim(rule_id, 0, 9000.0))
    run(store.finish(rule_id, 0, FetchOutcome("ok", "", 1, 0), 2000.0, 0, keep=set()))
    assert store.get(rule_id).status == "notRunYet"


def test_deleting_a_rule_removes_what_it_remembers(rules):
    store, run = rules
    rule_id = run(store.add(SETTINGS, b"sealed", 1000.0))
    run(store.mark_seen(rule_id, 0, "a", b"x"))
    run(store.delete(rule_id))
    assert store.get(rule_id) is None and store.seen(rule_id) == {} and store.list() == []
    with pytest.raises(FetchRuleNotFound):
        run(store.delete(rule_id))
    with pytest.raises(FetchRuleNotFound):
        run(store.update(rule_id, SETTINGS, None))
    # IDs are not reused.
    assert run(store.add(SETTINGS, b"sealed", 1000.0)) == rule_id + 1
