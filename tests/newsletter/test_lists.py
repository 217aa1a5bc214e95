"""The mailing list methods of the webapi over the real listener: making, reading, changing and removing
lists, the From they may use, members by page and status, lists of other accounts, and scopes."""

from __future__ import annotations

import pytest

from moxpy.webapi.types import METHODS

from .helpers import OTHER, OTHER_PASSWORD, Endpoints, call, ok, other_account, token

LIST_METHODS = ("ListCreate", "ListGet", "ListUpdate", "ListDelete", "ListsList", "ListMembers")


def code(response) -> str:
    assert response.status_code == 400, response.text
    return response.json()["Code"]


def test_create_get_update_list_delete(server):
    created = ok(server.call("ListCreate", {"Name": " Releases ", "FromAddress": "MOX@localhost",
                                            "FromName": "Mox", "ConfirmText": "Please confirm."}))
    list_id = created["ListID"]
    got = ok(server.call("ListGet", {"ListID": list_id}))["List"]
    assert got["ListID"] == list_id and got["Name"] == "Releases" and got["FromAddress"] == "MOX@localhost"
    assert got["FromName"] == "Mox" and got["ConfirmText"] == "Please confirm." and got["ConfirmSubject"] == ""
    assert got["Created"].startswith("20")

    assert ok(server.call("ListUpdate", {"ListID": list_id, "Name": "Release notes",
                                         "FromAddress": "mox+releases@localhost"})) == {}
    got = ok(server.call("ListGet", {"ListID": list_id}))["List"]
    assert (got["Name"], got["FromAddress"], got["FromName"], got["ConfirmText"]) == (
        "Release notes", "mox+releases@localhost", "", "")
    assert list_id in [entry["ListID"] for entry in ok(server.call("ListsList", {}))["Lists"]]

    assert ok(server.call("ListDelete", {"ListID": list_id})) == {}
    for method, request in (("ListGet", {"ListID": list_id}), ("ListDelete", {"ListID": list_id}),
                            ("ListMembers", {"ListID": list_id}),
                            ("ListUpdate", {"ListID": list_id, "Name": "x", "FromAddress": "mox@localhost"})):
        assert code(server.call(method, request)) == "listNotFound", method
    assert list_id not in [entry["ListID"] for entry in ok(server.call("ListsList", {}))["Lists"]]
    # A new list never takes the ID of a removed one, so its old links find nothing.
    assert ok(server.call("ListCreate", {"Name": "Next", "FromAddress": "mox@localhost"}))["ListID"] > list_id


@pytest.mark.parametrize("request_, expected", [
    ({"FromAddress": "mox@localhost"}, "user"),
    ({"Name": "x"}, "user"),
    ({"Name": "x", "FromAddress": "someone@example.org"}, "badFrom"),
    ({"Name": "x", "FromAddress": "not an address"}, "badAddress"),
    ({"Name": "x" * 201, "FromAddress": "mox@localhost"}, "user"),
    ({"Name": "x", "FromAddress": "mox@localhost", "FromName": "a\r\nBcc: victim@example.org"}, "user"),
    ({"Name": "x", "FromAddress": "mox@localhost", "ConfirmSubject": "a\nb"}, "user"),
    ({"Name": "x", "FromAddress": "mox@localhost", "ConfirmText": "x" * 10001}, "user"),
    ({"Name": "x", "FromAddress": "mox@localhost", "Unknown": 1}, "protocol"),
])
def test_bad_lists_are_refused(server, request_, expected):
    assert code(server.call("ListCreate", request_)) == expected


def test_members_by_page_and_status(server):
    list_id = ok(server.call("ListCreate", {"Name": "Paged", "FromAddress": "mox@localhost"}))["ListID"]
    tenant = Endpoints(server, token(server, ["newsletter:members"]))
    try:
        for i in range(5):
            assert tenant.post("subscribe", {"list_id": list_id, "email": f"page{i}@example.org"}).status_code == 200
        unsubscribe = tenant.post("unsubscribe-token", {"list_id": list_id, "email": "page3@example.org"}).json()
        assert tenant.post("unsubscribe", {"token": unsubscribe["unsubscribe_token"]}).status_code == 200
    finally:
        tenant.close()
    first = ok(server.call("ListMembers", {"ListID": list_id, "PageSize": 2}))
    assert (first["Total"], first["Page"], first["Pages"]) == (5, 1, 3)
    assert [m["Email"] for m in first["Members"]] == ["page0@example.org", "page1@example.org"]
    assert first["Members"][0]["Status"] == "pending" and first["Members"][0]["Preferences"] == {}
    last = ok(server.call("ListMembers", {"ListID": list_id, "PageSize": 2, "Page": 3}))
    assert [m["Email"] for m in last["Members"]] == ["page4@example.org"]
    past = ok(server.call("ListMembers", {"ListID": list_id, "PageSize": 2, "Page": 10 ** 15}))
    assert past["Members"] == [] and past["Total"] == 5
    gone = ok(server.call("ListMembers", {"ListID": list_id, "Status": "unsubscribed"}))
    assert [m["Email"] for m in gone["Members"]] == ["page3@example.org"] and gone["Pages"] == 1
    assert ok(server.call("ListMembers", {"ListID": list_id, "Status": "bounced"}))["Total"] == 0
    for bad in ({"Status": "gone"}, {"PageSize": 1001}, {"PageSize": -1}, {"Page": -1}):
        assert code(server.call("ListMembers", {"ListID": list_id, **bad})) == "user", bad


def test_lists_of_another_account_are_not_found(server):
    other_account(server)
    mine = ok(server.call("ListCreate", {"Name": "Mine", "FromAddress": "mox@localhost"}))["ListID"]
    bob = dict(user=OTHER, password=OTHER_PASSWORD)
    missing = 10 ** 9
    for list_id in (mine, missing):
        answers = [server.call("ListGet", {"ListID": list_id}, **bob),
                   server.call("ListMembers", {"ListID": list_id}, **bob),
                   server.call("ListDelete", {"ListID": list_id}, **bob),
                   server.call("ListUpdate", {"ListID": list_id, "Name": "Taken", "FromAddress": OTHER}, **bob)]
        for response in answers:
            assert code(response) == "listNotFound"
            assert response.json()["Message"] == f"ListID: the account has no list {list_id}"
    assert mine not in [entry["ListID"] for entry in ok(server.call("ListsList", {}, **bob))["Lists"]]
    assert ok(server.call("ListGet", {"ListID": mine}))["List"]["Name"] == "Mine"
    # Nor may bob send as mox.
    assert code(server.call("ListCreate", {"Name": "Fake", "FromAddress": "mox@localhost"}, **bob)) == "badFrom"


def test_scopes(server):
    send_only = token(server, ["send"])
    lists_only = token(server, ["newsletter:lists"])
    for method in LIST_METHODS:
        assert METHODS[method].scope == "newsletter:lists"
        response = call(server, method, {}, token=send_only)
        assert response.status_code == 403 and response.json()["Code"] == "permissionDenied", method
        response = call(server, method, {}, token=lists_only)
        assert response.status_code in (200, 400), method
        assert response.status_code == 200 or response.json()["Code"] != "permissionDenied"
    made = ok(call(server, "ListCreate", {"Name": "By token", "FromAddress": "mox@localhost"}, token=lists_only))
    assert ok(call(server, "ListGet", {"ListID": made["ListID"]}, token=lists_only))["List"]["Name"] == "By token"
