import email.header

import pytest

from moxpy.message import headerwriter as hw
from moxpy.message.address import parse_address


def decoded(field: str) -> str:
    value = field.split(":", 1)[1].replace("\r\n", "")
    return str(email.header.make_header(email.header.decode_header(value)))


@pytest.mark.parametrize("text", ["é" * 1000, "é " * 500, "Grüße aus Köln, mixed with ASCII words", "日本語" * 100])
def test_unstructured_text_folds_within_78_and_decodes_back(text):
    field = hw.field("Subject", hw.unstructured(text, utf8=False, encode_long=True))
    lines = field.rstrip("\r\n").split("\r\n")
    assert all(len(line) <= 78 and line.isascii() for line in lines)
    assert all(line.strip() for line in lines)  # RFC 5322 3.2.2: no line of only whitespace
    assert decoded(field) == text


def test_encoded_words_do_not_split_characters():
    for word in hw.encoded_words("€" * 100):
        assert len(word) <= 75  # RFC 2047 2
        email.header.decode_header(word)[0][0].decode("utf-8")  # each decodes on its own


def test_long_ascii_word_is_encoded_only_when_asked():
    word = "a" * 2000
    assert hw.unstructured(word, utf8=False, encode_long=False) == [word]
    field = hw.field("Subject", hw.unstructured(word, utf8=False, encode_long=True))
    assert max(len(line) for line in field.split("\r\n")) <= 78 and decoded(field) == word


def test_utf8_headers_keep_text_as_it_is():
    assert hw.field("Subject", hw.unstructured("Grüße", utf8=True, encode_long=True)) == "Subject: Grüße\r\n"


def test_runs_of_spaces_never_make_a_whitespace_only_line():
    field = hw.field("X-Spaces", hw.unstructured("word" + " " * 200 + "end ", utf8=False, encode_long=False))
    assert all(line.strip() for line in field.rstrip("\r\n").split("\r\n"))
    assert field.replace("\r\n", "") == "X-Spaces: word" + " " * 200 + "end "


@pytest.mark.parametrize("name,expected", [
    ("Bob Smith", "To: Bob Smith <bob@example.org>\r\n"),
    ('Doe, "J"', 'To: "Doe, \\"J\\"" <bob@example.org>\r\n'),
    ("", "To: bob@example.org\r\n"),
])
def test_address_display_names(name, expected):
    assert hw.field("To", hw.address_list([(name, parse_address("bob@example.org"))], utf8=False)) == expected


def test_localpart_that_is_not_a_dot_atom_is_quoted():
    assert hw.addr_spec(parse_address('"a b"@example.org'), utf8=False) == '"a b"@example.org'
