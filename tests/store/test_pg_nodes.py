"""Two nodes (two PgStore objects, each with its own connections) writing
one account on PostgreSQL at once: UIDs and modseqs stay unique and
increasing, and the change log's order is the order of the commits."""

import asyncio

from moxpy.store.pg.accounts import PgStore, schema_name


def message(node: int, n: int) -> bytes:
    return f"From: a@example.org\r\nSubject: node {node} message {n}\r\n\r\nbody\r\n".encode()


def test_two_nodes_delivering_to_one_mailbox_get_unique_increasing_uids(pg_dsn):
    stores = [PgStore(pg_dsn), PgStore(pg_dsn)]
    try:
        accounts = [store.account("shared") for store in stores]
        start = accounts[0].changes_since(None, 1)[1]

        async def deliver_all():
            return await asyncio.gather(*(accounts[node].deliver(message(node, n))
                                          for n in range(25) for node in (0, 1)))

        delivered = asyncio.run(deliver_all())
        uids = sorted(m.uid for m in delivered)
        assert uids == list(range(1, 51))
        assert len({m.modseq for m in delivered}) == 50 and len({m.id for m in delivered}) == 50
        # Whoever got the lower UID committed first, and so has the lower modseq.
        by_uid = sorted(delivered, key=lambda m: m.uid)
        assert [m.modseq for m in by_uid] == sorted(m.modseq for m in by_uid)
        entries, _, more = accounts[1].changes_since(start, 100)
        assert not more and [e.uid for e in entries] == uids
        inbox = accounts[1].mailbox("Inbox")
        assert inbox.uidnext == 51 and accounts[0].uids(inbox.id) == uids
        assert accounts[0].check() == []
    finally:
        for store in stores:
            store.close()


def test_hostile_account_names_get_schemas_of_their_own(pg_dsn):
    names = ['a"b', "a.b", "a b", "ünïcødé", "x" * 200, "x" * 201, "A", "a", "'; drop schema public; --"]
    schemas = {schema_name(n) for n in names}
    assert len(schemas) == len(names) and all(len(s) <= 63 for s in schemas)
    store = PgStore(pg_dsn)
    try:
        async def deliver():
            for name in names:
                await store.account(name).deliver(message(0, len(name)))

        asyncio.run(deliver())
        for name in names:
            account = store.account(name)
            [m] = account.messages(account.mailbox("Inbox").id, [1])
            assert m.subject == f"node 0 message {len(name)}"
    finally:
        store.close()


def test_a_copy_waiting_behind_another_nodes_delivery_takes_the_uid_after_it(pg_dsn):
    import psycopg

    stores = [PgStore(pg_dsn), PgStore(pg_dsn)]
    blocker = psycopg.connect(pg_dsn)
    try:
        first, second = (store.account("shared") for store in stores)

        async def work():
            source = await first.deliver(message(0, 0))
            # Hold the account's modseq counter, so that the delivery (started first) and then the copy,
            # which reads the destination before it waits, queue for it in that order.
            blocker.execute(f"select value from {schema_name('shared')}.meta where key = 'modseq' for update")
            delivery = asyncio.ensure_future(second.deliver(message(1, 0), "Archive"))
            await asyncio.sleep(0.3)
            copy = asyncio.ensure_future(first.copy([source.id], "Archive", mailbox_id=source.mailbox_id))
            await asyncio.sleep(0.3)
            blocker.commit()
            return await delivery, await copy

        delivered, copied = asyncio.run(work())
        assert (delivered.uid, copied.pairs[0][1]) == (1, 2)
        archive = second.mailbox("Archive")
        assert second.uids(archive.id) == [1, 2] and archive.uidnext == 3
    finally:
        blocker.close()
        for store in stores:
            store.close()
