"""The mailing list methods of the webapi (scope newsletter:lists):
ListCreate, ListGet, ListUpdate, ListDelete, ListsList and ListMembers.

Lists are the calling account's own (store/newsletter.py): a list of
another account is listNotFound, as one that does not exist. A list's
FromAddress must be one the account may send from, the rule Send applies
to From (badFrom otherwise). Members join and leave through the member
endpoints (newsletter/http.py); here they are only listed.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from .. import config as configlib
from ..message.address import AddressError, parse_address
from ..store.newsletter import STATUSES, ListNotFound, MailingList, Member, NewsletterStore
from . import types as t
from .errors import WebapiError

MAX_NAME = 200  # characters of Name, FromName, ConfirmSubject
MAX_CONFIRM_TEXT = 10_000
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 1 << 62  # a page so far out that SQLite's integers would overflow is simply past the end


def _time(when: float) -> datetime:
    return datetime.fromtimestamp(when, timezone.utc) if when else t.ZERO_TIME


def _shown(record: MailingList) -> t.MailingList:
    return t.MailingList(ListID=record.id, Name=record.name, FromAddress=record.from_address,
                         FromName=record.from_name, ConfirmSubject=record.confirm_subject,
                         ConfirmText=record.confirm_text, Created=_time(record.created))


def _member(member: Member) -> t.ListMember:
    return t.ListMember(Email=member.email, Status=member.status, Preferences=member.preferences,
                        Created=_time(member.created), Updated=_time(member.updated))


def _not_found(list_id: int) -> WebapiError:
    return WebapiError("listNotFound", f"ListID: the account has no list {list_id}")


def _line(field: str, value: str, maximum: int) -> str:
    if len(value) > maximum:
        raise WebapiError("user", f"{field}: longer than {maximum} characters")
    # A header field's value (From, Subject): a line break would start another field.
    if any(c in value for c in "\r\n\0"):
        raise WebapiError("user", f"{field}: must be one line")
    return value.strip()


class ListMethods:
    """Mixed into the API, beside the account methods."""

    config: configlib.Source
    newsletter: NewsletterStore | None

    def _lists(self) -> NewsletterStore:
        if self.newsletter is None:
            raise WebapiError("server", "mailing lists are not available in this process")
        return self.newsletter

    def _record(self, call, req: t.ListCreateRequest, list_id: int = 0) -> MailingList:
        name = _line("Name", req.Name, MAX_NAME)
        if not name:
            raise WebapiError("user", "Name: required")
        if not req.FromAddress.strip():
            raise WebapiError("user", "FromAddress: required")
        try:
            sender = str(parse_address(req.FromAddress))
        except AddressError as e:
            raise WebapiError("badAddress", f"FromAddress: {e}") from None
        if not configlib.may_send_as(self.config.current(), call.account, sender):
            raise WebapiError("badFrom", "FromAddress: from-address not configured for account")
        if len(req.ConfirmText) > MAX_CONFIRM_TEXT:
            raise WebapiError("user", f"ConfirmText: longer than {MAX_CONFIRM_TEXT} characters")
        if "\0" in req.ConfirmText:
            raise WebapiError("user", "ConfirmText: must not contain NUL")
        return MailingList(id=list_id, account=call.account, name=name, from_address=sender,
                           from_name=_line("FromName", req.FromName, MAX_NAME),
                           confirm_subject=_line("ConfirmSubject", req.ConfirmSubject, MAX_NAME),
                           confirm_text=req.ConfirmText, created=time.time())

    def _own_list(self, call, list_id: int) -> MailingList:
        found = self._lists().get_list(call.account, list_id) if 0 < list_id < 1 << 63 else None
        if found is None:
            raise _not_found(list_id)
        return found

    async def ListCreate(self, call, req: t.ListCreateRequest) -> t.ListCreateResult:
        record = self._record(call, req)
        return t.ListCreateResult(ListID=await self._lists().create_list(record))

    async def ListGet(self, call, req: t.ListGetRequest) -> t.ListGetResult:
        return t.ListGetResult(List=_shown(self._own_list(call, req.ListID)))

    async def ListUpdate(self, call, req: t.ListUpdateRequest) -> t.ListUpdateResult:
        self._own_list(call, req.ListID)
        record = self._record(call, req, req.ListID)
        try:
            await self._lists().update_list(record)
        except ListNotFound:
            raise _not_found(req.ListID) from None
        return t.ListUpdateResult()

    async def ListDelete(self, call, req: t.ListDeleteRequest) -> t.ListDeleteResult:
        self._own_list(call, req.ListID)
        try:
            await self._lists().delete_list(call.account, req.ListID)
        except ListNotFound:
            raise _not_found(req.ListID) from None
        return t.ListDeleteResult()

    async def ListsList(self, call, req: t.ListsListRequest) -> t.ListsListResult:
        return t.ListsListResult(Lists=[_shown(r) for r in self._lists().lists(call.account)])

    async def ListMembers(self, call, req: t.ListMembersRequest) -> t.ListMembersResult:
        if req.Status and req.Status not in STATUSES:
            raise WebapiError("user", f"Status: one of {', '.join(STATUSES)}, or empty for all, "
                                      f"not {req.Status[:40]!r}")
        size = req.PageSize or DEFAULT_PAGE_SIZE
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise WebapiError("user", f"PageSize: must be between 1 and {MAX_PAGE_SIZE}")
        if req.Page < 0:
            raise WebapiError("user", "Page: cannot be negative")
        self._own_list(call, req.ListID)
        page = req.Page or 1
        members, total = self._lists().members(call.account, req.ListID, req.Status,
                                               offset=min((page - 1) * size, MAX_OFFSET), limit=size)
        return t.ListMembersResult(Members=[_member(m) for m in members], Total=total, Page=page,
                                   Pages=-(-total // size))
