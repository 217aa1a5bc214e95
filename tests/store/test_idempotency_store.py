"""Idempotency keys in the queue store (SQLite and PostgreSQL): recorded in the commit that
queues the submission, a taken key stores nothing (entries, message file
or row), and keys are per account. The webapi's use is in
tests/webapi/test_idempotency.py."""

import json

import pytest

from moxpy.store.queue import EntryFilter, IdempotencyKey, IdempotencyKeyUsed
from moxpy.store.sqlite.queue import INLINE_MAX

from .test_queue_store import files, message_of, new_entry, opened, rows  # noqa: F401 (opened: a fixture)


def key(account: str = "mox", name: str = "k1", digest: str = "d1") -> IdempotencyKey:
    return IdempotencyKey(account, name, digest, lambda ids: json.dumps(ids))


@pytest.mark.parametrize("size", [100, INLINE_MAX * 2])
def test_taken_key_stores_nothing(opened, size):
    serverdb, data_dir, run = opened
    store = serverdb.queue
    ids = run(store.submit(message_of(size), [new_entry("a@example.com")], key()))
    record = store.idempotency_record("mox", "k1", 0)
    assert (record.digest, json.loads(record.response)) == ("d1", ids)
    before = (files(data_dir), rows(serverdb), store.queued(EntryFilter()))
    with pytest.raises(IdempotencyKeyUsed):
        run(store.submit(message_of(size), [new_entry("b@example.com")], key(digest="d2")))
    assert (files(data_dir), rows(serverdb), store.queued(EntryFilter())) == before
    assert store.idempotency_record("mox", "k1", 0).digest == "d1"


def test_keys_are_per_account_and_expire(opened):
    serverdb, _, run = opened
    store = serverdb.queue
    run(store.submit(message_of(100), [new_entry("a@example.com")], key("mox")))
    run(store.submit(message_of(100), [new_entry("a@example.com")], key("other")))
    assert store.idempotency_record("other", "k1", 0) is not None
    created = store.idempotency_record("mox", "k1", 0).created
    assert store.idempotency_record("mox", "k1", created + 1) is None  # older than asked for
    assert store.idempotency_record("mox", "k2", 0) is None
