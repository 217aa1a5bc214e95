"""FromID tracking: IDs assigned at submission, parsed from recipient
addresses, and incoming messages to them classified."""

import pytest

from moxpy import config as configlib
from moxpy.message import dsn as dsnlib
from moxpy.queue import fromid


def config(separator: str = "+") -> configlib.Config:
    return configlib.Config(
        Domains={"example.org": configlib.Domain(LocalpartCatchallSeparator=separator)},
        Accounts={"app": configlib.Account(Domain="example.org", FromIDLoginAddresses=["app@example.org"])})


@pytest.mark.parametrize("rcpt_to,expected", [
    ("app+abc123@example.org", "abc123"),
    ("app+abc+def@example.org", "abc+def"),  # split at the first separator only
    ("app+abc@EXAMPLE.org", "abc"),  # the domain is matched case-insensitively
    ("app@example.org", ""),
    ("app+abc@elsewhere.example", ""),  # not one of our domains
])
def test_from_id_in_recipient_address(rcpt_to, expected):
    assert fromid.from_id(config(), rcpt_to) == expected


def test_from_id_needs_the_domain_separator():
    assert fromid.from_id(config("-"), "app-xyz@example.org") == "xyz"
    assert fromid.from_id(config("-"), "app+xyz@example.org") == ""
    assert fromid.from_id(config(""), "app+xyz@example.org") == ""


def test_tracked_login_gets_a_unique_mail_from_per_recipient():
    rcpts = fromid.recipients(config(), "app", "app@example.org", "app@example.org", ["a@x.example", "b@x.example"])
    assert [r.address for r in rcpts] == ["a@x.example", "b@x.example"]
    assert len({r.from_id for r in rcpts}) == 2 and all(r.from_id for r in rcpts)
    for r in rcpts:
        assert r.mail_from == f"app+{r.from_id}@example.org"
        assert fromid.from_id(config(), r.mail_from) == r.from_id


def test_untracked_login_keeps_its_mail_from():
    rcpts = fromid.recipients(config(), "app", "other@example.org", "app@example.org", ["a@x.example"])
    assert [(r.from_id, r.mail_from) for r in rcpts] == [("", "app@example.org")]


def test_own_fromid_is_kept_for_one_recipient_only():
    [r] = fromid.recipients(config(), "app", "app@example.org", "app+order-7@example.org", ["a@x.example"],
                            own_id_allowed=True)
    assert (r.from_id, r.mail_from) == ("order-7", "app+order-7@example.org")
    with pytest.raises(ValueError):
        fromid.recipients(config(), "app", "app@example.org", "app+order-7@example.org",
                          ["a@x.example", "b@x.example"], own_id_allowed=True)


def dsn_bytes(action: str, status: str, diagnostic: str, recipients: int = 1) -> bytes:
    return dsnlib.compose(dsnlib.DSN(
        reporting_mta="mx.x.example", sender="postmaster@mx.x.example", to="app+abc@example.org",
        subject="failure", message_id="<d1@mx.x.example>", text="failed\n",
        recipients=[dsnlib.RecipientStatus(final_recipient=f"r{n}@x.example", action=action, status=status,
                                     diagnostic_code=diagnostic) for n in range(recipients)]))


def test_classify_failed_dsn_with_smtp_codes():
    incoming = fromid.classify(dsn_bytes("failed", "5.1.1", "550 5.1.1 no such user"))
    assert (incoming.event, incoming.dsn, incoming.code, incoming.enhanced_code) == ("failed", True, 550, "5.1.1")
    assert incoming.error == "550 5.1.1 no such user"


def test_classify_delayed_dsn_without_reply_takes_the_status():
    incoming = fromid.classify(dsn_bytes("delayed", "4.4.7", ""))
    assert (incoming.event, incoming.code, incoming.enhanced_code) == ("delayed", 400, "4.4.7")


def test_classify_what_is_not_one_dsn_as_unrecognized():
    plain = fromid.classify(b"From: someone@x.example\r\nSubject: out of office\r\n\r\nback monday\r\n")
    assert (plain.event, plain.dsn, plain.error) == ("unrecognized", False, "incoming message not a dsn")
    two = fromid.classify(dsn_bytes("failed", "5.1.1", "", recipients=2))
    assert (two.event, two.dsn) == ("unrecognized", True) and "2 recipients" in two.error
