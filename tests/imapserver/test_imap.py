"""IMAP with real clients (imaplib and a raw socket): login, mailboxes,
FETCH of every item byte-exact with the stored file, STORE, COPY, MOVE,
EXPUNGE, SEARCH, APPEND, IDLE, and changes made through the webapi or
SMTP showing up live in IMAP sessions (and the other way around)."""

import base64
import imaplib
import os
import re
import shutil
import smtplib
import ssl
import subprocess

import pytest

from ..imapclient import Raw, login
from ..localserve import ADDRESS, PASSWORD

MULTIPART = (
    b"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.org>\r\n"
    b"To: mox@localhost, \"Other Person\" <other@example.com>\r\n"
    b"Cc: cc@example.com\r\n"
    b"Subject: report \xc3\xbcber alles\r\n"  # raw UTF-8 in a header, as some mailers send
    b"Message-ID: <multi-1@example.org>\r\n"
    b"Date: Mon, 02 Jan 2023 10:00:00 +0100\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"the body text with a needle\r\n"
    b"second line\r\n"
    b"--b1\r\n"
    b"Content-Type: application/pdf; name=\"r\xc3\xa9sum\xc3\xa9.pdf\"\r\n"
    b"Content-Disposition: attachment; filename=\"r\xc3\xa9sum\xc3\xa9.pdf\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--b1--\r\n"
)


def deliver(server, data: bytes, rcpt: str = "mox@localhost") -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
        smtp.sendmail("sender@example.org", [rcpt], data)


def simple(subject: str, body: str = "hello") -> bytes:
    return f"From: sender@example.org\r\nTo: mox@localhost\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()


def row_by_subject(server, subject: str) -> dict:
    return server.wait_for(lambda: next((r for r in server.messages() if r["subject"] == subject), None))


def fetch_one(client, uid: int, items: str):
    typ, data = client.uid("FETCH", str(uid), items)
    assert typ == "OK", data
    return data


@pytest.fixture(scope="module")
def multipart(server):
    deliver(server, MULTIPART)
    return server.wait_for(lambda: next((r for r in server.messages() if r["message_id"] == "<multi-1@example.org>"), None))


def test_greeting_capabilities_and_logins(server):
    raw = Raw(server.ports["IMAP"])
    assert raw.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 ")
    caps = raw.greeting.split(b"]")[0].split()[2:]
    for cap in (b"IDLE", b"NAMESPACE", b"ID", b"UIDPLUS", b"MOVE", b"UNSELECT", b"ENABLE", b"LITERAL+",
                b"SPECIAL-USE", b"SASL-IR", b"AUTH=PLAIN", b"STARTTLS"):
        assert cap in caps, cap
    _, tagged = raw.command(b"LOGIN mox@localhost wrongpassword")
    assert tagged.split()[1:3] == [b"NO", b"[AUTHENTICATIONFAILED]"]
    # SASL-IR: AUTHENTICATE PLAIN with the initial response on the command line.
    ir = base64.b64encode(b"\0" + ADDRESS.encode() + b"\0" + PASSWORD.encode())
    _, tagged = raw.command(b"AUTHENTICATE PLAIN " + ir)
    assert b" OK " in tagged
    raw.close()

    # And without: the response on its own line after a continuation.
    raw = Raw(server.ports["IMAP"])
    tag = raw.tag()
    raw.send(tag + b" AUTHENTICATE PLAIN\r\n")
    assert raw.line().startswith(b"+")
    raw.send(ir + b"\r\n")
    _, tagged = raw.until(tag)
    assert b" OK " in tagged
    raw.close()

    # A password with a quote and a backslash, sent as a quoted string with escapes, is checked as such.
    raw = Raw(server.ports["IMAP"])
    _, tagged = raw.command(b'LOGIN "mox@localhost" "pass\\"wo\\\\rd"')
    assert b" NO " in tagged
    raw.close()


def test_starttls_and_imaps(server):
    context = ssl._create_unverified_context()
    client = imaplib.IMAP4("127.0.0.1", server.ports["IMAP"])
    client.starttls(context)
    assert "STARTTLS" not in client.capabilities
    assert client.login(ADDRESS, PASSWORD)[0] == "OK"
    client.logout()
    client = imaplib.IMAP4_SSL("127.0.0.1", server.ports["IMAPS"], ssl_context=context)
    assert client.login(ADDRESS, PASSWORD)[0] == "OK"
    assert client.select("INBOX")[0] == "OK"
    client.logout()


def test_list_special_use_and_mailbox_management(server):
    client = login(server)
    typ, data = client.list()
    listing = {line.rsplit(b' "/" ', 1)[1]: line for line in data}
    assert b"(\\HasNoChildren) " in listing[b"INBOX"]
    for name, attr in ((b"Sent", b"\\Sent"), (b"Trash", b"\\Trash"), (b"Drafts", b"\\Drafts"),
                       (b"Junk", b"\\Junk"), (b"Archive", b"\\Archive")):
        assert attr in listing[name], listing[name]

    # Modified UTF-7 names (RFC 3501 5.1.3) on the wire, real names in the store.
    assert client.create("Entw&APw-rfe/Alt")[0] == "OK"
    typ, data = client.list('""', "Entw*")
    assert data == [b'(\\HasChildren) "/" Entw&APw-rfe', b'(\\HasNoChildren) "/" Entw&APw-rfe/Alt']
    assert client.create("Entw&APw-rfe")[1][0].startswith(b"[ALREADYEXISTS]")
    assert client.list('""', "%")[1].count(b'(\\HasNoChildren) "/" Entw&APw-rfe/Alt') == 0

    assert client.rename("Entw&APw-rfe", "Projects")[0] == "OK"
    names = [line.rsplit(b' "/" ', 1)[1] for line in client.list()[1]]
    assert b"Projects" in names and b"Projects/Alt" in names and b"Entw&APw-rfe" not in names

    assert client.unsubscribe("Projects/Alt")[0] == "OK"
    lsub = [line.rsplit(b' "/" ', 1)[1] for line in client.lsub()[1]]
    assert b"Projects" in lsub and b"Projects/Alt" not in lsub
    assert client.subscribe("Projects/Alt")[0] == "OK"

    typ, data = client.delete("Projects")
    assert typ == "NO"  # it has children
    assert client.delete("Projects/Alt")[0] == "OK"
    assert client.delete("Projects")[0] == "OK"
    assert client.delete("INBOX")[0] == "NO"
    typ, data = client.select("Nonexistent")
    assert typ == "NO" and data[0].startswith(b"[NONEXISTENT]")
    typ, data = client.namespace()
    assert data == [b'(("" "/")) NIL NIL']
    client.logout()


def test_select_reports_uidvalidity_uidnext_permanentflags_unseen(server):
    deliver(server, simple("select me"))
    row_by_subject(server, "select me")
    client = login(server)
    typ, data = client.select("INBOX")
    assert typ == "OK"
    exists = int(data[0])
    responses = client.untagged_responses
    assert int(client.response("UIDVALIDITY")[1][0]) > 0
    uidnext = int(client.response("UIDNEXT")[1][0])
    assert uidnext > exists
    assert b"\\*" in client.response("PERMANENTFLAGS")[1][0]
    assert client.response("UNSEEN")[1][0] is not None
    del responses
    typ, data = client.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)")
    assert re.search(rb"MESSAGES %d UIDNEXT %d UIDVALIDITY \d+ UNSEEN \d+ SIZE \d+" % (exists, uidnext), data[0])
    assert client.unselect()[0] == "OK" if hasattr(client, "unselect") else True
    typ, data = client.select("INBOX", readonly=True)
    assert typ == "OK"
    assert client.response("READ-ONLY")[1] != [None]
    typ, data = client.store("1", "+FLAGS", "\\Flagged")
    assert typ == "NO"
    client.logout()


def test_fetch_items_byte_exact(server, multipart):
    client = login(server)
    client.select("INBOX")
    uid = multipart["uid"]
    raw_file = server.message_file(multipart)

    data = fetch_one(client, uid, "(BODY.PEEK[])")
    assert data[0][1] == raw_file
    assert server.call("MessageRawGet", {"MsgID": multipart["id"]}).content == raw_file

    data = fetch_one(client, uid, "(RFC822.SIZE INTERNALDATE FLAGS)")
    assert b"RFC822.SIZE %d" % len(raw_file) in data[0]
    assert re.search(rb'INTERNALDATE "\d\d-\w\w\w-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"', data[0])

    data = fetch_one(client, uid, "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.8>)")
    flat = b"".join(x[0] + x[1] if isinstance(x, tuple) else x for x in data)
    # The line break before a boundary belongs to the boundary (RFC 2046 5.1.1).
    assert b"BODY[1] {40}the body text with a needle\r\nsecond line BODY[2.MIME] {" in flat
    assert b"Content-Disposition: attachment;" in flat
    assert b"BODY[HEADER.FIELDS (SUBJECT)] {31}Subject: report \xc3\xbcber alles\r\n\r\n" in flat
    assert b"BODY[TEXT]<0> {8}preamble" in flat

    data = fetch_one(client, uid, "(ENVELOPE)")
    flat = b"".join(x[0] + x[1] if isinstance(x, tuple) else x for x in data)
    assert b'"Mon, 02 Jan 2023 10:00:00 +0100"' in flat
    assert b"report \xc3\xbcber alles" in flat
    assert b'(("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.org"))' in flat
    assert b'((NIL NIL "mox" "localhost")("Other Person" NIL "other" "example.com"))' in flat
    assert b'"<multi-1@example.org>"' in flat

    data = fetch_one(client, uid, "(BODYSTRUCTURE BODY)")
    flat = b"".join(x[0] + x[1] if isinstance(x, tuple) else x for x in data)
    assert b'BODYSTRUCTURE (("TEXT" "PLAIN" ("charset" "utf-8") NIL NIL "7BIT" 40 2 NIL NIL NIL NIL)' in flat
    assert b'"APPLICATION" "PDF"' in flat and b'"BASE64" 12' in flat
    assert b'"attachment" ("filename"' in flat
    assert b'"MIXED" ("boundary" "b1") NIL NIL NIL)' in flat
    assert b'BODY (("TEXT" "PLAIN" ("charset" "utf-8") NIL NIL "7BIT" 40 2)' in flat

    # Without PEEK, \Seen is set and the new flags are reported (with \Recent: this session saw it first).
    data = fetch_one(client, uid, "(BODY[1])")
    flat = b"".join(x[0] + x[1] if isinstance(x, tuple) else x for x in data)
    assert b"FLAGS (\\Seen \\Recent)" in flat
    meta = server.call("MessageGet", {"MsgID": multipart["id"]}).json()["Meta"]
    assert "\\seen" in meta["Flags"]
    client.logout()


def test_store_flags_both_ways(server):
    deliver(server, simple("flags both ways"))
    row = row_by_subject(server, "flags both ways")
    client = login(server)
    client.select("INBOX")
    typ, data = client.uid("STORE", str(row["uid"]), "+FLAGS", "(\\Flagged $Forwarded custom)")
    assert typ == "OK"
    assert b"FLAGS (\\Flagged $Forwarded \\Recent custom)" in data[0]
    flags = server.call("MessageGet", {"MsgID": row["id"]}).json()["Meta"]["Flags"]
    assert set(flags) == {"\\flagged", "$forwarded", "custom"}

    # A change through the webapi reaches the selected session at its next command.
    assert server.call("MessageFlagsAdd", {"MsgID": row["id"], "Flags": ["\\Answered"]}).status_code == 200
    client.noop()
    fetches = client.untagged_responses.pop("FETCH", [])
    assert any(b"UID %d FLAGS (\\Answered \\Flagged $Forwarded \\Recent custom)" % row["uid"] in f for f in fetches), fetches
    typ, data = client.uid("STORE", str(row["uid"]), "FLAGS.SILENT", "()")
    assert typ == "OK" and data == [None]
    assert server.call("MessageGet", {"MsgID": row["id"]}).json()["Meta"]["Flags"] == []
    with pytest.raises(imaplib.IMAP4.error, match="unknown system flag"):
        client.uid("STORE", str(row["uid"]), "+FLAGS", "(\\Bogus)")
    client.logout()


def test_copy_move_expunge_with_uidplus(server):
    for subject in ("cm one", "cm two", "cm three"):
        deliver(server, simple(subject))
    rows = [row_by_subject(server, s) for s in ("cm one", "cm two", "cm three")]
    client = login(server)
    client.create("CopyTarget")
    client.select("INBOX")
    uids = ",".join(str(r["uid"]) for r in rows)
    typ, data = client.uid("COPY", uids, "CopyTarget")
    assert typ == "OK"
    copyuid = client.response("COPYUID")[1][0].split()
    assert copyuid[1] == b"%d:%d" % (rows[0]["uid"], rows[2]["uid"]) and copyuid[2] == b"1:3"
    typ, data = client.uid("COPY", uids, "Missing")
    assert typ == "NO" and data[0].startswith(b"[TRYCREATE]")

    # UID MOVE: untagged COPYUID, then EXPUNGE responses; the webapi sees the new mailbox.
    typ, data = client.uid("MOVE", str(rows[0]["uid"]), "Archive")
    assert typ == "OK"
    assert client.untagged_responses.get("EXPUNGE")
    assert server.call("MessageGet", {"MsgID": rows[0]["id"]}).json()["Meta"]["MailboxName"] == "Archive"

    # EXPUNGE removes only \Deleted messages; UID EXPUNGE only those named.
    client.uid("STORE", f"{rows[1]['uid']},{rows[2]['uid']}", "+FLAGS.SILENT", "(\\Deleted)")
    typ, data = client.uid("EXPUNGE", str(rows[1]["uid"]))
    assert typ == "OK" and len(data) == 1
    assert server.call("MessageGet", {"MsgID": rows[1]["id"]}).json()["Code"] == "messageNotFound"
    assert server.call("MessageGet", {"MsgID": rows[2]["id"]}).status_code == 200
    typ, data = client.expunge()
    assert typ == "OK"
    assert server.call("MessageGet", {"MsgID": rows[2]["id"]}).json()["Code"] == "messageNotFound"

    typ, data = client.select("CopyTarget")
    assert data == [b"3"]
    client.logout()


def test_search_over_index_and_text(server, multipart):
    deliver(server, simple("search alpha", "first"))
    deliver(server, simple("search beta", "second with needle"))
    alpha, beta = row_by_subject(server, "search alpha"), row_by_subject(server, "search beta")
    client = login(server)
    client.select("INBOX")
    client.uid("STORE", str(alpha["uid"]), "+FLAGS", "(\\Flagged work)")

    def uids(*criteria, charset=None):
        typ, data = client.uid("SEARCH", *((["CHARSET", charset] if charset else []) + list(criteria)))
        assert typ == "OK", data
        return [int(x) for x in data[0].split()]

    assert uids("FLAGGED") == [alpha["uid"]]
    assert uids("KEYWORD", "work") == [alpha["uid"]]
    assert alpha["uid"] not in uids("UNFLAGGED")
    assert uids("SUBJECT", '"search"') == [alpha["uid"], beta["uid"]]
    assert uids("OR", "SUBJECT", "alpha", "SUBJECT", "beta") == [alpha["uid"], beta["uid"]]
    assert uids("SUBJECT", "search", "NOT", "FLAGGED") == [beta["uid"]]
    assert uids("BODY", "needle") == [multipart["uid"], beta["uid"]]
    assert uids("TEXT", "other@example.com") == [multipart["uid"]]
    assert uids("FROM", "joerg@example.org") == [multipart["uid"]]
    assert uids("HEADER", "Message-ID", "multi-1") == [multipart["uid"]]
    assert uids("UID", f"{alpha['uid']}:*", "SUBJECT", "search") == [alpha["uid"], beta["uid"]]
    assert uids("LARGER", str(len(server.message_file(multipart)) - 1), "SMALLER", "100000") == [multipart["uid"]]
    assert alpha["uid"] in uids("SINCE", "1-Jan-2020") and uids("BEFORE", "1-Jan-2020") == []
    assert uids("SENTON", "2-Jan-2023") == [multipart["uid"]]
    # Non-ASCII search text as a literal, decoded in the header (RFC 2047) and raw.
    client.literal = "Jörg".encode()
    typ, data = client.uid("SEARCH", "CHARSET", "UTF-8", "FROM")
    assert [int(x) for x in data[0].split()] == [multipart["uid"]]
    typ, data = client.uid("SEARCH", "CHARSET", "KOI8-R", "ALL")
    assert typ == "NO"
    typ, data = client.search(None, "ALL")
    assert len(data[0].split()) == int(client.select("INBOX")[1][0])
    with pytest.raises(imaplib.IMAP4.error, match="unknown search key"):
        client.search(None, "BOGUSKEY")
    client.logout()


def test_append_with_and_without_flags_and_date(server):
    client = login(server)
    message = b"From: a@example.org\r\nSubject: appended\r\n\r\nappended body\r\n"
    typ, data = client.append("Drafts", "(\\Draft \\Seen)", '"05-Mar-2021 14:15:16 +0000"', message)
    assert typ == "OK"
    uidvalidity, uid = (int(x) for x in client.response("APPENDUID")[1][0].split())
    client.select("Drafts")
    data = fetch_one(client, uid, "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert b"FLAGS (\\Seen \\Draft \\Recent)" in data[0][0]
    assert b'INTERNALDATE "05-Mar-2021 14:15:16 +0000"' in data[0][0] or b"05-Mar-2021" in data[0][0]
    assert data[0][1] == message
    assert client.append("Drafts", None, None, message)[0] == "OK"
    typ, data = client.append("NoSuchBox", None, None, message)
    assert typ == "NO" and data[0].startswith(b"[TRYCREATE]")
    client.logout()

    # LITERAL+: the message follows at once, without waiting for a continuation; pipelined commands after it.
    raw = Raw(server.ports["IMAP"])
    raw.login()
    body = b"Subject: literal plus\r\n\r\nx\r\n"
    raw.send(b"a1 APPEND Drafts (\\Flagged) {%d+}\r\n" % len(body) + body + b"\r\na2 NOOP\r\n")
    _, tagged = raw.until(b"a1")
    assert tagged.startswith(b"a1 OK [APPENDUID ")
    _, tagged = raw.until(b"a2")
    assert tagged.startswith(b"a2 OK")
    raw.close()


def test_idle_sees_delivery_flags_and_expunge(server):
    client = Raw(server.ports["IMAP"])
    client.login()
    client.command(b"SELECT INBOX")
    client.send(b"i1 IDLE\r\n")
    assert client.line().startswith(b"+")

    deliver(server, simple("idle delivery"))
    line = client.line()
    assert line.endswith(b" EXISTS"), line
    assert client.line().endswith(b" RECENT")
    row = row_by_subject(server, "idle delivery")
    seq = int(line.split()[1])

    assert server.call("MessageFlagsAdd", {"MsgID": row["id"], "Flags": ["\\Seen"]}).status_code == 200
    assert client.line() == b"* %d FETCH (UID %d FLAGS (\\Seen \\Recent))" % (seq, row["uid"])

    assert server.call("MessageDelete", {"MsgID": row["id"]}).status_code == 200
    assert client.line() == b"* %d EXPUNGE" % seq

    client.send(b"DONE\r\n")
    assert client.line().startswith(b"i1 OK")
    client.close()


def test_bad_input_answers_and_session_survives(server):
    raw = Raw(server.ports["IMAP"])
    raw.login()
    raw.command(b"SELECT INBOX")
    for bad in (b"FETCH 1:* (BODY[HEADER.FIELDS)", b"FETCH x FLAGS", b"STORE 1 FLAGZ (\\Seen)",
                b"SEARCH (UNSEEN", b'LIST "" "unterminated', b"BOGUS", b"UID FROB 1", b"FETCH 999999 FLAGS",
                b"CREATE /leading", b'SELECT "bad&-utf7&AAA"'):
        _, tagged = raw.command(bad)
        assert tagged.split()[1] in (b"BAD", b"NO"), (bad, tagged)
    _, tagged = raw.command(b"NOOP")
    assert b" OK " in tagged
    _, tagged = raw.command(b"ID NIL")
    assert b" OK " in tagged
    _, tagged = raw.command(b"ENABLE CONDSTORE")
    assert b" OK " in tagged
    raw.close()


def test_scenario_send_idle_bodystructure_move(server):
    """Send with an attachment via the webapi, see it arrive in IDLE, compare
    BODYSTRUCTURE with the webapi's Structure, UID MOVE it to Archive, and
    find it there with MessageGet."""
    client = Raw(server.ports["IMAP"])
    client.login()
    client.command(b"SELECT INBOX")
    client.send(b"i1 IDLE\r\n")
    assert client.line().startswith(b"+")

    pdf = base64.b64encode(b"%PDF-1.4 scenario").decode()
    result = server.call("Send", {
        "To": [{"Address": "mox@localhost"}], "Subject": "scenario", "Text": "see attachment",
        "AttachedFiles": [{"Name": "doc.pdf", "ContentType": "application/pdf", "Data": pdf}],
    })
    assert result.status_code == 200, result.text
    line = client.line()
    assert line.endswith(b" EXISTS"), line
    client.send(b"DONE\r\n")
    client.until(b"i1")

    row = row_by_subject(server, "scenario")
    untagged, tagged = client.command(b"UID FETCH %d (BODYSTRUCTURE)" % row["uid"])
    assert b" OK " in tagged
    structure = server.call("MessageGet", {"MsgID": row["id"]}).json()["Structure"]
    text = b" ".join(untagged).decode()
    # Every part the webapi lists appears in BODYSTRUCTURE, in order, with the same type.
    types = re.findall(r'\("([A-Z]+)" "([A-Z0-9.+-]+)"', text)
    leaves = []

    def walk(s):
        if s["Parts"]:
            for p in s["Parts"]:
                walk(p)
        else:
            leaves.append(s)

    walk(structure)
    assert [f"{a}/{b}".lower() for a, b in types] == [leaf["ContentType"] for leaf in leaves]
    assert structure["ContentType"] == "multipart/mixed" and '"MIXED"' in text
    assert '"filename" "doc.pdf"' in text

    untagged, tagged = client.command(b"UID MOVE %d Archive" % row["uid"])
    assert b" OK " in tagged
    assert any(line.startswith(b"* OK [COPYUID ") for line in untagged)
    assert any(line.endswith(b" EXPUNGE") for line in untagged)
    meta = server.call("MessageGet", {"MsgID": row["id"]}).json()["Meta"]
    assert meta["MailboxName"] == "Archive"
    client.close()


@pytest.mark.slow
def test_uids_stable_across_restart_and_failed_logins_throttled(new_server):
    srv = new_server().start()
    for i in range(3):
        deliver(srv, simple(f"restart {i}"))
    srv.wait_for(lambda: len(srv.messages()) == 3)
    client = login(srv)
    client.select("INBOX")
    before = (client.response("UIDVALIDITY")[1][0], client.uid("SEARCH", "ALL")[1][0])
    client.logout()
    srv.stop()
    srv.start()
    client = login(srv)
    client.select("INBOX")
    after = (client.response("UIDVALIDITY")[1][0], client.uid("SEARCH", "ALL")[1][0])
    assert after == before
    client.logout()

    # Failed logins from one address are refused unchecked after a while, even with the right password.
    raw = Raw(srv.ports["IMAP"])
    codes = []
    for _ in range(12):
        _, tagged = raw.command(b"LOGIN mox@localhost wrong")
        codes.append(tagged.split()[2])
    assert codes[0] == b"[AUTHENTICATIONFAILED]" and codes[-1] == b"[UNAVAILABLE]"
    _, tagged = raw.command(b"LOGIN mox@localhost moxmoxmox")
    assert b"[UNAVAILABLE]" in tagged
    raw.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_lists_and_fetches_over_starttls(server):
    deliver(server, simple("for curl"))
    row = row_by_subject(server, "for curl")
    cert = os.path.join(server.directory, "config", "localhost.crt")
    base = ["curl", "-sS", "--ssl-reqd", "--cacert", cert, "--user", f"{ADDRESS}:{PASSWORD}"]
    listing = subprocess.run(base + [f"imap://localhost:{server.ports['IMAP']}/"], capture_output=True, check=True)
    assert b'* LIST (\\HasNoChildren \\Sent) "/" Sent' in listing.stdout
    message = subprocess.run(base + [f"imap://localhost:{server.ports['IMAP']}/INBOX;UID={row['uid']}"],
                             capture_output=True, check=True)
    assert message.stdout == server.message_file(row)


def test_close_expunges_silently_and_unselect_does_not(server):
    deliver(server, simple("close one"))
    deliver(server, simple("close two"))
    one, two = row_by_subject(server, "close one"), row_by_subject(server, "close two")
    raw = Raw(server.ports["IMAP"])
    raw.login()
    raw.command(b"SELECT INBOX")
    raw.command(b"UID STORE %d,%d +FLAGS.SILENT (\\Deleted)" % (one["uid"], two["uid"]))
    untagged, tagged = raw.command(b"UNSELECT")
    assert b" OK " in tagged and untagged == []
    assert server.call("MessageGet", {"MsgID": one["id"]}).status_code == 200
    raw.command(b"SELECT INBOX")
    untagged, tagged = raw.command(b"CLOSE")
    assert b" OK " in tagged and not any(line.endswith(b"EXPUNGE") for line in untagged)
    assert server.call("MessageGet", {"MsgID": one["id"]}).json()["Code"] == "messageNotFound"
    assert server.call("MessageGet", {"MsgID": two["id"]}).json()["Code"] == "messageNotFound"
    _, tagged = raw.command(b"FETCH 1 FLAGS")
    assert b" BAD " in tagged  # no mailbox selected any more
    raw.close()
