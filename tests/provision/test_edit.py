"""The names and addresses of new accounts, and the password rule, as
pure functions over a config (the file is only read, never written)."""

import pytest

from moxpy.config import Config, ConfigError, Domain
from moxpy.provision import edit


def config(default_domain: str = "example.org") -> Config:
    return Config(DefaultDomain=default_domain, Domains={"example.org": Domain(), "localhost": Domain()})


@pytest.mark.parametrize("name, expected", [
    ("bob", ("bob", "bob@example.org")),
    (" bob ", ("bob", "bob@example.org")),
    ("Bob@Example.ORG", ("Bob@example.org", "Bob@example.org")),
    ("bob+news@localhost", ("bob+news@localhost", "bob+news@localhost")),
])
def test_account_name_and_address(name, expected):
    assert edit.new_account_address(config(), name) == expected


@pytest.mark.parametrize("name, default_domain, error", [
    ("bob", "", "set DefaultDomain"),
    ("bob@elsewhere.example", "example.org", "not configured"),
    ("@example.org", "example.org", "not a catchall"),
    ("", "example.org", "required"),
    ("../bob", "example.org", "invalid account name"),
    ("bob smith", "example.org", "invalid account name"),
])
def test_names_that_make_no_account(name, default_domain, error):
    with pytest.raises(ConfigError, match=error):
        edit.new_account_address(config(default_domain), name)


@pytest.mark.parametrize("name, valid", [
    ("bob", True), ("b.o_b-1", True), ("bob@example.org", True), (".bob", False), ("../x", False),
    ("a/b", False), ("x@../../etc", False), ("x@a/b", False), ("", False), ("-bob", False), ("b" * 65, False),
])
def test_valid_account_names_are_safe_directory_names(name, valid):
    assert edit.valid_account_name(name) is valid


@pytest.mark.parametrize("password, ok", [
    ("12345678", True), ("correct horse", True), ("ünïcödé!", True), ("1234567", False), ("", False),
    ("password\x00x", False), ("tab\there!", False),
])
def test_password_rule(password, ok):
    if ok:
        edit.check_password(password)
    else:
        with pytest.raises(ConfigError, match="password must"):
            edit.check_password(password)
