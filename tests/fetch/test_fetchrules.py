"""Fetch rules against a real Dovecot on loopback: remote POP3 and IMAP
mailboxes collected into the localserve account, as an administrator sets
them up with the webapi."""

from __future__ import annotations

import json
import os
import secrets
import time

import pytest

from moxpy.config import IncomingWebhook

from ..localserve import ADMIN, LocalServer, free_ports

@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    def configure(config):
        config.Accounts["mox"].IncomingWebhook = IncomingWebhook(URL=receiver.url + "/incoming")

    srv = LocalServer(str(tmp_path_factory.mktemp("fetch")), configure).start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def no_rules_left(server):
    """Each test's rules are gone after it, so none goes on fetching from the mailboxes of the next."""
    yield
    for left in call(server, "FetchRuleList", {})["Rules"]:
        call(server, "FetchRuleDelete", {"ID": left["ID"]})


def call(server, method: str, request: dict) -> dict:
    response = server.call(method, request, **ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def add(server, **fields) -> int:
    request = {"Account": "mox", "IntervalSeconds": 1, **fields}
    return call(server, "FetchRuleAdd", request)["ID"]


def rule(server, rule_id: int) -> dict | None:
    return next((r for r in call(server, "FetchRuleList", {"Account": "mox"})["Rules"] if r["ID"] == rule_id), None)


def wait_rule(server, rule_id: int, timeout: float = 20, **want) -> dict:
    """The rule once its fields have the values wanted."""
    return server.wait_for(lambda: (r := rule(server, rule_id)) and all(r[k] == v for k, v in want.items()) and r,
                           timeout=timeout, interval=0.1)


def wait_runs(server, rule_id: int, runs: int = 2) -> dict:
    """The rule after it ran runs more times."""
    seen = {rule(server, rule_id)["LastRun"]}
    return server.wait_for(lambda: (r := rule(server, rule_id))["LastRun"] not in seen and (seen.add(r["LastRun"]) or
                                                                                           len(seen) > runs) and r,
                           timeout=20, interval=0.1)


def marker() -> str:
    return "fetch-" + secrets.token_hex(6)


def message(subject: str, sender: str = "someone@example.org") -> bytes:
    return (f"Return-Path: <{sender}>\r\nFrom: <{sender}>\r\nTo: <remote@example.net>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@example.org>\r\n\r\nbody of {subject}\r\n").encode()


def inbox(server, subject_prefix: str) -> list[dict]:
    return [m for m in server.messages() if m["mailbox"] == "Inbox" and m["subject"].startswith(subject_prefix)]


def test_pop3_fetches_new_messages_once(server, dovecot):
    tag = marker()
    dovecot.append("alice", message(f"{tag} one"))
    dovecot.append("alice", message(f"{tag} two"))
    rule_id = add(server, Protocol="pop3", Host="127.0.0.1", Port=dovecot.pop3, TLS="none", Username="alice",
                  Password=dovecot.users["alice"])
    got = wait_rule(server, rule_id, Status="ok", Fetched=2)
    # A second run may have come before this look, with nothing new to fetch.
    assert got["LastFetched"] in (2, 0) and got["LastError"] == "" and got["Mailbox"] == ""
    stored = inbox(server, tag)
    assert sorted(m["subject"] for m in stored) == [f"{tag} one", f"{tag} two"]
    assert stored[0]["mail_from"] == "someone@example.org" and stored[0]["remote_ip"] == "127.0.0.1"
    raw = server.message_file(stored[0])
    # A trace field saying where it was fetched from, in front of the message as the remote had it.
    first = raw.split(b"\r\n\t")[0:2]
    assert first[0] == b"Received: from 127.0.0.1 ([127.0.0.1])", raw[:300]
    assert first[1].startswith(b"by localhost with POP3 (fetch rule %d) id " % rule_id), raw[:300]
    assert raw.endswith(message(f"{tag} one")) or raw.endswith(message(f"{tag} two"))

    # Later runs fetch nothing again; a new message comes on the next.
    again = wait_runs(server, rule_id)
    assert (again["Status"], again["Fetched"], again["LastFetched"]) == ("ok", 2, 0)
    dovecot.append("alice", message(f"{tag} three"))
    wait_rule(server, rule_id, Fetched=3)
    wait_runs(server, rule_id)
    assert sorted(m["subject"] for m in inbox(server, tag)) == [f"{tag} one", f"{tag} three", f"{tag} two"]
    assert dovecot.pop3_count("alice") == 3  # left on the server


def test_imap_with_starttls_fetches_and_deletes_after_storing(server, dovecot):
    tag = marker()
    dovecot.append("bob", message(f"{tag} a"), "Projects")
    dovecot.append("bob", message(f"{tag} b"), "Projects")
    dovecot.append("bob", message(f"{tag} not in projects"))
    rule_id = add(server, Protocol="imap", Host="localhost", Port=dovecot.imap, TLS="starttls", TLSSkipVerify=True,
                  Username="bob", Password=dovecot.users["bob"], Mailbox="Projects", DeleteAfterFetch=True)
    got = wait_rule(server, rule_id, Status="ok", Fetched=2)
    assert got["Mailbox"] == "Projects" and got["TLS"] == "starttls"
    assert sorted(m["subject"] for m in inbox(server, tag)) == [f"{tag} a", f"{tag} b"]
    raw = server.message_file(inbox(server, tag)[0])
    assert b"\tby localhost with IMAPS (fetch rule %d)" % rule_id in raw.split(b"\r\n\r\n")[0]
    assert dovecot.uids("bob", "Projects") == []  # removed from the remote
    assert len(dovecot.uids("bob")) == 1  # the other mailbox untouched

    dovecot.append("bob", message(f"{tag} c"), "Projects")
    wait_rule(server, rule_id, Fetched=3)
    server.wait_for(lambda: dovecot.uids("bob", "Projects") == [])
    assert len(inbox(server, tag)) == 3


def test_pop3_with_implicit_tls_deletes_after_fetch(server, dovecot):
    tag = marker()
    dovecot.append("carol", message(f"{tag} x"))
    dovecot.append("carol", message(f"{tag} y"))
    rule_id = add(server, Protocol="pop3", Host="127.0.0.1", Port=dovecot.pop3s, TLS="implicit", TLSSkipVerify=True,
                  Username="carol", Password=dovecot.users["carol"], DeleteAfterFetch=True)
    wait_rule(server, rule_id, Status="ok", Fetched=2)
    assert dovecot.pop3_count("carol") == 0
    raw = server.message_file(inbox(server, tag)[0])
    assert b"with POP3S (fetch rule" in raw.split(b"\r\n\r\n")[0]
    assert len(inbox(server, tag)) == 2


def test_the_certificate_is_verified_unless_the_rule_says_not_to(server, dovecot):
    rule_id = add(server, Protocol="imap", Host="localhost", Port=dovecot.imaps, TLS="implicit", Username="dave",
                  Password=dovecot.users["dave"], IntervalSeconds=3600)
    got = wait_rule(server, rule_id, Status="error")
    assert "certificate" in got["LastError"] and "TLSSkipVerify" in got["LastError"], got
    assert got["LastFetched"] == 0 and got["LastRun"] is not None
    call(server, "FetchRuleDelete", {"ID": rule_id})


def test_a_wrong_password_is_authfailed_and_update_keeps_the_password(server, dovecot):
    tag = marker()
    dovecot.append("dave", message(f"{tag} m"))
    settings = dict(Account="mox", Protocol="imap", Host="127.0.0.1", Port=dovecot.imap, TLS="none",
                    Username="dave", IntervalSeconds=3600)
    rule_id = call(server, "FetchRuleAdd", {**settings, "Password": "not-the-password"})["ID"]
    got = wait_rule(server, rule_id, Status="authFailed")
    assert "login refused" in got["LastError"] and "not-the-password" not in json.dumps(got)
    assert inbox(server, tag) == []

    # Update with the right password runs at once, and fetches.
    call(server, "FetchRuleUpdate", {**settings, "ID": rule_id, "Password": dovecot.users["dave"]})
    wait_rule(server, rule_id, Status="ok", Fetched=1)
    # An update without a password keeps the stored one: the run it causes logs in.
    before = rule(server, rule_id)["LastRun"]
    call(server, "FetchRuleUpdate", {**settings, "ID": rule_id, "IntervalSeconds": 1800})
    got = server.wait_for(lambda: (r := rule(server, rule_id))["LastRun"] != before and r, interval=0.1)
    assert (got["Status"], got["IntervalSeconds"], got["Fetched"]) == ("ok", 1800, 1), got
    assert len(inbox(server, tag)) == 1
    call(server, "FetchRuleDelete", {"ID": rule_id})


def test_a_refused_port_is_connectionfailed(server):
    port = free_ports(1)[0]
    rule_id = add(server, Protocol="pop3", Host="127.0.0.1", Port=port, TLS="none", Username="u", Password="p",
                  IntervalSeconds=3600)
    got = wait_rule(server, rule_id, Status="connectionFailed")
    assert got["LastError"] == f"127.0.0.1:{port}: connection refused"
    call(server, "FetchRuleDelete", {"ID": rule_id})


def test_an_unknown_host_is_badhost(server):
    rule_id = add(server, Protocol="imap", Host="nonexistent.invalid", Username="u", Password="p",
                  IntervalSeconds=3600)
    got = wait_rule(server, rule_id, Status="badHost")
    assert got["LastError"].startswith("cannot resolve nonexistent.invalid"), got
    assert (got["Port"], got["TLS"], got["Mailbox"]) == (993, "implicit", "INBOX")  # the defaults
    call(server, "FetchRuleDelete", {"ID": rule_id})


def test_a_changed_uidvalidity_does_not_fetch_messages_again(server, dovecot):
    tag = marker()
    first, second = message(f"{tag} 1"), message(f"{tag} 2")
    dovecot.append("alice", first, "Lists")
    dovecot.append("alice", second, "Lists")
    rule_id = add(server, Protocol="imap", Host="127.0.0.1", Port=dovecot.imap, TLS="none", Username="alice",
                  Password=dovecot.users["alice"], Mailbox="Lists", IntervalSeconds=3600)
    wait_rule(server, rule_id, Status="ok", Fetched=2)

    # The mailbox made anew, as a server restored from a backup may: the same messages under a new
    # UIDVALIDITY, and one more.
    client = dovecot.imap_client("alice")
    try:
        assert client.delete("Lists")[0] == "OK"
    finally:
        client.logout()
    dovecot.append("alice", first, "Lists")
    dovecot.append("alice", second, "Lists")
    dovecot.append("alice", message(f"{tag} 3"), "Lists")
    before = rule(server, rule_id)["LastRun"]
    call(server, "FetchRuleUpdate", {"ID": rule_id, "Account": "mox", "Protocol": "imap", "Host": "127.0.0.1",
                                     "Port": dovecot.imap, "TLS": "none", "Username": "alice", "Mailbox": "Lists",
                                     "IntervalSeconds": 3600})
    got = server.wait_for(lambda: (r := rule(server, rule_id))["LastRun"] != before and r, interval=0.1)
    assert (got["Status"], got["LastFetched"], got["Fetched"]) == ("ok", 1, 3), got
    assert sorted(m["subject"] for m in inbox(server, tag)) == [f"{tag} 1", f"{tag} 2", f"{tag} 3"]
    call(server, "FetchRuleDelete", {"ID": rule_id})


def test_a_fetched_message_raises_the_incoming_webhook(server, dovecot, receiver):
    tag = marker()
    dovecot.append("carol", message(f"{tag} hooked", "sender@example.com"))
    rule_id = add(server, Protocol="pop3", Host="127.0.0.1", Port=dovecot.pop3, TLS="none", Username="carol",
                  Password=dovecot.users["carol"], DeleteAfterFetch=True, IntervalSeconds=3600)
    [hook] = receiver.wait("/incoming", Subject=f"{tag} hooked")
    assert hook.body["From"] == [{"Name": "", "Address": "sender@example.com"}]
    meta = hook.body["Meta"]
    assert (meta["MailFrom"], meta["RemoteIP"], meta["MailboxName"]) == ("sender@example.com", "127.0.0.1", "Inbox")
    assert meta["MsgID"] == inbox(server, tag)[0]["id"]
    call(server, "FetchRuleDelete", {"ID": rule_id})


def test_delivery_rules_apply_to_fetched_mail(server, dovecot):
    tag = marker()
    rule = {"Account": "mox", "Name": f"sort {tag}", "Conditions": [{"Field": "Subject", "Operation": "contains",
                                                                     "Value": f"{tag} sorted"}],
            "Action": {"Kind": "storeIn", "Value": f"Fetched/{tag}"}}
    assert server.call("RuleCreate", rule, **ADMIN).status_code == 200
    try:
        dovecot.append("carol", message(f"{tag} sorted"))
        dovecot.append("carol", message(f"{tag} plain"))
        rule_id = add(server, Protocol="pop3", Host="127.0.0.1", Port=dovecot.pop3, TLS="none", Username="carol",
                      Password=dovecot.users["carol"], DeleteAfterFetch=True, IntervalSeconds=3600)
        wait_rule(server, rule_id, Status="ok", Fetched=2)
        where = {m["subject"]: m["mailbox"] for m in server.messages() if m["subject"].startswith(tag)}
        assert where == {f"{tag} sorted": f"Fetched/{tag}", f"{tag} plain": "Inbox"}, where
    finally:
        server.call("RuleDelete", {"Account": "mox", "Name": f"sort {tag}"}, **ADMIN)


def test_a_deleted_rule_fetches_no_more(server, dovecot):
    tag = marker()
    dovecot.append("dave", message(f"{tag} before"), "Deleted")
    rule_id = add(server, Protocol="imap", Host="127.0.0.1", Port=dovecot.imap, TLS="none", Username="dave",
                  Password=dovecot.users["dave"], Mailbox="Deleted")
    wait_rule(server, rule_id, Status="ok", Fetched=1)
    assert call(server, "FetchRuleDelete", {"ID": rule_id}) == {}
    assert rule(server, rule_id) is None
    dovecot.append("dave", message(f"{tag} after"), "Deleted")
    time.sleep(3)  # three intervals of the rule
    assert [m["subject"] for m in inbox(server, tag)] == [f"{tag} before"]
    for method, request in (("FetchRuleDelete", {"ID": rule_id}),
                            ("FetchRuleUpdate", {"ID": rule_id, "Account": "mox", "Protocol": "pop3",
                                                 "Host": "127.0.0.1", "Username": "dave"})):
        response = server.call(method, request, **ADMIN)
        assert response.status_code == 400 and response.json()["Code"] == "fetchRuleNotFound", response.text


@pytest.mark.parametrize("fields, text", [
    ({"Protocol": "smtp"}, "Protocol must be one of pop3, imap"),
    ({"TLS": "maybe"}, "TLS must be one of implicit, starttls, none"),
    ({"Account": "nobody"}, "no account 'nobody'"),
    ({"Host": ""}, "Host is required"),
    ({"Username": "a\r\nDELE 1"}, "Username must not contain control characters"),
    ({"Password": ""}, "Password is required"),
    ({"Mailbox": "INBOX"}, "Mailbox is for IMAP only"),
    ({"Port": 70000}, "Port must be between 1 and 65535"),
    ({"IntervalSeconds": -1}, "IntervalSeconds must be between 1 and"),
])
def test_unusable_settings_are_user_errors(server, fields, text):
    request = {"Account": "mox", "Protocol": "pop3", "Host": "127.0.0.1", "Username": "u", "Password": "p", **fields}
    response = server.call("FetchRuleAdd", request, **ADMIN)
    assert response.status_code == 400, response.text
    assert response.json()["Code"] == "user" and response.json()["Message"].startswith(text), response.text


@pytest.mark.sqlite_only  # reads the SQLite database's files for the password
def test_the_password_is_never_shown_nor_stored_in_the_clear(server, dovecot):
    password = "very-secret-" + secrets.token_hex(4)
    rule_id = add(server, Protocol="pop3", Host="127.0.0.1", Port=dovecot.pop3, TLS="none", Username="bob",
                  Password=password, IntervalSeconds=3600)
    wait_rule(server, rule_id, Status="authFailed")
    answers = [server.call("FetchRuleList", {}, **ADMIN).text,
               server.call("FetchRuleList", {"Account": "mox"}, **ADMIN).text]
    data_dir = server.config.data_dir()
    stored = b""
    for name in ("mox.db", "mox.db-wal"):
        if os.path.exists(os.path.join(data_dir, name)):
            with open(os.path.join(data_dir, name), "rb") as f:
                stored += f.read()
    assert password not in "".join(answers) + "".join(server.output)
    assert password.encode() not in stored
    key = os.path.join(data_dir, "fetch-passwords.key")
    assert os.stat(key).st_mode & 0o777 == 0o600
    call(server, "FetchRuleDelete", {"ID": rule_id})
    for dovecot_password in dovecot.users.values():
        assert dovecot_password not in "".join(server.output)


@pytest.mark.slow
def test_rules_survive_a_restart(new_server, dovecot):
    server = new_server().start()
    tag = marker()
    dovecot.append("bob", message(f"{tag} first"), "Restart")
    rule_id = add(server, Protocol="imap", Host="127.0.0.1", Port=dovecot.imap, TLS="none", Username="bob",
                  Password=dovecot.users["bob"], Mailbox="Restart", IntervalSeconds=3600)
    wait_rule(server, rule_id, Status="ok", Fetched=1)
    server.stop()
    dovecot.append("bob", message(f"{tag} second"), "Restart")
    server.start()
    # Kept with its state; due again only after its interval, or at once when updated.
    assert rule(server, rule_id)["Fetched"] == 1
    call(server, "FetchRuleUpdate", {"ID": rule_id, "Account": "mox", "Protocol": "imap", "Host": "127.0.0.1",
                                     "Port": dovecot.imap, "TLS": "none", "Username": "bob", "Mailbox": "Restart",
                                     "IntervalSeconds": 3600})
    got = wait_rule(server, rule_id, Fetched=2)
    assert got["Status"] == "ok" and got["LastFetched"] == 1
    assert sorted(m["subject"] for m in inbox(server, tag)) == [f"{tag} first", f"{tag} second"]


class SilentServer:
    """A TCP server that accepts connections and says nothing, or the few lines given, as a POP3
    server without UIDL would."""

    def __init__(self, answers: dict[bytes, bytes] | None = None, greeting: bytes = b""):
        import socketserver
        import threading

        answers = answers or {}

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                if not greeting:
                    self.rfile.read()  # until the client goes away
                    return
                self.wfile.write(greeting)
                for line in self.rfile:
                    verb = line.split()[0].upper() if line.split() else b""
                    self.wfile.write(answers.get(verb, b"-ERR unknown command\r\n"))
                    if verb == b"QUIT":
                        return

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_pop3_server_without_uidl_is_an_error_that_says_so(server):
    remote = SilentServer({b"USER": b"+OK\r\n", b"PASS": b"+OK logged in\r\n", b"QUIT": b"+OK bye\r\n"},
                          greeting=b"+OK POP3 ready\r\n")
    try:
        rule_id = add(server, Protocol="pop3", Host="127.0.0.1", Port=remote.port, TLS="none", Username="u",
                      Password="p", IntervalSeconds=3600)
        got = wait_rule(server, rule_id, Status="error")
        assert "does not support UIDL" in got["LastError"], got
        call(server, "FetchRuleDelete", {"ID": rule_id})
    finally:
        remote.close()


@pytest.mark.slow
def test_a_run_waiting_on_a_silent_server_does_not_hold_up_the_stop(new_server):
    remote = SilentServer()
    try:
        server = new_server().start()
        add(server, Protocol="imap", Host="127.0.0.1", Port=remote.port, TLS="none", Username="u", Password="p")
        time.sleep(1)  # the run waits for a greeting that does not come (for a minute, its timeout)
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 5
    finally:
        remote.close()


@pytest.mark.slow
def test_messages_over_the_size_limit_stay_on_the_remote(new_server, dovecot):
    def configure(config):
        config.MaxMessageSize = 4096

    server = new_server(configure).start()
    tag = marker()
    dovecot.append("carol", message(f"{tag} small"))
    big = message(f"{tag} big").replace(b"body of", b"x" * 8000 + b"\r\nbody of")
    dovecot.append("carol", big)
    rule_id = add(server, Protocol="pop3", Host="127.0.0.1", Port=dovecot.pop3, TLS="none", Username="carol",
                  Password=dovecot.users["carol"], DeleteAfterFetch=True)
    got = wait_rule(server, rule_id, Status="ok", Fetched=1)
    assert got["Skipped"] == 1
    again = wait_runs(server, rule_id)
    assert (again["Skipped"], again["Fetched"]) == (1, 1)  # counted once, not tried again
    assert [m["subject"] for m in inbox(server, tag)] == [f"{tag} small"]
    assert dovecot.pop3_count("carol") == 1  # the big one, left there
    call(server, "FetchRuleDelete", {"ID": rule_id})
    # Left for the next test of the module that uses carol's mailbox empty.
    import poplib

    client = poplib.POP3("127.0.0.1", dovecot.pop3)
    client.user("carol")
    client.pass_(dovecot.users["carol"])
    client.dele(1)
    client.quit()
