"""The suppression list's rules: base addresses and when a failure suppresses."""

import pytest

from moxpy.message.address import base_address, parse_address
from moxpy.queue import suppression


@pytest.mark.parametrize("address,base", [
    ("John.Doe+news@Example.COM", "johndoe@example.com"),
    ("johndoe@example.com", "johndoe@example.com"),
    ("j.o.h.n-list@example.com", "john@example.com"),
    ("x-y.z@ex.org", "x@ex.org"),
])
def test_base_address(address, base):
    assert base_address(parse_address(address)) == base


@pytest.mark.parametrize("code,enhanced,expected", [
    (550, "", True), (551, "5.0.0", True), (521, "", True), (556, "5.1.10", True),
    (554, "5.1.1", True), (554, "5.7.1", True), (554, "5.0.0", False),
    (452, "4.2.2", False), (451, "5.1.1", False),  # not a permanent reply
])
def test_immediate_codes(code, enhanced, expected):
    assert suppression.immediate(code, enhanced) is expected


def test_a_dead_address_is_suppressed_at_once():
    reason = suppression.failure_reason(550, "5.1.1", "queue", [])
    assert reason == "delivery failure from queue with smtp code 550, enhanced code 5.1.1"
    assert suppression.failure_reason(550, "", "DSN", []).endswith("enhanced code -")


def test_a_failure_without_smtp_code_never_suppresses():
    assert suppression.failure_reason(0, "5.1.1", "queue", ["failed", "failed"]) == ""


def test_third_failed_message_in_a_row_suppresses():
    assert suppression.failure_reason(554, "5.0.0", "queue", ["failed", "failed"]) == \
        "delivery failure from queue, third failed message in a row"
    assert suppression.failure_reason(554, "5.0.0", "queue", ["failed", "failed", "delivered"]) != ""


@pytest.mark.parametrize("previous", [[], ["failed"], ["failed", "delivered"], ["delivered", "failed"],
                                      ["canceled", "failed"]])
def test_fewer_than_three_failures_in_a_row_do_not_suppress(previous):
    assert suppression.failure_reason(554, "5.0.0", "queue", previous) == ""
