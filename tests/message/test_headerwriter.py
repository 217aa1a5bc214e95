import email
import email.header
import urllib.parse
from email import policy

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


def parsed_params(field: str) -> dict:
    msg = email.message_from_string(field + "\r\n", policy=policy.default)
    name = field.split(":", 1)[0]
    return dict(msg[name].params)


@pytest.mark.parametrize("value", ["report.pdf", "with space", 'say "hi" \\ back', "Grüße.txt", "tab\there",
                                   "a" * 300, "ü" * 300, "€ and ascii " * 30, 'q"' * 100, "日本語" * 50])
def test_parameter_values_fold_within_78_and_parse_back(value):
    field = hw.field("Content-Disposition", hw.parameters("attachment", [("filename", value), ("size", "3")]))
    lines = field.rstrip("\r\n").split("\r\n")
    assert all(len(line) <= 78 and line.isascii() for line in lines)
    assert parsed_params(field) == {"filename": value, "size": "3"}


def test_parameter_sections_do_not_split_characters():
    # Each RFC 2231 section decodes on its own (RFC 2231 3 and 4).
    tokens = hw.parameters("attachment", [("filename", "€" * 100)])[1:]
    assert len(tokens) > 1
    for i, token in enumerate(tokens):
        prefix = f"filename*{i}*=" + ("utf-8''" if i == 0 else "")
        assert token.startswith(prefix)
        urllib.parse.unquote_to_bytes(token[len(prefix):].rstrip(";")).decode("utf-8")


def test_short_parameters_are_quoted_strings_on_one_line():
    assert hw.field("Content-Type", hw.parameters("text/plain", [("charset", "utf-8")])) == \
        'Content-Type: text/plain; charset="utf-8"\r\n'
    assert hw.field("Content-Type", hw.parameters("image/png", [])) == "Content-Type: image/png\r\n"
