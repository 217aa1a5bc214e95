"""The MAIL FROM / RCPT TO argument syntax (RFC 5321 4.1.2) fed arbitrary
text: it is accepted or refused with PathError (501 to the client), never
another exception; and what it accepts reads back the same when written
out again."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moxpy.smtp.path import MAX_PATH, PathError, split_path_argument

from ..heartbeat import Heartbeat

pytestmark = pytest.mark.timing  # dev.py test runs these alone

PIECES = ["<", ">", "@", '"', "\\", " ", "\t", ":", "[", "]", ".", "-", "=", ",", "a", "b", "x1", "localhost",
          "example.com", "[127.0.0.1]", "[IPv6:::1]", "[IPv6:", "postmaster", "Postmaster", "@relay:", "SIZE=10",
          "BODY=8BITMIME", "SMTPUTF8", "é", "\u00a0", "\ud800", "\x00", "xn--", "..", "<>"]
text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=20).map("".join)


def written(path: str, params: list[str]) -> str:
    return " ".join(["<" + path + ">", *params])


@given(arg=text, null_ok=st.booleans(), postmaster_ok=st.booleans())
def test_split_path_argument_raises_only_path_error(arg, null_ok, postmaster_ok):
    try:
        path, params = split_path_argument(arg, null_ok=null_ok, postmaster_ok=postmaster_ok)
    except PathError as e:
        assert str(e)
        return
    assert isinstance(path, str) and all(isinstance(p, str) and p and " " not in p for p in params)
    # Accepted: written out again it reads back the same.
    again = split_path_argument(written(path, params), null_ok=null_ok, postmaster_ok=postmaster_ok)
    assert again == (path, params), (arg, path, params)
    assert path or null_ok
    assert len(("<" + path + ">").encode("utf-8")) <= MAX_PATH


@given(local=st.sampled_from(["a", "x.y", '"a b"', '"a\\"b"', "é"]),
       domain=st.sampled_from(["example.com", "[127.0.0.1]", "[IPv6:::1]", "xn--bcher-kva.example", "bücher.example"]),
       params=st.lists(st.sampled_from(["SIZE=10", "BODY=8BITMIME", "SMTPUTF8", "X-A=b"]), unique=True, max_size=3))
def test_well_formed_arguments_accepted(local, domain, params):
    path, got = split_path_argument(written(f"{local}@{domain}", params), null_ok=False)
    assert path == f"{local}@{domain}" and got == params


@pytest.mark.parametrize("arg", ["<a\udcff@b.com>", "<\ud800>", '<"\ud800"@b.com>', "<a@b.com> X=\udcff"])
def test_lone_surrogates_are_path_errors(arg):
    # Octets that are not UTF-8 come from the SMTP reader as lone surrogates.
    for null_ok in (True, False):
        try:
            split_path_argument(arg, null_ok=null_ok)
        except PathError:
            continue
        raise AssertionError(f"accepted {arg!r}")


@pytest.mark.parametrize("line", [
    b"MAIL FROM:<a\xff@b.com>",
    b"MAIL FROM:<a\xed\xa0\x80@b.com> SMTPUTF8",
    b'MAIL FROM:<"\xff"@b.com> SMTPUTF8',
    b"MAIL FROM:<a@b.com> X-A=\xff",
])
def test_invalid_utf8_in_mail_from_is_501(server, line):
    with Heartbeat(server) as beat:
        with socket.create_connection(("127.0.0.1", server.smtp_port), timeout=10) as s:
            f = s.makefile("rb")
            assert f.readline().startswith(b"220")
            s.sendall(b"EHLO test\r\n")
            while f.readline()[3:4] != b" ":
                pass
            s.sendall(line + b"\r\n")
            answer = f.readline()
            s.sendall(b"RSET\r\n")
            assert f.readline().startswith(b"250")
    beat.check()
    assert answer.startswith(b"501 "), answer
    assert "Traceback" not in "".join(server.output)
