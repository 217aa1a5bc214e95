"""The token helpers and the token store, without a server."""

from __future__ import annotations

import asyncio
import base64

import pytest

from moxpy import config as configlib
from moxpy import tokens

from .serverdbhelp import open_server_database


def test_tokens_are_prefixed_and_random():
    made = {tokens.new_token() for _ in range(100)}
    assert len(made) == 100
    for token in made:
        assert token.startswith("mxt_") and len(token) == 47
        assert len(base64.urlsafe_b64decode(token[4:] + "=")) == 32


@pytest.mark.parametrize("text, seconds", [("", 0), ("90s", 90), ("30m", 1800), ("1h30m", 5400), ("720h", 720 * 3600),
                                           ("1.5h", 5400), ("1h 0m", None), ("10", None), ("-1h", None), ("0s", None),
                                           ("1d", None), ("h", None),
                                           ("87600h", 87600 * 3600), ("87601h", None), ("99999999999999999h", None)])
def test_durations(text, seconds):
    if seconds is None:
        with pytest.raises(ValueError):
            tokens.parse_duration(text)
    else:
        assert tokens.parse_duration(text) == seconds


def test_scopes():
    assert tokens.parse_scopes("read.body, read,read") == ["read", "read.body"]
    assert tokens.parse_scopes(["admin", "send"]) == ["send", "admin"]
    for bad in ("", "read,Read", "everything", ","):
        with pytest.raises(ValueError):
            tokens.parse_scopes(bad)


def test_authenticate_over_the_store(tmp_path, storage):
    db = open_server_database(tmp_path, storage)
    try:
        config = configlib.Config(Accounts={"mox": configlib.Account(Domain="localhost"), "bob": configlib.Account(Domain="localhost")})
        record, token = asyncio.run(tokens.create(db.tokens, "mox", ["read"], "n", lifetime=60, now=1000.0))
        assert db.tokens.by_hash(tokens.token_hash(token)).id == record.id
        if storage:  # every value of the table, as stored
            stored = b"".join(v if isinstance(v, bytes) else str(v).encode()
                              for row in db.db.query("select * from api_tokens") for v in row)
        else:
            stored = b"".join(p.read_bytes() for p in tmp_path.glob("mox.db*"))
        assert tokens.token_hash(token) in stored and token.encode() not in stored
        principal = tokens.authenticate(token, db.tokens, config, now=1059.0)
        assert (principal.account, principal.scopes, principal.viewer) == ("mox", frozenset({"read"}), True)
        with pytest.raises(tokens.TokenError):
            tokens.authenticate(token, db.tokens, config, now=1060.0)  # expired
        with pytest.raises(tokens.TokenError):
            tokens.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B"), db.tokens, config, now=1000.0)
        assert not asyncio.run(db.tokens.revoke(record.id, "bob", 1001.0))  # another account's
        assert asyncio.run(db.tokens.revoke(record.id, "mox", 1001.0))
        assert asyncio.run(db.tokens.revoke(record.id, "", 1005.0))
        assert db.tokens.list("mox")[0].revoked == 1001.0 and db.tokens.list("bob") == []
        with pytest.raises(tokens.TokenError):
            tokens.authenticate(token, db.tokens, config, now=1002.0)
        # A token of an account since removed from the config is refused.
        _, other = asyncio.run(tokens.create(db.tokens, "gone", ["read"]))
        with pytest.raises(tokens.TokenError):
            tokens.authenticate(other, db.tokens, config)
    finally:
        db.close()
