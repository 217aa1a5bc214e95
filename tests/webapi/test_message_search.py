"""MessageSearch over real HTTP: each criterion alone and together, words
found by full-text search (prefixes, phrases, any case and accents),
the mailboxes an empty Mailbox covers, paging through results, and
search text meant to break the query, which is searched for or refused
with code user, never a server error."""

import itertools

import pytest

from ..imapclient import login
from ..localserve import LocalServer
from .mailboxhelp import Mailbox, compose, deliver_smtp, error, page

_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LocalServer(str(tmp_path_factory.mktemp("messagesearch"))).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def corpus(server):
    """A mailbox of varied messages, by name."""
    box = Mailbox(server, "Corpus")
    found = {
        "invoice": box.append(compose("Invoice 2024-117 for March", "Dear customer, your invoice is attached.",
                                      sender='"Billing Dept" <billing@shop.example>', to="ann@example.org",
                                      attachment=b"%PDF-1.4", message_id="<inv-117@shop.example>"),
                              flags="\\Seen", minute=1),
        "meeting": box.append(compose("Meeting on Friday", "Can we meet at the café near the station?",
                                      sender="Carl Jones <carl@example.net>", to="ann@example.org",
                                      cc="dora@example.com"), flags="\\Flagged", minute=2),
        "newsletter": box.append(compose("Weekly news", None, html="<p>Our <b>newsletter</b>: élan and invoices</p>"
                                         "<script>var secret = 'hidden';</script>",
                                         sender="news@list.example", to="subscribers@list.example"),
                                 minute=3),
        "reply": box.append(compose("Re: Meeting on Friday", "Friday works. See you at the cafe.",
                                    sender="ann@example.org", to="Carl Jones <carl@example.net>",
                                    headers={"In-Reply-To": "<meeting@example.net>"}),
                            flags="\\Seen \\Answered project-x", minute=4),
        "big": box.append(compose("Photos", "The holiday photos. " + "x" * 20000, sender="dora@example.com",
                                  to="ann@example.org", attachment=b"\x00" * 30000),
                          minute=5),
    }
    yield box, found
    box.close()


def search(server, **request) -> list[int]:
    return [m["MsgID"] for m in page(server, "MessageSearch", **dict({"Mailbox": "Corpus"}, **request))["Messages"]]


def names(found: dict, *which: str) -> list[int]:
    """The MsgIDs of messages by name, newest first as results come."""
    return sorted((found[w] for w in which), reverse=True)


@pytest.mark.parametrize("criterion, expected", [
    ({"From": "billing"}, ["invoice"]),
    ({"From": "Billing Dept"}, ["invoice"]),
    ({"From": "carl@example.net"}, ["meeting"]),
    ({"From": "example.net"}, ["meeting"]),
    ({"To": "carl"}, ["reply"]),
    ({"To": "dora@example.com"}, ["meeting"]),  # Cc counts
    ({"Subject": "meeting"}, ["meeting", "reply"]),
    ({"Subject": "invo"}, ["invoice"]),  # a word is a prefix
    ({"Subject": '"Meeting on Friday"'}, ["meeting", "reply"]),
    ({"Subject": '"on meeting"'}, []),  # a phrase keeps its order
    ({"Subject": '"invo"'}, []),  # and is whole words
    ({"Body": "cafe"}, ["meeting", "reply"]),  # café: accents do not matter
    ({"Body": "CAFÉ station"}, ["meeting"]),  # every word must occur
    ({"Body": "newsletter"}, ["newsletter"]),  # HTML made text
    ({"Body": "hidden"}, []),  # but not its scripts
    ({"Body": "Friday"}, ["reply"]),  # the subject is not the body
    ({"Text": "Friday"}, ["meeting", "reply"]),
    ({"Text": "shop.example"}, ["invoice"]),
    ({"Text": "invoice"}, ["invoice", "newsletter"]),  # subject, body and "invoices" in HTML
    ({"Flags": ["\\Seen"]}, ["invoice", "reply"]),
    ({"Flags": ["\\seen", "\\answered"]}, ["reply"]),
    ({"Flags": ["Project-X"]}, ["reply"]),
    ({"NotFlags": ["\\Seen"]}, ["meeting", "newsletter", "big"]),
    ({"NotFlags": ["project-x", "\\Flagged"]}, ["invoice", "newsletter", "big"]),
    ({"Unread": True}, ["meeting", "newsletter", "big"]),
    ({"Unread": False}, ["invoice", "reply"]),
    ({"Flagged": True}, ["meeting"]),
    ({"Flagged": False}, ["invoice", "newsletter", "reply", "big"]),
    ({"HasAttachments": True}, ["invoice", "big"]),
    ({"HasAttachments": False}, ["meeting", "newsletter", "reply"]),
    ({"LargerThan": 20000}, ["big"]),
    ({"SmallerThan": 20000}, ["invoice", "meeting", "newsletter", "reply"]),
    ({"MessageID": "<inv-117@shop.example>"}, ["invoice"]),
    ({"MessageID": "inv-117@shop.example"}, ["invoice"]),
    ({"Since": "2025-01-01T00:03:00Z"}, ["newsletter", "reply", "big"]),
    ({"Before": "2025-01-01T00:03:00Z"}, ["invoice", "meeting"]),
    ({"Since": "2025-01-01T00:02:00+00:00", "Before": "2025-01-01T01:04:00+01:00"}, ["meeting", "newsletter"]),
    ({}, ["invoice", "meeting", "newsletter", "reply", "big"]),
])
def test_each_criterion(server, corpus, criterion, expected):
    _, found = corpus
    assert search(server, **criterion) == names(found, *expected)


def test_criteria_together(server, corpus):
    _, found = corpus
    assert search(server, Subject="meeting", Unread=False) == names(found, "reply")
    assert search(server, Text="cafe", From="carl", Flagged=True) == names(found, "meeting")
    assert search(server, To="ann", HasAttachments=True, SmallerThan=20000) == names(found, "invoice")
    assert search(server, Body="photos", Since="2025-01-01T00:05:00Z", LargerThan=1000) == names(found, "big")
    assert search(server, From="billing", Subject="meeting") == []


def test_results_come_in_pages_with_a_cursor(server, corpus):
    _, found = corpus
    first = page(server, "MessageSearch", Mailbox="Corpus", To="ann", PageSize=2)
    assert (first["Total"], first["Pages"], [m["MsgID"] for m in first["Messages"]]) == \
        (3, 2, names(found, "invoice", "meeting", "big")[:2])
    rest = page(server, "MessageSearch", Mailbox="Corpus", To="ann", PageSize=2, Cursor=first["NextCursor"])
    assert ([m["MsgID"] for m in rest["Messages"]], rest["Page"], rest["NextCursor"]) == \
        (names(found, "invoice"), 2, "")


def test_empty_mailbox_searches_all_but_trash_and_junk(server):
    imap = login(server)
    try:
        word = "zebracrossing"
        for mailbox in ("Inbox", "Archive", "Trash", "Junk"):
            status, _ = imap.append(mailbox, None, None, compose(f"{word} in {mailbox}", "words"))
            assert status == "OK"
        # Special use decides, not the name: a Trash renamed is still left out, a mailbox named Junk2 is not.
        assert imap.rename("Trash", "Bin")[0] == "OK"
        imap.create("Junk2")
        imap.append("Junk2", None, None, compose(f"{word} in Junk2", "words"))
    finally:
        imap.logout()
    everywhere = page(server, "MessageSearch", Subject=word)
    assert sorted(m["MailboxName"] for m in everywhere["Messages"]) == ["Archive", "Inbox", "Junk2"]
    only_trash = page(server, "MessageSearch", Mailbox="Bin", Subject=word)
    assert [m["MailboxName"] for m in only_trash["Messages"]] == ["Bin"]
    assert error(server, "MessageSearch", Mailbox="Nowhere", Subject=word)["Code"] == "user"


def test_new_mail_is_found_at_once(server):
    deliver_smtp(server, compose("quarterly figures", "the numbers are up", sender="cfo@example.org"))
    found = server.wait_for(lambda: page(server, "MessageSearch", Text="quarterly cfo")["Messages"])
    assert found[0]["Subject"] == "quarterly figures"
    page(server, "MessageDelete", MsgID=found[0]["MsgID"])
    assert page(server, "MessageSearch", Text="quarterly cfo")["Messages"] == []


HOSTILE = ['"foo', "a OR", "OR", "AND", "NOT", "NOT a", "a NOT", "-a", "- a", "a -", "*", "a*", "*a", "^a", "a:b",
           "subject:foo", "{body}: a", "(a", "a)", "()", "NEAR(a b)", "NEAR(a", '"', '""', '"""', 'a"b"c', "'a'",
           "a; drop table messages", "%", "_", "\\", "\x00", "\x1b[31m", "☺", "a" * 10000, "ä" * 3000,
           " ".join(["w"] * 64), "col:", ":", "+a", "a + b"]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("field", ["Text", "Body", "From", "To", "Subject"])
def test_hostile_search_text_is_searched_for_or_refused_as_the_users_fault(server, corpus, field, text):
    response = server.call("MessageSearch", {"Mailbox": "Corpus", field: text})
    if response.status_code == 200:
        assert isinstance(response.json()["Messages"], list)
    else:
        assert response.status_code == 400, response.text
        assert response.json()["Code"] == "user", response.text


def test_search_text_without_words_and_bad_values_are_refused(server, corpus):
    for request in [{"Text": "*"}, {"Body": '""'}, {"From": "☺"}, {"Subject": " ".join(["w"] * 65)},
                    {"Flags": ["\\Bogus"]}, {"NotFlags": ["a b"]}, {"LargerThan": -1}, {"PageSize": 5000}]:
        found = error(server, "MessageSearch", Mailbox="Corpus", **request)
        assert found["Code"] == "user" and found["Message"], (request, found)


def test_operators_are_plain_words(server, corpus):
    _, found = corpus
    # "a OR b" is not a disjunction: all three words must occur, "or" among them, which no message has.
    assert search(server, Body="cafe OR invoice") == []
    assert search(server, Body='"cafe"') == names(found, "meeting", "reply")
    assert search(server, Body='-cafe') == names(found, "meeting", "reply")
    assert search(server, Body='"near the station') == names(found, "meeting")  # an unclosed quote runs to the end
