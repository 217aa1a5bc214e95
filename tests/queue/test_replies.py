"""SMTP replies as the queue reads them: success, temporary or permanent
(RFC 5321 4.2.1), with the RFC 3463 enhanced status code when the reply has one."""

import pytest

from moxpy.message import status
from moxpy.queue.deliver import result_from_response


@pytest.mark.parametrize("text,ok", [("5.1.1", True), ("2.0.0", True), ("4.7.123", True), ("5.1.1000", False),
                                     ("3.1.1", False), ("5.1", False), ("5.a.1", False), ("", False)])
def test_is_enhanced(text, ok):
    assert status.is_enhanced(text) is ok


def test_enhanced_code_opens_the_reply_text():
    assert status.from_reply("5.1.1 no such user") == "5.1.1"
    assert status.from_reply("5.1.1") == "5.1.1"
    assert status.from_reply("no such user 5.1.1") == ""
    assert status.from_reply("") == ""


def test_dsn_status_class_follows_the_action():
    assert status.with_class("5", "4.7.1") == "5.7.1"
    assert status.with_class("4", "4.7.1") == "4.7.1"
    assert status.with_class("5", "") == "5.0.0"


def test_permanent_reply():
    result = result_from_response(550, "5.1.1 no such user", "mx.x.example")
    assert (result.ok, result.permanent, result.code, result.enhanced_code) == (False, True, 550, "5.1.1")
    assert result.error == "550 5.1.1 no such user" and result.remote_mta == "mx.x.example"


def test_temporary_reply_without_enhanced_code():
    result = result_from_response(451, "try again\nlater")
    assert (result.ok, result.permanent, result.enhanced_code) == (False, False, "")
    assert result.error == "451 try again later"


def test_success_reply_has_no_error():
    result = result_from_response(250, "2.0.0 queued as 17")
    assert (result.ok, result.code, result.enhanced_code, result.error) == (True, 250, "2.0.0", "")
