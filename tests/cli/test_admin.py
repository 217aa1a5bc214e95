"""Running a real domain: quickstart, config test, and account, address and
domain management on a running server's config, taking effect at once."""

import pytest
import os
import smtplib
import subprocess
import sys

import httpx

from moxpy.store.pg.accounts import schema_name

from ..localserve import ADDRESS, PASSWORD, ROOT
from ..serverdbhelp import execute


def mox(*args, cwd=None, input=None):
    return subprocess.run([sys.executable, os.path.join(ROOT, "mox.py"), *args], cwd=cwd, input=input,
                          capture_output=True, text=True)


def webapi_status(server, user, password):
    return httpx.post(server.base_url + "SuppressionList", data={"request": "{}"}, auth=(user, password)).status_code


def submission_login(server, user, password) -> bool:
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=10) as s:
        try:
            s.login(user, password)
            return True
        except smtplib.SMTPAuthenticationError:
            return False


def test_quickstart_config_passes_config_test(tmp_path):
    out = mox("quickstart", "you@example.com", "-hostname", "mail.example.com", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "password (shown only now)" in out.stdout
    for record in ("example.com.  MX  10 mail.example.com.", "_dmarc.example.com.", "._domainkey.example.com.",
                   "v=spf1", "_submissions._tcp.example.com."):
        assert record in out.stdout
    assert mox("config", "test", cwd=tmp_path).returncode == 0
    # Not twice over the same config.
    again = mox("quickstart", "you@example.com", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_config_test_reports_errors_clearly(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "mox.toml").write_text('Hostname = "x"\nBogus = 1\n')
    out = mox("config", "test", cwd=tmp_path)
    assert out.returncode == 1
    assert "Bogus" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_account_changes_apply_to_running_server_at_once(new_server):
    srv = new_server().start()
    config = srv.config.path
    out = mox("account", "add", "bob", "bob@localhost", "-password", "bobsecret1", "-config", config)
    assert out.returncode == 0, out.stderr
    assert webapi_status(srv, "bob@localhost", "bobsecret1") == 200
    assert submission_login(srv, "bob@localhost", "bobsecret1")

    out = mox("account", "passwd", "bob", "-config", config, input="newsecret2\n")
    assert out.returncode == 0, out.stderr
    assert webapi_status(srv, "bob@localhost", "bobsecret1") == 401
    assert not submission_login(srv, "bob@localhost", "bobsecret1")
    assert webapi_status(srv, "bob@localhost", "newsecret2") == 200
    assert submission_login(srv, "bob@localhost", "newsecret2")

    # A second address logs in to the same account.
    assert mox("address", "add", "robert@localhost", "bob", "-config", config).returncode == 0
    assert webapi_status(srv, "robert@localhost", "newsecret2") == 200

    listed = mox("account", "list", "-config", config).stdout
    assert "bob\tbob@localhost, robert@localhost" in listed

    assert mox("account", "del", "bob", "-config", config).returncode == 0
    assert webapi_status(srv, "bob@localhost", "newsecret2") == 401
    assert not submission_login(srv, "bob@localhost", "newsecret2")
    # The default account is untouched.
    assert webapi_status(srv, ADDRESS, PASSWORD) == 200


def test_bad_changes_are_refused_with_a_message(new_server, tmp_path):
    srv = new_server()
    config = srv.config.path
    before = open(config).read()
    for args, text in [
        (("account", "add", "mox", "other@localhost"), "already exists"),
        (("account", "add", "x", "x@unknown.example"), "not configured"),
        (("account", "add", "bad name", "y@localhost"), "invalid account name"),
        (("address", "add", "mox@localhost", "mox"), "already belongs"),
        (("address", "del", "mox@localhost"), "only address"),
        (("domain", "del", "localhost"), "still used"),
        (("account", "passwd", "nobody", "-password", "whatever123"), "no account"),
        (("account", "add", "x", "x@localhost", "-password", "short"), "at least 8 characters"),
        (("account", "passwd", "mox", "-password", "1234567"), "at least 8 characters"),
    ]:
        out = mox(*args, "-config", config)
        assert out.returncode == 1 and text in out.stderr, (args, out.stderr)
    assert open(config).read() == before


@pytest.mark.slow
def test_domain_add_with_catchall_then_del(new_server):
    srv = new_server().start()
    config = srv.config.path
    out = mox("domain", "add", "example.org", "mox", "-config", config)
    assert out.returncode == 0, out.stderr
    assert "example.org.  MX  10 localhost." in out.stdout and "._domainkey.example.org." in out.stdout
    from moxpy import config as configlib

    loaded = configlib.load(config)
    assert "@example.org" in loaded.Accounts["mox"].Destinations
    assert len(loaded.Domains["example.org"].DKIM.Sign) == 2
    # The catchall makes the account's addresses at the new domain usable as From at once.
    resp = httpx.post(srv.base_url + "Send", auth=(ADDRESS, PASSWORD), data={"request": (
        '{"From": [{"Address": "sales@example.org"}], "To": [{"Address": "mox@localhost"}], "Text": "x"}')})
    assert resp.status_code == 200, resp.text
    out = mox("domain", "del", "example.org", "-config", config)
    assert out.returncode == 1 and "still used" in out.stderr
    assert mox("address", "del", "@example.org", "-config", config).returncode == 0
    assert mox("domain", "del", "example.org", "-config", config).returncode == 0
    resp = httpx.post(srv.base_url + "Send", auth=(ADDRESS, PASSWORD), data={"request": (
        '{"From": [{"Address": "sales@example.org"}], "To": [{"Address": "mox@localhost"}], "Text": "x"}')})
    assert resp.status_code == 400 and resp.json()["Code"] == "badFrom"


def test_log_level_must_be_one_of_mox_names(new_server):
    srv = new_server()
    config = srv.config.path
    text = open(config).read()
    with open(config, "w") as f:
        f.write(text.replace('LogLevel = "info"', 'LogLevel = "verbose"'))
    out = mox("config", "test", "-config", config)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("mox: LogLevel: 'verbose' is not a log level; one of: tracedata, traceauth, trace,")
    # mox's trace levels are accepted (logging what debug does here).
    with open(config, "w") as f:
        f.write(text.replace('LogLevel = "info"', 'LogLevel = "traceauth"'))
    assert mox("config", "test", "-config", config).returncode == 0
    srv.start()
    assert any(" debug " in line for line in srv.output)


def test_account_add_does_not_hand_over_mail_an_earlier_account_left(new_server):
    srv = new_server()
    config = srv.config.path
    # What an earlier account of the name left: its directory (SQLite), or its schema (PostgreSQL).
    leftover = os.path.join(srv.config.data_dir(), "accounts", "ghost")
    if srv.config.Storage == "postgresql":
        execute(srv.config, f"create schema {schema_name('ghost')}")
    else:
        os.makedirs(leftover)
    out = mox("account", "add", "ghost", "ghost@localhost", "-password", "ghost-secret", "-config", config)
    assert out.returncode == 1 and "still holds the mail of an earlier account" in out.stderr, out.stderr
    if srv.config.Storage == "postgresql":
        execute(srv.config, f"drop schema {schema_name('ghost')}")
    else:
        os.rmdir(leftover)
    out = mox("account", "add", "ghost", "ghost@localhost", "-password", "ghost-secret", "-config", config)
    assert out.returncode == 0, out.stderr


@pytest.mark.slow
def test_command_line_errors_are_one_line(new_server, tmp_path):
    srv = new_server()
    config = srv.config.path
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    cases = [
        ("quickstart", "notanaddress", "-dir", str(tmp_path / "q1")),
        ("quickstart", "you@", "-dir", str(tmp_path / "q2")),
        ("quickstart", "a b@example.com", "-dir", str(tmp_path / "q3")),
        ("quickstart", "you@example.com", "-hostname", "bad host", "-dir", str(tmp_path / "q4")),
        ("quickstart", "you@example.com", "-dir", str(a_file / "sub")),
        ("domain", "add", "bad domain", "-config", config),
        ("domain", "del", "bad domain", "-config", config),
        ("domain", "add", "example.org", "nobody", "-config", config),
        ("account", "add", "bob", "not an address", "-config", config),
        ("account", "add", "bob", "bob@", "-config", config),
        ("account", "del", "nobody", "-config", config),
        ("account", "list", "-config", str(tmp_path / "missing.toml")),
        ("address", "add", "x y@localhost", "mox", "-config", config),
        ("address", "del", "@bad domain", "-config", config),
        ("address", "add", "x@localhost", "-config", config),
        ("queue", "list", "-ids", "abc", "-config", config),
        ("queue", "webhook", "list", "-queuemsgid", "abc", "-config", config),
        ("queue", "hold", "-ids", "1", "-config", config),
        ("queue", "bogus", "-config", config),
        ("serve", "-config", str(tmp_path / "missing.toml")),
        ("serve", "-loglevel", "verbose", "-config", config),
        ("localserve", "-dir", str(a_file / "sub")),
        ("localserve", "-loglevel", "verbose"),
        ("example", "nope"),
        ("nosuchcommand",),
        (),
    ]
    if srv.config.Storage == "postgresql":
        # The server has not run, but its PostgreSQL database is there (a new one, empty): the queue
        # commands open it as they would a server's. "no database" is of a SQLite data directory.
        cases.remove(("queue", "hold", "-ids", "1", "-config", config))
    for args in cases:
        out = mox(*args, cwd=tmp_path)
        assert out.returncode != 0, args
        lines = out.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mox: "), (args, out.stderr)
