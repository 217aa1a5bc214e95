"""Search text made FTS5 queries: words, phrases, and input that looks like
FTS5 syntax, which must stay text."""

import sqlite3

import pytest

from moxpy.store import SearchError
from moxpy.store.sqlite import fulltext


def test_words_and_phrases():
    assert fulltext.terms('invoice "on friday" bob@example.org') == \
        [("invoice", False), ("on friday", True), ("bob@example.org", False)]
    assert fulltext.terms('"unclosed phrase') == [("unclosed phrase", True)]
    assert fulltext.terms("- * ( ) \"\" ☺") == []


def test_queries_quote_every_term():
    assert fulltext.query(("subject",), 'a "b c"', "Subject") == '{subject} : ("a"* AND "b c")'
    assert fulltext.query((), 'say "hi', "Text") == '("say"* AND "hi")'
    assert fulltext.query((), 'x"y', "Text") == '("x"* AND "y")'


@pytest.mark.parametrize("text", ["*", '""', "☺ -", " "])
def test_text_without_words_is_refused(text):
    with pytest.raises(SearchError, match="no words"):
        fulltext.query((), text, "Text")


def test_too_many_terms_are_refused():
    with pytest.raises(SearchError, match="more than"):
        fulltext.query((), " ".join(["w"] * (fulltext.MAX_TERMS + 1)), "Body")


@pytest.mark.parametrize("text", ['"foo', "a OR", "NOT a", "a NOT", "NEAR(a b)", "{body}: a", "a:b", "^a", "(a",
                                  'x""y', "'; drop table t; --", "a*b", "+a"])
def test_fts5_accepts_every_query_made(text):
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table message_text using fts5(subject, from_addresses, to_addresses, body)")
    conn.execute("insert into message_text (subject, body) values ('a b', 'foo NOT or near')")
    conn.execute("select rowid from message_text where message_text match ?",
                 (fulltext.query(("body",), text, "Body"),)).fetchall()


def test_postgresql_words_are_fts5s_tokens():
    from moxpy.store.pg import fulltext as pgfulltext

    assert pgfulltext.normalize("Élan vital, BOB@example.com; x_y 42") == " elan vital bob example com x y 42 "
    assert pgfulltext.normalize("") == " "
    condition, params = pgfulltext.condition([(("subject",), 'invo "bob example"', "Subject")])
    assert condition == "(strpos(subject, ?) > 0) and (strpos(subject, ?) > 0)"
    assert params == [" invo", " bob example "]
    with pytest.raises(SearchError, match="no words"):
        pgfulltext.condition([((), "* -", "Text")])
