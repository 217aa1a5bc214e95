import pytest

from .hookreceiver import Receiver
from . import localserve
from .localserve import LocalServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One running localserve shared by the tests of a module."""
    srv = LocalServer(str(tmp_path_factory.mktemp("localserve"))).start()
    yield srv
    srv.stop()


@pytest.fixture
def new_server(tmp_path):
    """Make a fresh localserve (not started) for tests that restart or kill it."""
    made = []

    def make(configure=None) -> LocalServer:
        srv = LocalServer(str(tmp_path / f"ls{len(made)}"), configure)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop(timeout=5)


@pytest.fixture(scope="module")
def receiver():
    """A webhook receiver on loopback, shared by the tests of a module."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="session")
def postgresql():
    """One PostgreSQL server for the tests of a worker; skipped where it cannot run."""
    from . import pgserver

    if localserve.suite_storage() == "postgresql":
        yield localserve.shared_postgresql()  # the servers' own, stopped when the worker ends
        return
    reason = pgserver.missing()
    if reason:
        pytest.skip(reason)
    server = pgserver.PostgreSQL().start()
    yield server
    server.stop()


@pytest.fixture
def pg_dsn(postgresql):
    """The DSN of a new empty PostgreSQL database."""
    return postgresql.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request):
    """The storage backend a store test runs on, once each: "" for SQLite, else the DSN of a new
    PostgreSQL database (skipped where PostgreSQL cannot run)."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("pg_dsn")


def pytest_collection_modifyitems(config, items):
    if localserve.suite_storage() != "postgresql":
        return
    skip = pytest.mark.skip(reason="sqlite_only: reads SQLite or message files, or tests SQLite itself; "
                                   "the suite runs on PostgreSQL (MOXPY_TEST_STORAGE)")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    localserve.stop_shared_postgresql()
