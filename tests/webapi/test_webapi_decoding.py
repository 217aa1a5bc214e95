"""The request JSON over real HTTP, decoded as Go's encoding/json does for
mox: object keys match field names exactly or else case-insensitively, in
every method and every nested object; unknown keys and integers outside
int64 are protocol errors, never server errors."""

import json

import httpx
import msgspec
import pytest

from moxpy.webapi import codec, examples
from moxpy.webapi.types import METHODS

from ..localserve import ADDRESS, PASSWORD
from ..queuehelp import queued, retired_entries


def call(server, method, request):
    body = request if isinstance(request, str) else json.dumps(request)
    return httpx.post(server.base_url + method, data={"request": body}, auth=(ADDRESS, PASSWORD), timeout=30)


def delivered(server, message_id):
    return server.wait_for(lambda: [r for r in server.messages()
                                    if r["message_id"] == message_id and r["mailbox"] == "Inbox"])[0]


def lower_keys(value):
    if isinstance(value, dict):
        return {k.lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def test_send_with_lower_case_keys_as_mox_accepts_it(server):
    resp = call(server, "Send", {"to": [{"address": ADDRESS, "name": "Mox"}], "subject": "lower keys", "text": "y",
                                 "attachedfiles": [{"name": "a.txt", "contenttype": "text/plain", "data": "eA=="}],
                                 "EXTRA": {"Key": "kept as given"}})
    assert resp.status_code == 200, resp.text
    row = delivered(server, resp.json()["MessageID"])
    got = call(server, "MessageGet", {"msgid": row["id"]}).json()
    assert got["Message"]["Subject"] == "lower keys"
    assert got["Message"]["To"] == [{"Name": "Mox", "Address": ADDRESS}]
    assert got["Message"]["Text"] == "y\n"
    assert got["Structure"]["Parts"][1]["Filename"] == "a.txt"
    # The keys of a map are data, not field names.
    entries = retired_entries(server) or queued(server)
    assert any(e.extra == {"Key": "kept as given"} for e in entries)


@pytest.mark.parametrize("name", [name for name, m in METHODS.items() if m.request.__struct_fields__])
def test_every_method_takes_case_insensitive_keys(server, name):
    request = lower_keys(msgspec.to_builtins(examples.REQUESTS[name]))
    resp = call(server, name, request)
    if resp.status_code == 400:
        assert resp.json()["Code"] not in ("protocol", "server"), resp.text


def test_exact_match_first_then_case_insensitive():
    # Go's rule, also for runes that fold to ASCII letters (U+017F is a long s).
    from moxpy.webapi import types as t

    req = codec.decode('{"\u017fubject": "long s", "TEXT": "x", "To": [{"ADDRESS": "a@example.com"}]}', t.SendRequest)
    assert (req.Subject, req.Text, req.To[0].Address) == ("long s", "x", "a@example.com")
    # The later of two keys for one field wins, as in Go; null leaves the field as it was.
    req = codec.decode('{"Subject": "first", "subject": "second", "SUBJECT": null}', t.SendRequest)
    assert req.Subject == "second"


@pytest.mark.parametrize("request_json", [
    '{"to": [], "bogus": 1}',
    '{"bogus": null}',
    '{"To": [{"Adress": "mox@localhost"}]}',
    '{"AttachedFiles": [{"Nme": "x"}]}',
])
def test_unknown_keys_stay_protocol_errors(server, request_json):
    resp = call(server, "Send", request_json)
    assert resp.status_code == 400 and resp.json()["Code"] == "protocol", resp.text
    assert "unknown field" in resp.json()["Message"]


INTEGER_METHODS = [name for name, m in METHODS.items() if "MsgID" in m.request.__struct_fields__]
OUT_OF_RANGE = [99999999999999999999999, 2**63, -(2**63) - 1, 2**64]


@pytest.mark.parametrize("name", INTEGER_METHODS)
@pytest.mark.parametrize("number", OUT_OF_RANGE)
def test_integers_outside_int64_are_protocol_errors(server, name, number):
    for request in (f'{{"MsgID": {number}}}', f'{{"msgid": {number}}}'):
        resp = call(server, name, request)
        assert resp.status_code == 400 and resp.json()["Code"] == "protocol", resp.text
        assert str(number) in resp.json()["Message"]
    assert not [line for line in server.output if "OverflowError" in line or "Traceback" in line]


@pytest.mark.parametrize("number", OUT_OF_RANGE)
def test_integers_in_lists_outside_int64_are_protocol_errors(server, number):
    resp = call(server, "MessagePartGet", f'{{"MsgID": 1, "PartPath": [0, {number}]}}')
    assert resp.status_code == 400 and resp.json()["Code"] == "protocol", resp.text


@pytest.mark.parametrize("name", INTEGER_METHODS)
@pytest.mark.parametrize("number", [2**63 - 1, -(2**63)])
def test_integers_at_the_int64_limits_are_looked_up(server, name, number):
    resp = call(server, name, {"MsgID": number, **({"DestMailboxName": "Archive"} if name == "MessageMove" else {})})
    assert resp.status_code == 400 and resp.json()["Code"] == "messageNotFound", resp.text
