"""SMTP reply codes and enhanced status codes by name, and the replies built from them."""

import re

import pytest

from moxpy.smtp.codes import Enhanced, Reply, enhanced, reply
from moxpy.smtpserver import localserve, replies

# RFC 3463 2: subject and detail are one to three digits.
SUBJECT_DETAIL = re.compile(r"^[0-9]{1,3}\.[0-9]{1,3}$")
REPLY = re.compile(r"^([245])[0-9]{2} ([245])\.[0-9]{1,3}\.[0-9]{1,3} \S")


def test_enhanced_codes_are_subject_and_detail():
    for status in Enhanced:
        assert SUBJECT_DETAIL.match(status), status


@pytest.mark.parametrize("code,status,expected", [
    (Reply.MAILBOX_UNAVAILABLE, Enhanced.BAD_DESTINATION_MAILBOX, "550 5.1.1 no such user"),
    (Reply.LOCAL_ERROR, Enhanced.SYSTEM_OTHER, "451 4.3.0 no such user"),
    (Reply.COMPLETED, Enhanced.DESTINATION_VALID, "250 2.1.5 no such user"),
    (421, Enhanced.OTHER, "421 4.0.0 no such user"),  # plain numbers too, as localserve's localparts give
    (Reply.TRANSACTION_FAILED, Enhanced.REQUIRETLS_FAILED, "554 5.7.30 no such user"),
])
def test_reply_takes_the_class_from_the_code(code, status, expected):
    assert reply(code, status, "no such user") == expected
    assert enhanced(code, status) == expected.split()[1]


@pytest.mark.parametrize("code", [Reply.START_MAIL_INPUT, Reply.AUTH_CONTINUE, 100, 600])
def test_no_enhanced_code_outside_success_and_failure(code):
    # RFC 2034 3: intermediate replies (3xx) carry none.
    with pytest.raises(ValueError):
        reply(code, Enhanced.OTHER, "go ahead")


def test_shared_replies_have_matching_classes():
    shared = [value for name, value in vars(replies).items() if name.isupper() and isinstance(value, str)]
    shared += [replies.too_many_recipients(100), replies.try_again_later("error storing message"),
               replies.invalid_base64("AUTH PLAIN"), localserve.reply(550), localserve.reply(421)]
    assert len(shared) > 8
    for line in shared:
        m = REPLY.match(line)
        assert m and m.group(1) == m.group(2), line
