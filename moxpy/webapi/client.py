"""A Python client for the webapi: one method per webapi method, typed results.

    from moxpy.webapi import Client, types
    client = Client("http://localhost:1080/webapi/v0/", "mox@localhost", "moxmoxmox")
    result = client.Send(types.SendRequest(To=[types.NameAddress(Address="you@example.com")], Text="hi"))
    print(result.Submissions[0].QueueMsgID)

With an API token instead of a password (moxpy only):

    client = Client("http://localhost:1080/webapi/v0/", token="mxt_...")

Errors of the API are raised as WebapiError with .code and .message (a
token without the method's scope: code permissionDenied);
authentication failures as AuthError. Works against mox as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import msgspec

from . import types as t
from .errors import WebapiError


class AuthError(Exception):
    """The server refused the credentials (HTTP 401) or rate limited them (HTTP 429)."""

    def __init__(self, status: int, text: str):
        super().__init__(f"HTTP {status}: {text.strip()}")
        self.status = status


@dataclass
class Upload:
    """A file sent as a multipart/form-data part with Send."""

    kind: str  # "alternativefile", "inlinefile" or "attachedfile"
    filename: str
    data: bytes
    content_type: str = ""  # empty: the server detects it
    content_id: str = ""  # for inline files referenced from HTML as cid:...


class Client:
    def __init__(self, base_url: str, username: str = "", password: str = "", *, token: str = "",
                 timeout: float = 60.0, http: httpx.Client | None = None):
        """Credentials: an address of the account and its password, or token, an API token."""
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.http = http or httpx.Client(timeout=timeout)
        self.auth = None if token else (username, password)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, method: str, request: msgspec.Struct, uploads: list[Upload] | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        """Call a method; return the HTTP response of a successful call, raise on errors."""
        body = _encode(request)
        headers = {**self.headers, **(headers or {})}
        if uploads:
            files = [("request", (None, body.encode(), "application/json"))]
            for u in uploads:
                part_headers = {"Content-ID": u.content_id} if u.content_id else {}
                files.append((u.kind, (u.filename, u.data, u.content_type or "application/octet-stream",
                                       part_headers)))
            response = self.http.post(self.base_url + method, files=files, auth=self.auth, headers=headers)
        else:
            response = self.http.post(self.base_url + method, data={"request": body}, auth=self.auth,
                                      headers=headers)
        if response.status_code in (401, 429):
            raise AuthError(response.status_code, response.text)
        if response.status_code in (400, 403):
            try:
                error = response.json()
                raise WebapiError(error["Code"], error["Message"])
            except (ValueError, KeyError, TypeError):
                raise WebapiError("protocol", f"unexpected error response: {response.text[:200]}") from None
        if response.status_code != 200:
            raise WebapiError("protocol", f"unexpected HTTP status {response.status_code}: {response.text[:200]}")
        return response

    def _json(self, method: str, request, result_type, uploads=None, headers=None):
        return msgspec.json.decode(self.call(method, request, uploads, headers).content, type=result_type)

    def Send(self, request: t.SendRequest, uploads: list[Upload] | None = None, *,
             idempotency_key: str = "") -> t.SendResult:
        """idempotency_key: sent as the Idempotency-Key header (moxpy only; mox has no idempotent Send)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._json("Send", request, t.SendResult, uploads, headers)

    def SuppressionList(self, request: t.SuppressionListRequest | None = None) -> t.SuppressionListResult:
        return self._json("SuppressionList", request or t.SuppressionListRequest(), t.SuppressionListResult)

    def SuppressionAdd(self, request: t.SuppressionAddRequest) -> t.SuppressionAddResult:
        return self._json("SuppressionAdd", request, t.SuppressionAddResult)

    def SuppressionRemove(self, request: t.SuppressionRemoveRequest) -> t.SuppressionRemoveResult:
        return self._json("SuppressionRemove", request, t.SuppressionRemoveResult)

    def SuppressionPresent(self, request: t.SuppressionPresentRequest) -> t.SuppressionPresentResult:
        return self._json("SuppressionPresent", request, t.SuppressionPresentResult)

    def MessageGet(self, request: t.MessageGetRequest) -> t.MessageGetResult:
        return self._json("MessageGet", request, t.MessageGetResult)

    def MessageRawGet(self, request: t.MessageRawGetRequest) -> bytes:
        return self.call("MessageRawGet", request).content

    def MessagePartGet(self, request: t.MessagePartGetRequest) -> tuple[bytes, str]:
        """The decoded part and its Content-Type."""
        response = self.call("MessagePartGet", request)
        return response.content, response.headers.get("Content-Type", "")

    def MessageDelete(self, request: t.MessageDeleteRequest) -> t.MessageDeleteResult:
        return self._json("MessageDelete", request, t.MessageDeleteResult)

    def MessageFlagsAdd(self, request: t.MessageFlagsAddRequest) -> t.MessageFlagsAddResult:
        return self._json("MessageFlagsAdd", request, t.MessageFlagsAddResult)

    def MessageFlagsRemove(self, request: t.MessageFlagsRemoveRequest) -> t.MessageFlagsRemoveResult:
        return self._json("MessageFlagsRemove", request, t.MessageFlagsRemoveResult)

    def MessageMove(self, request: t.MessageMoveRequest) -> t.MessageMoveResult:
        return self._json("MessageMove", request, t.MessageMoveResult)

    def MailboxList(self, request: t.MailboxListRequest | None = None) -> t.MailboxListResult:
        return self._json("MailboxList", request or t.MailboxListRequest(), t.MailboxListResult)

    def MailboxCreate(self, request: t.MailboxCreateRequest) -> t.MailboxCreateResult:
        return self._json("MailboxCreate", request, t.MailboxCreateResult)

    def MailboxRename(self, request: t.MailboxRenameRequest) -> t.MailboxRenameResult:
        return self._json("MailboxRename", request, t.MailboxRenameResult)

    def MailboxDelete(self, request: t.MailboxDeleteRequest) -> t.MailboxDeleteResult:
        return self._json("MailboxDelete", request, t.MailboxDeleteResult)

    def MessageList(self, request: t.MessageListRequest | None = None) -> t.MessageListResult:
        return self._json("MessageList", request or t.MessageListRequest(), t.MessageListResult)

    def MessageSearch(self, request: t.MessageSearchRequest) -> t.MessageSearchResult:
        return self._json("MessageSearch", request, t.MessageSearchResult)

    def MessageTextGet(self, request: t.MessageTextGetRequest) -> t.MessageTextGetResult:
        return self._json("MessageTextGet", request, t.MessageTextGetResult)

    def ChangesSince(self, request: t.ChangesSinceRequest) -> t.ChangesSinceResult:
        return self._json("ChangesSince", request, t.ChangesSinceResult)

    def TokenCreate(self, request: t.TokenCreateRequest) -> t.TokenCreateResult:
        return self._json("TokenCreate", request, t.TokenCreateResult)

    def TokenList(self, request: t.TokenListRequest | None = None) -> t.TokenListResult:
        return self._json("TokenList", request or t.TokenListRequest(), t.TokenListResult)

    def TokenRevoke(self, request: t.TokenRevokeRequest) -> t.TokenRevokeResult:
        return self._json("TokenRevoke", request, t.TokenRevokeResult)

    def AccountExists(self, request: t.AccountExistsRequest) -> t.AccountExistsResult:
        return self._json("AccountExists", request, t.AccountExistsResult)

    def AccountCreate(self, request: t.AccountCreateRequest) -> t.AccountCreateResult:
        return self._json("AccountCreate", request, t.AccountCreateResult)

    def AccountSetPassword(self, request: t.AccountSetPasswordRequest) -> t.AccountSetPasswordResult:
        return self._json("AccountSetPassword", request, t.AccountSetPasswordResult)

    def AccountDelete(self, request: t.AccountDeleteRequest) -> t.AccountDeleteResult:
        return self._json("AccountDelete", request, t.AccountDeleteResult)

    def AccountPurge(self, request: t.AccountPurgeRequest) -> t.AccountPurgeResult:
        return self._json("AccountPurge", request, t.AccountPurgeResult)

    def AccountUnreadCount(self, request: t.AccountUnreadCountRequest) -> t.AccountUnreadCountResult:
        return self._json("AccountUnreadCount", request, t.AccountUnreadCountResult)
    def FetchRuleAdd(self, request: t.FetchRuleAddRequest) -> t.FetchRuleAddResult:
        return self._json("FetchRuleAdd", request, t.FetchRuleAddResult)

    def FetchRuleUpdate(self, request: t.FetchRuleUpdateRequest) -> t.FetchRuleUpdateResult:
        return self._json("FetchRuleUpdate", request, t.FetchRuleUpdateResult)

    def FetchRuleDelete(self, request: t.FetchRuleDeleteRequest) -> t.FetchRuleDeleteResult:
        return self._json("FetchRuleDelete", request, t.FetchRuleDeleteResult)

    def FetchRuleList(self, request: t.FetchRuleListRequest | None = None) -> t.FetchRuleListResult:
        return self._json("FetchRuleList", request or t.FetchRuleListRequest(), t.FetchRuleListResult)
    def RuleCreate(self, request: t.RuleCreateRequest) -> t.RuleCreateResult:
        return self._json("RuleCreate", request, t.RuleCreateResult)

    def RuleUpdate(self, request: t.RuleUpdateRequest) -> t.RuleUpdateResult:
        return self._json("RuleUpdate", request, t.RuleUpdateResult)

    def RuleDelete(self, request: t.RuleDeleteRequest) -> t.RuleDeleteResult:
        return self._json("RuleDelete", request, t.RuleDeleteResult)

    def RuleList(self, request: t.RuleListRequest) -> t.RuleListResult:
        return self._json("RuleList", request, t.RuleListResult)

    def ListCreate(self, request: t.ListCreateRequest) -> t.ListCreateResult:
        return self._json("ListCreate", request, t.ListCreateResult)

    def ListGet(self, request: t.ListGetRequest) -> t.ListGetResult:
        return self._json("ListGet", request, t.ListGetResult)

    def ListUpdate(self, request: t.ListUpdateRequest) -> t.ListUpdateResult:
        return self._json("ListUpdate", request, t.ListUpdateResult)

    def ListDelete(self, request: t.ListDeleteRequest) -> t.ListDeleteResult:
        return self._json("ListDelete", request, t.ListDeleteResult)

    def ListsList(self, request: t.ListsListRequest | None = None) -> t.ListsListResult:
        return self._json("ListsList", request or t.ListsListRequest(), t.ListsListResult)

    def ListMembers(self, request: t.ListMembersRequest) -> t.ListMembersResult:
        return self._json("ListMembers", request, t.ListMembersResult)


def _encode(request: msgspec.Struct) -> str:
    body = msgspec.json.encode(request)
    if isinstance(request, t.SendRequest) and not request.IdempotencyKey:
        # mox refuses fields it does not know: leave out the one it lacks unless it is used.
        fields = msgspec.json.decode(body)
        fields.pop("IdempotencyKey", None)
        body = msgspec.json.encode(fields)
    return body.decode()
