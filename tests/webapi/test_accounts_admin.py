"""Account administration over the real webapi, against a localserve of
two processes (SMTP in the delivery process, IMAP and the webapi in the
front): an account made with AccountCreate takes mail and logins at once,
a password set takes effect at once, AccountPurge empties the mailboxes,
AccountDelete leaves nothing behind, and an account made again under the
same name starts empty."""

from __future__ import annotations

import imaplib
import json
import os
import smtplib
import time

import httpx
import pytest

from moxpy import config as configlib
from moxpy.store.pg.accounts import schema_name

from .. import queuehelp, storehelp
from ..localserve import ADDRESS, ADMIN, PASSWORD, LocalServer, children
from ..serverdbhelp import execute

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LocalServer(str(tmp_path_factory.mktemp("accounts")), lambda c: setattr(c, "Processes", 2)).start()
    assert len(children(srv.proc.pid)) == 1, "expected a server of two processes"
    yield srv
    srv.stop()


def admin(server, method: str, request: dict) -> httpx.Response:
    return server.call(method, request, **ADMIN)


def create(server, name: str, password: str) -> dict:
    response = admin(server, "AccountCreate", {"Name": name, "Password": password})
    assert response.status_code == 200, response.text
    return response.json()


def error(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    return body["Code"], body["Message"]


def deliver(server, rcpt: str, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as smtp:
        smtp.sendmail("someone@example.org", [rcpt], f"From: someone@example.org\r\nTo: {rcpt}\r\n"
                      f"Subject: {subject}\r\n\r\nhello\r\n".encode())


def stored(server, account: str) -> list[dict]:
    return storehelp.messages(server.config.data_dir(), account, server.config)


def wait_stored(server, account: str, subject: str) -> dict:
    return server.wait_for(lambda: next((m for m in stored(server, account) if m["subject"] == subject), None))


def imap_login(server, user: str, password: str) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", server.ports["IMAP"], timeout=10)
    imap.login(user, password)
    return imap


def imap_refused(server, user: str, password: str) -> bool:
    imap = imaplib.IMAP4("127.0.0.1", server.ports["IMAP"], timeout=10)
    try:
        imap.login(user, password)
    except imaplib.IMAP4.error:
        return True
    finally:
        imap.shutdown()
    return False


def exists(imap: imaplib.IMAP4, mailbox: str = "INBOX") -> int:
    status, data = imap.select(mailbox)
    assert status == "OK", data
    return int(data[0])


def account_files(server, account: str) -> list[str]:
    """Every file under the account's directory, relative to it (SQLite)."""
    top = os.path.join(server.config.data_dir(), "accounts", account)
    return [os.path.relpath(os.path.join(d, f), top) for d, _, files in os.walk(top) for f in files]


def stored_bytes(server, account: str) -> int:
    """Of how many messages the account's storage keeps bytes: its message files on SQLite, the messages
    with rows of message_contents in its schema on PostgreSQL."""
    if server.config.Storage != "postgresql":
        return len([f for f in account_files(server, account) if f.startswith("msg" + os.sep)])
    if storage_name(server, account) not in account_storages(server):
        return 0
    contents = f"{schema_name(account)}.message_contents"
    [(count,)] = execute(server.config, f"select count(distinct message_id) from {contents}")
    return count


def storage_name(server, account: str) -> str:
    """What holds the account's storage: its directory under data/accounts, or its PostgreSQL schema."""
    return schema_name(account) if server.config.Storage == "postgresql" else account


def account_storages(server) -> list[str]:
    """Every entry of data/accounts (SQLite), or every schema of accounts in the database (PostgreSQL)."""
    if server.config.Storage == "postgresql":
        return [name for (name,) in execute(server.config, "select nspname from pg_namespace")
                if name.startswith("account_")]
    top = os.path.join(server.config.data_dir(), "accounts")
    return os.listdir(top) if os.path.exists(top) else []


def test_a_created_account_works_at_once_over_smtp_imap_and_the_webapi(server):
    assert create(server, "alice", "alice-secret-1") == {"Name": "alice", "Address": "alice@localhost"}
    assert admin(server, "AccountExists", {"Name": "alice@localhost"}).json() == {"Found": True}

    deliver(server, "alice@localhost", "first for alice")
    wait_stored(server, "alice", "first for alice")
    imap = imap_login(server, "alice@localhost", "alice-secret-1")
    try:
        assert exists(imap) == 1
    finally:
        imap.logout()

    response = server.call("Send", {"To": [{"Address": "alice@localhost"}], "Subject": "sent by alice", "Text": "hi"},
                           user="alice@localhost", password="alice-secret-1")
    assert response.status_code == 200, response.text
    assert wait_stored(server, "alice", "sent by alice")["mailbox"] == "Inbox"
    # None of it reached the default account.
    assert not [m for m in stored(server, "mox") if "alice" in m["subject"]]


def test_an_address_as_name_names_the_account(server):
    assert create(server, "Carol.Jones@LOCALHOST", "carol-secret-1") == {
        "Name": "Carol.Jones@localhost", "Address": "Carol.Jones@localhost"}
    deliver(server, "carol.jones@localhost", "for carol")
    wait_stored(server, "Carol.Jones@localhost", "for carol")
    imap = imap_login(server, "Carol.Jones@localhost", "carol-secret-1")
    imap.logout()
    # The other methods take the address as well as the account's name.
    assert admin(server, "AccountUnreadCount", {"Name": "carol.jones@localhost"}).json() == {"Unread": 1}


def test_existing_accounts_and_addresses_are_account_exists(server):
    create(server, "dup", "dup-secret-1")
    for name in ("dup", "dup@localhost", "DUP@localhost", "mox", "mox@localhost"):
        code, message = error(admin(server, "AccountCreate", {"Name": name, "Password": "whatever-123"}))
        assert code == "accountExists", (name, message)
    assert [m for m in queuehelp.queued(server, account="dup")] == []


def test_bad_requests_are_user_errors_saying_why(server):
    code, message = error(admin(server, "AccountCreate", {"Name": "dave@example.org", "Password": "dave-secret-1"}))
    assert code == "user" and "example.org" in message and "not configured" in message
    code, message = error(admin(server, "AccountCreate", {"Name": "dave", "Password": "short"}))
    assert code == "user" and "at least 8 characters" in message
    code, message = error(admin(server, "AccountCreate", {"Name": "dave", "Password": ""}))
    assert code == "user" and "password" in message
    code, message = error(admin(server, "AccountCreate", {"Name": "../dave", "Password": "dave-secret-1"}))
    assert code == "user" and "invalid account name" in message
    code, message = error(admin(server, "AccountCreate", {"Name": "", "Password": "dave-secret-1"}))
    assert code == "user"
    for method in ("AccountSetPassword", "AccountDelete", "AccountPurge", "AccountUnreadCount"):
        code, _ = error(admin(server, method, {"Name": "nobody", "Password": "nobody-secret"}
                              if method == "AccountSetPassword" else {"Name": "nobody"}))
        assert code == "accountNotFound", method
    response = admin(server, "AccountCreate", '{"Name": "dave", "Password": 12345678}')
    assert error(response)[0] == "protocol"
    assert admin(server, "AccountExists", {"Name": "dave"}).json() == {"Found": False}
    assert storage_name(server, "dave") not in account_storages(server)


def test_a_name_without_domain_needs_default_domain(server):
    path = server.config.path
    config = configlib.load(path)
    config.DefaultDomain = ""
    configlib.save(config)
    try:
        code, message = error(admin(server, "AccountCreate", {"Name": "erwin", "Password": "erwin-secret-1"}))
        assert code == "user" and "DefaultDomain" in message
        # A full address needs none.
        assert create(server, "erwin@localhost", "erwin-secret-1")["Address"] == "erwin@localhost"
    finally:
        config = configlib.load(path)
        config.DefaultDomain = "localhost"
        configlib.save(config)


def test_set_password_takes_effect_at_once(server):
    create(server, "frank", "frank-secret-1")
    imap_login(server, "frank@localhost", "frank-secret-1").logout()
    response = admin(server, "AccountSetPassword", {"Name": "frank", "Password": "frank-secret-2"})
    assert response.status_code == 200, response.text
    assert imap_refused(server, "frank@localhost", "frank-secret-1")
    imap_login(server, "frank@localhost", "frank-secret-2").logout()
    code, message = error(admin(server, "AccountSetPassword", {"Name": "frank@localhost", "Password": "1234567"}))
    assert code == "user" and "at least 8 characters" in message
    imap_login(server, "frank@localhost", "frank-secret-2").logout()


def test_unread_count_leaves_out_seen_trash_and_junk(server):
    create(server, "gina", "gina-secret-1")
    for subject in ("one", "two", "three", "four"):
        deliver(server, "gina@localhost", subject)
        wait_stored(server, "gina", subject)
    assert admin(server, "AccountUnreadCount", {"Name": "gina"}).json() == {"Unread": 4}
    imap = imap_login(server, "gina@localhost", "gina-secret-1")
    try:
        exists(imap)
        assert imap.store("1", "+FLAGS", "(\\Seen)")[0] == "OK"
        assert imap.copy("2", "Junk")[0] == "OK"
        assert imap.copy("3", "Trash")[0] == "OK"
        assert imap.store("2:3", "+FLAGS", "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
    finally:
        imap.logout()
    # Left unread outside Trash and Junk: "four".
    assert admin(server, "AccountUnreadCount", {"Name": "gina@localhost"}).json() == {"Unread": 1}


def test_purge_empties_every_mailbox_and_keeps_them(server):
    create(server, "hank", "hank-secret-1")
    imap = imap_login(server, "hank@localhost", "hank-secret-1")
    try:
        assert imap.create("Projects")[0] == "OK"
        assert imap.append("Projects", "", imaplib.Time2Internaldate(time.time()),
                           b"Subject: kept in projects\r\n\r\nhi\r\n")[0] == "OK"
        for subject in ("purge one", "purge two"):
            deliver(server, "hank@localhost", subject)
            wait_stored(server, "hank", subject)
        cursor = server.call("ChangesSince", {}, user="hank@localhost", password="hank-secret-1").json()["NextCursor"]
        assert exists(imap) == 2
        assert stored_bytes(server, "hank") == 3

        response = admin(server, "AccountPurge", {"Name": "hank"})
        assert response.status_code == 200, response.text
        assert response.json() == {"Removed": 3}

        # The selected session hears of the expunges at its next command.
        status, _ = imap.noop()
        assert status == "OK"
        assert imap.response("EXPUNGE")[1][0] is not None
        assert exists(imap) == 0
        assert exists(imap, "Projects") == 0
    finally:
        imap.logout()
    mailboxes = server.call("MailboxList", {}, user="hank@localhost", password="hank-secret-1").json()["Mailboxes"]
    assert "Projects" in [m["Name"] for m in mailboxes]
    assert all(m["Total"] == 0 for m in mailboxes), mailboxes
    assert stored_bytes(server, "hank") == 0
    changes = server.call("ChangesSince", {"Cursor": cursor}, user="hank@localhost",
                          password="hank-secret-1").json()["Changes"]
    assert sorted(c["Event"] for c in changes) == ["messageDeleted"] * 3
    # It still takes mail.
    deliver(server, "hank@localhost", "after purge")
    wait_stored(server, "hank", "after purge")
    assert admin(server, "AccountUnreadCount", {"Name": "hank"}).json() == {"Unread": 1}


def test_delete_leaves_nothing_and_the_name_starts_afresh(server):
    create(server, "ivan", "ivan-secret-1")
    ivan = dict(user="ivan@localhost", password="ivan-secret-1")
    # An incoming webhook to nowhere, so that the account has webhooks waiting to be retried.
    path = server.config.path
    config = configlib.load(path)
    config.Accounts["ivan"].IncomingWebhook = configlib.IncomingWebhook(URL="http://127.0.0.1:9/nowhere")
    configlib.save(config)
    deliver(server, "ivan@localhost", "for ivan")
    wait_stored(server, "ivan", "for ivan")
    server.wait_for(lambda: queuehelp.webhooks(server, account="ivan"))
    # A message that stays in the queue (our listener answers 451 to it), a suppression and a token.
    response = server.call("Send", {"To": [{"Address": "stuck-temperror@localhost"}], "Text": "hi"}, **ivan)
    assert response.status_code == 200, response.text
    server.wait_for(lambda: [e for e in queuehelp.queued(server, account="ivan") if e.attempts >= 1])
    assert server.call("SuppressionAdd", {"EmailAddress": "nope@example.org"}, **ivan).status_code == 200
    token = server.call("TokenCreate", {"Scopes": ["read"]}, **ivan).json()["Token"]
    assert _bearer(server, token).status_code == 200
    imap = imap_login(server, "ivan@localhost", "ivan-secret-1")
    exists(imap)

    response = admin(server, "AccountDelete", {"Name": "ivan@localhost"})
    assert response.status_code == 200, response.text

    # The open IMAP session is told BYE.
    imap.sock.settimeout(10)
    rest = b""
    while chunk := imap.sock.recv(4096):
        rest += chunk
    assert b"* BYE" in rest, rest
    imap.shutdown()
    assert [e for e in account_storages(server) if "ivan" in e or e.startswith(".")] == []
    assert queuehelp.queued(server, account="ivan") == []
    assert queuehelp.retired_entries(server, account="ivan") == []
    assert queuehelp.webhooks(server, account="ivan") == []
    assert queuehelp.retired_webhooks(server, account="ivan") == []
    db = queuehelp._database(server)
    assert db.queue.suppressions("ivan") == []
    assert db.tokens.list("ivan") == []
    assert admin(server, "AccountExists", {"Name": "ivan"}).json() == {"Found": False}
    assert imap_refused(server, "ivan@localhost", "ivan-secret-1")
    assert server.call("MailboxList", {}, **ivan).status_code == 401
    assert _bearer(server, token).status_code == 401
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("ivan@localhost", "ivan-secret-1")
    # Mail to the address no longer goes to the account: localserve hands unknown addresses to its
    # first account, and nothing of the old account's storage comes back.
    deliver(server, "ivan@localhost", "after delete")
    wait_stored(server, "mox", "after delete")
    assert [e for e in account_storages(server) if "ivan" in e] == []
    code, _ = error(admin(server, "AccountDelete", {"Name": "ivan"}))
    assert code == "accountNotFound"

    # Made again: empty, and working in both processes.
    create(server, "ivan", "ivan-secret-2")
    mailboxes = server.call("MailboxList", {}, user="ivan@localhost", password="ivan-secret-2").json()["Mailboxes"]
    assert sum(m["Total"] for m in mailboxes) == 0, mailboxes
    assert _bearer(server, token).status_code == 401
    deliver(server, "ivan@localhost", "for the new ivan")
    assert wait_stored(server, "ivan", "for the new ivan")["id"] == 1
    imap = imap_login(server, "ivan@localhost", "ivan-secret-2")
    try:
        assert exists(imap) == 1
    finally:
        imap.logout()
    assert [m["subject"] for m in stored(server, "ivan")] == ["for the new ivan"]
    assert queuehelp.queued(server, account="ivan") == []


def test_delete_finishes_what_account_del_left(server):
    create(server, "judy", "judy-secret-1")
    deliver(server, "judy@localhost", "for judy")
    wait_stored(server, "judy", "for judy")
    out = queuehelp.mox(server, "account", "del", "judy", "-config", server.config.path)
    assert "its mail stays" in out.stdout
    assert storage_name(server, "judy") in account_storages(server)
    # Its old mail is not handed to a new account of the name...
    code, message = error(admin(server, "AccountCreate", {"Name": "judy", "Password": "judy-secret-2"}))
    assert code == "user" and "still holds the mail" in message
    # ...until AccountDelete removes it.
    assert admin(server, "AccountDelete", {"Name": "judy"}).status_code == 200
    assert storage_name(server, "judy") not in account_storages(server)
    create(server, "judy", "judy-secret-2")
    assert stored(server, "judy") == []


def test_delete_takes_the_accounts_fetch_rules_and_oauth_clients(server):
    create(server, "kim", "kim-secret-1")
    rule = {"Account": "kim", "Protocol": "pop3", "Host": "127.0.0.1", "Port": 9, "TLS": "none", "Username": "kim",
            "Password": "remote-secret", "IntervalSeconds": 3600}
    assert admin(server, "FetchRuleAdd", rule).status_code == 200
    out = queuehelp.mox(server, "client", "add", "kim", "-scope", "read", "-config", server.config.path)
    assert out.returncode == 0, out.stderr
    client_id = out.stdout.split()[0]
    assert client_id.startswith("mxc_"), out.stdout
    secret = out.stdout.splitlines()[-1]

    assert admin(server, "AccountDelete", {"Name": "kim"}).status_code == 200
    # A new account of the same name inherits neither the old one's remote mailboxes nor its clients.
    create(server, "kim", "kim-secret-2")
    assert admin(server, "FetchRuleList", {"Account": "kim"}).json()["Rules"] == []
    listed = queuehelp.mox(server, "client", "list", "-config", server.config.path).stdout
    assert client_id not in listed
    token = httpx.post(server.base_url.rsplit("/webapi/", 1)[0] + "/oauth/token", auth=(client_id, secret),
                       data={"grant_type": "client_credentials"}, timeout=30)
    assert token.status_code == 401 and token.json()["error"] == "invalid_client"


def rcpt_code(server, rcpt: str) -> int:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("someone@example.org")
        return smtp.rcpt(rcpt)[0]


def test_smtp_refuses_the_addresses_of_a_deleted_account(new_server):
    # Outside localserve, where unknown addresses are refused rather than handed to the first account.
    srv = new_server(lambda c: setattr(c, "Localserve", False)).start()
    create(srv, "kate", "kate-secret-1")
    assert rcpt_code(srv, "kate@localhost") == 250
    assert admin(srv, "AccountDelete", {"Name": "kate"}).status_code == 200
    assert rcpt_code(srv, "kate@localhost") == 550
    assert rcpt_code(srv, ADDRESS) == 250


def test_only_an_admin_credential_administers_accounts(server):
    token = server.call("TokenCreate", {"Scopes": ["read", "send", "modify", "tokens"]}).json()["Token"]
    for method, request in (("AccountCreate", {"Name": "mallory", "Password": "mallory-secret"}),
                            ("AccountSetPassword", {"Name": "mox", "Password": "mallory-secret"}),
                            ("AccountDelete", {"Name": "mox"}), ("AccountPurge", {"Name": "mox"}),
                            ("AccountUnreadCount", {"Name": "mox"})):
        for response in (server.call(method, request), _bearer(server, token, method, request)):
            assert response.status_code == 403, (method, response.text)
            assert response.json()["Code"] == "permissionDenied"
    assert admin(server, "AccountExists", {"Name": "mallory"}).json() == {"Found": False}
    imap_login(server, ADDRESS, PASSWORD).logout()


def test_no_password_is_logged(server):
    # Last in the module: every password the tests above used.
    time.sleep(0.3)  # the last lines reach the reader
    log = "".join(server.output)
    for password in ("alice-secret-1", "carol-secret-1", "frank-secret-1", "frank-secret-2", "gina-secret-1",
                     "hank-secret-1", "ivan-secret-1", "ivan-secret-2", "judy-secret-1", "dave-secret-1",
                     "mallory-secret"):
        assert password not in log, password
    assert "account deleted account=ivan" in log
    # The delivery process, which had the account open for the deliveries, closed it before the files went.
    closed = log.index("account closed for its deletion account=ivan process=delivery")
    assert closed < log.index("account deleted account=ivan")
    assert "Traceback" not in log, log


def _bearer(server, token: str, method: str = "MailboxList", request: dict | None = None) -> httpx.Response:
    return httpx.post(server.base_url + method, data={"request": json.dumps(request or {})},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
