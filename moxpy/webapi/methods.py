"""The webapi methods: one async function per method, over the store and queue.

Each takes the authenticated call and a decoded request, and returns a
response struct (or bytes with a content type for the raw methods). Errors
are raised as WebapiError with a code from SPEC. Send composes the message
and hands it to moxpy.submit, the path SMTP submission takes too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO

import msgspec

from .. import config as configlib
from .. import offload
from .. import submit as submitlib
from .. import tokens as tokenlib
from ..backpressure import LARGE_MESSAGE
from ..message import compose as composelib
from ..message import parse as msgparse
from ..message import part as partlib
from ..message import readable
from ..message import reply as replylib
from ..message import view as msgview
from ..message.address import Address, AddressError, parse_address
from ..queue import Queue
from ..queue.suppression import SuppressionAbsent, SuppressionExists, Suppressions
from ..store import (STORAGE_FULL, ChangePositionUnknown, ChangesExpired, MailboxError, MailboxExists,
                     MailboxNotFound, MessageFilter, MessageNotFound, SearchError, Store, storage_full)
from ..store import flags as flaglib
from ..store.tokens import TokenRecord, TokenStore
from ..store import mailboxname
from ..store.queue import IdempotencyKeyUsed
from ..webhooks.types import Structure
from . import changes as changelib
from . import codec
from . import pagination
from . import summary as summarylib
from . import types as t
from ..accountadmin import AccountAdmin
from .admin import AdminMethods
from .fetchrules import FetchRuleMethods
from .errors import WebapiError
from .lists import ListMethods
from .rules import RuleMethods

log = logging.getLogger("moxpy.webapi")

MAX_FUTURE_RELEASE = 60 * 24 * 3600
MAX_IDEMPOTENCY_KEY = 255


@dataclass
class Call:
    """The authenticated caller of one method call."""

    account: str
    login: str  # the address used to log in
    remote_ip: str
    # What the caller may do: every scope but admin with the account's password (None), a token's own
    # scopes otherwise; tokenlib.ADMIN for the admin login, which has account "".
    principal: tokenlib.Principal | None = None
    # Files uploaded with multipart/form-data, by form key: alternativefile, inlinefile, attachedfile.
    uploads: dict[str, list[composelib.Attachment]] = field(default_factory=dict)
    idempotency_key: str | None = None  # the Idempotency-Key header; None without one

    def allows(self, scope: str) -> bool:
        return self.principal.allows(scope) if self.principal else scope != "admin"

    @property
    def viewer(self) -> bool:
        return not self.allows("read.body")


@dataclass
class Referenced:
    """The stored message a Send replies to or forwards."""

    action: str  # replylib.REPLY, REPLY_ALL or FORWARD
    msg_id: int
    original: replylib.Original  # what the answer takes from its header
    data: bytes  # the message as stored, attached whole to a forward


@dataclass
class Raw:
    """A method result that is bytes, not JSON."""

    data: bytes
    content_type: str


@dataclass
class RawFile:
    """A method result that is a stored message, sent in parts as they are read, so that a large one is
    never in memory whole; whoever sends it closes file."""

    file: BinaryIO  # the message, open (store.Account.open_message)
    size: int  # its octets, the Content-Length
    content_type: str


async def _with_bytes(account, message, fn):
    """fn(the message's bytes): on the loop for a small message whose bytes are in memory already, else
    in a worker thread, in one hop, since the file may be slow to read and the work takes as long as
    the message is large."""
    if message.size <= offload.INLINE:
        data = account.message_bytes_cached(message)
        if data is not None:
            return fn(data)
    return await asyncio.to_thread(lambda: fn(account.message_bytes(message)))

class API(AdminMethods, FetchRuleMethods, RuleMethods, ListMethods):
    def __init__(self, config: configlib.Source, store: Store, queue: Queue, suppressions: Suppressions,
                 tokens: TokenStore | None = None, admin: AccountAdmin | None = None, fetch_rules=None,
                 newsletter=None):
        """admin: the account administration of the admin methods; None where there is none. fetch_rules:
        moxpy.fetch.rules.FetchRules, for the fetch rule methods. newsletter: the server database's
        store/newsletter.NewsletterStore, for the mailing list methods."""
        self.config = config
        self.fetch_rules = fetch_rules
        self.newsletter = newsletter
        self.tokens = tokens
        self.admin = admin
        self.store = store
        self.queue = queue
        self.suppressions = suppressions
        self.submitter = submitlib.Submitter(config, queue)
        self._send_locks: dict[tuple[str, str], list] = {}  # (account, key) -> [lock, users]

    # Sending.

    async def Send(self, call: Call, req: t.SendRequest) -> t.SendResult:
        key = _idempotency_key(call, req)
        if not key:
            return await self._send(call, req, None)
        digest = _request_digest(call, req)
        # One Send per key at a time in this process: repeats wait, then answer from the record the
        # first left. The record itself commits with the queued message, so a crash in between cannot
        # let a repeat queue it again.
        slot = self._send_locks.setdefault((call.account, key), [asyncio.Lock(), 0])
        slot[1] += 1
        try:
            async with slot[0]:
                earlier = self._earlier_send(call.account, key, digest)
                if earlier is not None:
                    return earlier
                try:
                    return await self._send(call, req, (key, digest))
                except IdempotencyKeyUsed:
                    # Taken by a Send that committed meanwhile (another process of the server).
                    earlier = self._earlier_send(call.account, key, digest)
                    if earlier is None:
                        raise
                    return earlier
        finally:
            slot[1] -= 1
            if not slot[1]:
                self._send_locks.pop((call.account, key), None)

    def _earlier_send(self, account: str, key: str, digest: str) -> t.SendResult | None:
        """The response of the Send made with this key in the last 24 hours; idempotencyConflict when it
        was for another request."""
        record = self.submitter.earlier(account, key, time.time())
        if record is None:
            return None
        if record.digest != digest:
            raise WebapiError("idempotencyConflict", "idempotency key used earlier for a different request")
        return msgspec.json.decode(record.response, type=t.SendResult)

    async def _send(self, call: Call, req: t.SendRequest, idempotency: tuple[str, str] | None) -> t.SendResult:
        """Send; idempotency: the key and request digest to record with the queued message."""
        config = self.config.current()
        account = config.Accounts[call.account]
        # The message replied to or forwarded first: an unknown one fails the call before anything else.
        referenced = await self._referenced(call, req.Reference)
        action = referenced.action if referenced else ""

        # Checks in mox's order, so the same bad request gets the same error code.
        if not req.Text and not req.HTML and action != replylib.FORWARD:
            raise WebapiError("missingBody", "at least text or html body required")
        if len(req.From) > 1:
            raise WebapiError("multipleFrom", "multiple from-addresses not allowed")
        if req.From:
            sender_name = req.From[0].Name
            sender = _address(req.From[0].Address)
        else:
            sender_name = account.FullName
            sender = _address(call.login)
        to = [(n.Name, _address(n.Address)) for n in req.To]
        cc = [(n.Name, _address(n.Address)) for n in req.CC]
        bcc = [(n.Name, _address(n.Address)) for n in req.BCC]
        if referenced and action != replylib.FORWARD and not (to or cc or bcc):
            to, cc = _reply_recipients(config, call.account, referenced.original, action == replylib.REPLY_ALL)
        reply_to = [(n.Name, _address(n.Address)) for n in req.ReplyTo]
        recipients = [str(rcpt) for _, rcpt in to + cc + bcc]
        try:
            self.submitter.check_sender(call.account, str(sender))
        except submitlib.SenderNotAllowed:
            raise WebapiError("badFrom", "from-address not configured for account") from None
        if not recipients:
            raise WebapiError("noRecipients", "no recipients")
        try:
            self.submitter.check_limits(call.account, recipients)
        except submitlib.LimitReached as e:
            if e.kind == "messages":
                raise WebapiError("messageLimitReached", "outgoing message rate limit reached") from None
            raise WebapiError("recipientLimitReached", "outgoing new recipient rate limit reached") from None
        if req.MessageID and not (req.MessageID.startswith("<") and req.MessageID.endswith(">")):
            raise WebapiError("malformedMessageID", "missing <> in message-id")
        if req.FutureRelease is not None:
            delta = (req.FutureRelease - datetime.now(timezone.utc)).total_seconds()
            if delta > MAX_FUTURE_RELEASE:
                raise WebapiError("user", "future release cannot be more than 60 days ahead")

        subject, references, attached_messages = req.Subject, req.References, []
        if referenced:
            original, forward = referenced.original, action == replylib.FORWARD
            subject = subject or replylib.subject(original.subject, "Fwd" if forward else "Re")
            # RFC 5322 3.6.4: the reply's References continue the original's, ending with its Message-ID.
            references = references or replylib.references(original)
            if forward:
                attached_messages = [composelib.Attachment(data=referenced.data,
                                                           name=replylib.forward_filename(original.subject))]
        draft = composelib.Draft(
            sender=(sender_name, sender),
            to=to,
            cc=cc,
            bcc=bcc,
            reply_to=reply_to,
            hostname=config.Hostname,
            message_id=req.MessageID,
            references=references,
            date=req.Date,
            subject=subject,
            text=req.Text,
            html=req.HTML,
            # RFC 8689 5: a sender that prefers delivery over TLS policy says so in the message.
            headers=[(k, v) for k, v in req.Headers] + ([("TLS-Required", "No")] if req.RequireTLS is False else []),
            alternative_files=_files(req.AlternativeFiles) + call.uploads.get("alternativefile", []),
            inline_files=_files(req.InlineFiles) + call.uploads.get("inlinefile", []),
            attached_files=_files(req.AttachedFiles) + call.uploads.get("attachedfile", []),
            attached_messages=attached_messages,
        )
        try:
            # Composing takes as long as the message is large: a large one in a worker thread, off the
            # event loop (DKIM signing below is too).
            composed = await offload.run(draft.size(), composelib.compose, draft)
        except composelib.ComposeError as e:
            raise WebapiError("user", str(e)) from None
        try:
            data = await self.submitter.sign(composed.data, sender.domain)
        except submitlib.SigningFailed as e:
            log.error("dkim signing for %s: %s", sender.domain, e)
            raise WebapiError("server", "signing the message with dkim failed") from None
        if len(data) > config.MaxMessageSize:
            raise WebapiError("messageTooLarge", f"message too large: {len(data)} bytes, the maximum is {config.MaxMessageSize}")

        try:
            queued = await self.submitter.enqueue(
                account=call.account, login=call.login, mail_from=str(sender), recipients=recipients, data=data,
                message_id=composed.message_id, subject=subject, smtputf8=composed.smtputf8,
                require_tls=req.RequireTLS, extra=dict(req.Extra),
                release_at=req.FutureRelease.timestamp() if req.FutureRelease else None,
                idempotency=submitlib.Idempotency(*idempotency, lambda q: _send_response(composed.message_id, q))
                if idempotency else None)
        except Exception as e:
            if not storage_full(e):
                raise
            # As mox, a storage error is code "server"; nothing was queued, so the caller may simply retry.
            log.warning("send account=%s: queueing failed, storage full: %s", call.account, e)
            raise WebapiError("server", f"adding message to the delivery queue: {STORAGE_FULL}") from None
        if referenced:
            await self._mark_referenced(call, referenced, composed.message_id)
        if req.SaveSent:
            try:
                await self.store.account(call.account).deliver(composed.sent_copy, "Sent", flags=["\\Seen"])
            except Exception as e:
                if not storage_full(e):
                    raise
                log.warning("send account=%s message_id=%s: queued, but not stored in Sent, storage full: %s",
                            call.account, composed.message_id, e)
                # Queued already: sending again would send twice, so no "try again" here.
                raise WebapiError("server", "message queued for delivery, but not stored in the Sent mailbox: "
                                            "mail storage full") from None
        log.info("send account=%s message_id=%s recipients=%d", call.account, composed.message_id, len(queued))
        return _send_result(composed.message_id, queued)

    async def _referenced(self, call: Call, reference: t.Reference) -> Referenced | None:
        """The message a Send's Reference names; None for none."""
        if not reference.MsgID and not reference.Action:
            return None
        if reference.Action not in replylib.ACTIONS:
            raise WebapiError("user", f"unknown reference action {reference.Action[:40]!r}, "
                                      f"expected one of {', '.join(replylib.ACTIONS)}")
        # A forward carries the original's body; a reply only its header fields.
        needed = "read.body" if reference.Action == replylib.FORWARD else "read"
        if not call.allows(needed):
            raise WebapiError("permissionDenied", f"a {reference.Action} needs scope {needed} besides send")
        # Message ids are the account's own: another account's message is not found here.
        account, stored = self._message(call, reference.MsgID)
        try:
            data = await _with_bytes(account, stored, lambda data: data)
        except OSError:
            raise WebapiError("messageNotFound", "message not found") from None
        original = await offload.run(len(data), replylib.original, data)
        return Referenced(reference.Action, stored.id, original, data)

    async def _mark_referenced(self, call: Call, referenced: Referenced, message_id: str) -> None:
        """Flag the message replied to (\\Answered) or forwarded ($Forwarded), RFC 9051 2.3.2, once the
        answer is queued. The answer is on its way whatever happens here, so a failure is logged, not
        returned."""
        flag = "$Forwarded" if referenced.action == replylib.FORWARD else "\\Answered"
        try:
            await self.store.account(call.account).change_flags([referenced.msg_id], "add", [flag])
        except MessageNotFound:
            log.info("send account=%s message_id=%s: referenced message %d removed meanwhile, not flagged",
                     call.account, message_id, referenced.msg_id)
        except Exception as e:
            # Not an error of the call: it was queued, and a retry would send it twice.
            log.log(logging.WARNING if storage_full(e) else logging.ERROR,
                    "send account=%s message_id=%s: queued, but %s not set on message %d: %s",
                    call.account, message_id, flag, referenced.msg_id, e, exc_info=not storage_full(e))

    # The suppression list.

    async def SuppressionList(self, call: Call, req: t.SuppressionListRequest) -> t.SuppressionListResult:
        return t.SuppressionListResult(Suppressions=[
            t.Suppression(ID=r.id, Created=datetime.fromtimestamp(r.created, timezone.utc), Account=r.account,
                          BaseAddress=r.base_address, OriginalAddress=r.original_address, Manual=r.manual,
                          Reason=r.reason)
            for r in self.suppressions.list(call.account)])

    async def SuppressionAdd(self, call: Call, req: t.SuppressionAddRequest) -> t.SuppressionAddResult:
        address = _address(req.EmailAddress)
        try:
            await self.suppressions.add(call.account, address, req.Manual, req.Reason)
        except SuppressionExists:
            # mox passes on its database's unique-index error, with code "error".
            raise WebapiError("error", 'not unique: "Account+BaseAddress"') from None
        return t.SuppressionAddResult()

    async def SuppressionRemove(self, call: Call, req: t.SuppressionRemoveRequest) -> t.SuppressionRemoveResult:
        address = _address(req.EmailAddress)
        try:
            await self.suppressions.remove(call.account, address)
        except SuppressionAbsent:
            # mox passes on its database's error for a missing record, with code "error".
            raise WebapiError("error", "absent") from None
        return t.SuppressionRemoveResult()

    async def SuppressionPresent(self, call: Call, req: t.SuppressionPresentRequest) -> t.SuppressionPresentResult:
        address = _address(req.EmailAddress)
        return t.SuppressionPresentResult(Present=self.suppressions.lookup(call.account, address) is not None)

    # Reading messages.

    def _message(self, call: Call, msg_id: int):
        account = self.store.account(call.account)
        message = account.message(msg_id)
        if message is None:
            raise WebapiError("messageNotFound", "message not found")
        return account, message

    async def MessageGet(self, call: Call, req: t.MessageGetRequest) -> t.MessageGetResult:
        account, stored = self._message(call, req.MsgID)
        # The MIME tree stored at delivery, so the structure takes no second parse of the message.
        found = account.messages(stored.mailbox_id, [stored.uid], parts=True)
        root = account.message_parts(found[0]) if found and found[0].parts else None
        view = await _with_bytes(account, stored, lambda data: msgview.build(data, root))
        message = msgspec.convert(view, t.Message, from_attributes=True)
        message.References = view.thread_references
        if call.viewer:
            # A viewer gets the envelope, structure and metadata; the bodies stay here.
            message.Text = message.HTML = ""
        mailbox = account.mailbox_by_id(stored.mailbox_id)
        meta = stored.meta
        return t.MessageGetResult(
            Message=message,
            Structure=msgspec.convert(view.Structure, Structure),
            Meta=t.MessageMeta(
                Size=stored.size,
                DSN=meta.dsn,
                Flags=summarylib.flags(stored.flags),
                MailFrom=meta.mail_from,
                MailFromValidated=meta.mail_from_validated,
                RcptTo=meta.rcpt_to,
                MsgFrom=stored.msg_from,
                MsgFromValidated=meta.msg_from_validated,
                DKIMVerifiedDomains=meta.dkim_domains,
                RemoteIP=meta.remote_ip,
                MailboxName=mailbox.name if mailbox else "",
            ),
            Viewer=call.viewer,
        )

    async def MessageRawGet(self, call: Call, req: t.MessageRawGetRequest) -> Raw | RawFile:
        account, message = self._message(call, req.MsgID)
        # mox labels raw messages text/plain so browsers show them.
        content_type = "text/plain; charset=utf-8"
        if message.size > LARGE_MESSAGE:
            return RawFile(await asyncio.to_thread(account.open_message, message), message.size, content_type)
        return Raw(await _with_bytes(account, message, lambda data: data), content_type)


    async def MessagePartGet(self, call: Call, req: t.MessagePartGetRequest) -> Raw:
        account, message = self._message(call, req.MsgID)

        data, part = await _with_bytes(account, message, lambda data: (data, partlib.parse(data)))
        # As mox, a path goes into multipart parts only: a message/rfc822 part is a leaf.
        for depth, index in enumerate(req.PartPath):
            if not 0 <= index < len(part.parts):
                raise WebapiError("partNotFound", f"part {index} at index {depth} not found")
            part = part.parts[index]
        return Raw(await offload.run(part.size, msgparse.part_body, data, part),
                   msgparse.part_content_type(part))

    # Listing and searching messages, from the index.

    async def MessageList(self, call: Call, req: t.MessageListRequest) -> t.MessageListResult:
        account = self.store.account(call.account)
        mailbox = account.mailbox(req.Mailbox or "Inbox")
        if mailbox is None:
            raise WebapiError("user", f"mailbox not found: {req.Mailbox!r}")
        return _for_viewer(call, await self._page(account, MessageFilter(mailbox_ids=[mailbox.id]), req,
                                                  t.MessageListResult))

    async def MessageSearch(self, call: Call, req: t.MessageSearchRequest) -> t.MessageSearchResult:
        if call.viewer and (req.Body or req.Text):
            # Which words a body holds is its content too.
            raise WebapiError("permissionDenied", "searching in bodies (Body, Text) needs scope read.body")
        account = self.store.account(call.account)
        if req.Mailbox:
            mailbox = account.mailbox(req.Mailbox)
            if mailbox is None:
                raise WebapiError("user", f"mailbox not found: {req.Mailbox!r}")
            mailbox_ids = [mailbox.id]
        else:
            mailbox_ids = [m.id for m in account.mailboxes() if m.special_use not in ("\\Trash", "\\Junk")]
        if req.LargerThan < 0 or req.SmallerThan < 0:
            raise WebapiError("user", "LargerThan and SmallerThan cannot be negative")
        flags, not_flags = list(req.Flags), list(req.NotFlags)
        if req.Unread is not None:
            (not_flags if req.Unread else flags).append("\\Seen")
        if req.Flagged is not None:
            (flags if req.Flagged else not_flags).append("\\Flagged")
        message_id = req.MessageID.strip()
        if message_id and not message_id.startswith("<"):
            message_id = f"<{message_id}>"
        selected = MessageFilter(
            mailbox_ids=mailbox_ids, from_=req.From, to=req.To, subject=req.Subject, body=req.Body, text=req.Text,
            since=req.Since.timestamp() if req.Since else None, before=req.Before.timestamp() if req.Before else None,
            flags=flags, not_flags=not_flags, has_attachments=req.HasAttachments, larger_than=req.LargerThan,
            smaller_than=req.SmallerThan, message_id=message_id)
        return _for_viewer(call, await self._page(account, selected, req, t.MessageSearchResult))

    async def _page(self, account, selected: MessageFilter, req, result_type):
        """The page of summaries a request (with Page, PageSize, Cursor) asks for, as result_type."""
        size = req.PageSize or pagination.DEFAULT_PAGE_SIZE
        if not 1 <= size <= pagination.MAX_PAGE_SIZE:
            raise WebapiError("user", f"PageSize must be between 1 and {pagination.MAX_PAGE_SIZE}")
        if req.Page < 0:
            raise WebapiError("user", "Page cannot be negative")
        if req.Page and req.Cursor:
            raise WebapiError("user", "give either Page or Cursor, not both")
        try:
            after = pagination.decode_cursor(req.Cursor) if req.Cursor else None
        except ValueError as e:
            raise WebapiError("user", str(e)) from None
        page = req.Page or 1
        offset = min((page - 1) * size, pagination.MAX_OFFSET)
        try:
            # A search of a large account may take a while: off the event loop.
            found = await asyncio.to_thread(account.summary_page, selected, size, offset=offset, after=after)
        except (SearchError, flaglib.FlagError) as e:
            raise WebapiError("user", str(e)) from None
        if after is not None:
            page = found.offset // size + 1
        last = found.summaries[-1] if found.summaries else None
        return result_type(
            Messages=[summarylib.message_summary(s) for s in found.summaries],
            Total=found.total,
            Page=page,
            Pages=-(-found.total // size),
            NextCursor=pagination.encode_cursor(last.received, last.id) if found.more and last else "",
        )

    async def MessageTextGet(self, call: Call, req: t.MessageTextGetRequest) -> t.MessageTextGetResult:
        if req.MaxBytes < 0:
            raise WebapiError("user", "MaxBytes cannot be negative")
        max_bytes = req.MaxBytes or msgparse.READABLE_LIMIT
        account, stored = self._message(call, req.MsgID)
        found = account.messages(stored.mailbox_id, [stored.uid], parts=True)
        root = account.message_parts(found[0]) if found and found[0].parts else None

        def cut(data: bytes) -> t.MessageTextGetResult:
            text, html = readable.texts(data, root if root is not None else partlib.parse(data))
            text_cut, text_truncated = readable.cut(text, max_bytes)
            html_cut, html_truncated = readable.cut(html, max_bytes)
            return t.MessageTextGetResult(Text=text_cut, HTML=html_cut, TextTruncated=text_truncated,
                                          HTMLTruncated=html_truncated, TextSize=readable.utf8_size(text),
                                          HTMLSize=readable.utf8_size(html))

        return await _with_bytes(account, stored, cut)

    # Changing messages.

    async def MessageDelete(self, call: Call, req: t.MessageDeleteRequest) -> t.MessageDeleteResult:
        try:
            await self.store.account(call.account).delete(req.MsgID)
        except MessageNotFound:
            raise WebapiError("messageNotFound", "message not found") from None
        return t.MessageDeleteResult()

    async def MessageFlagsAdd(self, call: Call, req: t.MessageFlagsAddRequest) -> t.MessageFlagsAddResult:
        await self._change_flags(call, req.MsgID, "add", req.Flags)
        return t.MessageFlagsAddResult()

    async def MessageFlagsRemove(self, call: Call, req: t.MessageFlagsRemoveRequest) -> t.MessageFlagsRemoveResult:
        await self._change_flags(call, req.MsgID, "remove", req.Flags)
        return t.MessageFlagsRemoveResult()

    async def _change_flags(self, call: Call, msg_id: int, mode: str, flags: list[str]) -> None:
        try:
            await self.store.account(call.account).change_flags([msg_id], mode, flags)
        except MessageNotFound:
            raise WebapiError("messageNotFound", "message not found") from None
        except flaglib.FlagError as e:
            raise WebapiError("user", str(e)) from None

    async def MessageMove(self, call: Call, req: t.MessageMoveRequest) -> t.MessageMoveResult:
        # Checks in mox's order and with its messages: the mailbox, the message, then whether it is already there.
        account = self.store.account(call.account)
        mailbox = account.mailbox(req.DestMailboxName)
        if mailbox is None:
            raise WebapiError("user", "looking up mailbox name: not found")
        _, message = self._message(call, req.MsgID)
        if message.mailbox_id == mailbox.id:
            raise WebapiError("user", f"moving message: message {req.MsgID} already in destination mailbox")
        try:
            await account.move([req.MsgID], req.DestMailboxName)
        except MessageNotFound:
            raise WebapiError("messageNotFound", "message not found") from None
        except MailboxNotFound:
            raise WebapiError("user", "looking up mailbox name: not found") from None
        return t.MessageMoveResult()

    # Mailboxes. Names are checked by the store's rules, the ones IMAP's CREATE and RENAME follow too, so
    # a mailbox made here is one an IMAP client can use, and the other way round.

    async def MailboxList(self, call: Call, req: t.MailboxListRequest) -> t.MailboxListResult:
        account = self.store.account(call.account)
        result = []
        for box in account.mailboxes():
            status = account.mailbox_status(box.id)
            result.append(t.Mailbox(
                Name=box.name, ID=box.id,
                SpecialUse="\\Inbox" if box.name == mailboxname.INBOX else box.special_use,
                Total=status.messages, Unread=status.unseen, Size=status.size,
                UIDValidity=box.uidvalidity, UIDNext=box.uidnext))
        return t.MailboxListResult(Mailboxes=result)

    async def MailboxCreate(self, call: Call, req: t.MailboxCreateRequest) -> t.MailboxCreateResult:
        name = _mailbox_name(req.Name)
        try:
            await self.store.account(call.account).create_mailbox(name)
        except MailboxExists:
            raise WebapiError("user", f"creating mailbox: mailbox {name!r} already exists") from None
        return t.MailboxCreateResult()

    async def MailboxRename(self, call: Call, req: t.MailboxRenameRequest) -> t.MailboxRenameResult:
        account = self.store.account(call.account)
        box = self._changeable_mailbox(account, req.Name, "renaming")
        new = _mailbox_name(req.NewName)
        try:
            await account.rename_mailbox(box.name, new)
        except MailboxNotFound:
            raise WebapiError("user", f"renaming mailbox: mailbox {box.name!r} not found") from None
        except MailboxExists:
            raise WebapiError("user", f"renaming mailbox: mailbox {new!r} already exists") from None
        except MailboxError as e:
            raise WebapiError("user", f"renaming mailbox: {e}") from None
        return t.MailboxRenameResult()

    async def MailboxDelete(self, call: Call, req: t.MailboxDeleteRequest) -> t.MailboxDeleteResult:
        account = self.store.account(call.account)
        box = self._changeable_mailbox(account, req.Name, "deleting")
        try:
            await account.delete_mailbox(box.name)
        except MailboxNotFound:
            raise WebapiError("user", f"deleting mailbox: mailbox {box.name!r} not found") from None
        except MailboxError as e:
            raise WebapiError("user", f"deleting mailbox: {e}") from None
        return t.MailboxDeleteResult()

    def _changeable_mailbox(self, account, name: str, doing: str):
        """The mailbox a rename or delete may change: it exists and is neither the inbox nor special-use,
        which clients find by their role (RFC 6154) and the server delivers to."""
        name = _mailbox_name(name)
        box = account.mailbox(name)
        if box is None:
            raise WebapiError("user", f"{doing} mailbox: mailbox {name!r} not found")
        if box.name == mailboxname.INBOX:
            raise WebapiError("user", f"{doing} mailbox: the inbox cannot be renamed or deleted")
        if box.special_use:
            raise WebapiError("user", f"{doing} mailbox: {box.name!r} is the special-use {box.special_use} mailbox "
                                      "and cannot be renamed or deleted")
        return box


    # The change log.

    async def ChangesSince(self, call: Call, req: t.ChangesSinceRequest) -> t.ChangesSinceResult:
        if not 0 <= req.Limit <= changelib.MAX_LIMIT:
            raise WebapiError("user", f"limit must be between 1 and {changelib.MAX_LIMIT}, or 0 for {changelib.DEFAULT_LIMIT}")
        position = changelib.position(req.Cursor) if req.Cursor else None
        account = self.store.account(call.account)
        try:
            entries, after, more = account.changes_since(position, req.Limit or changelib.DEFAULT_LIMIT)
        except ChangesExpired:
            raise WebapiError("cursorExpired", "the changes after this cursor are no longer kept: resynchronise, "
                                               'then continue with a new cursor (Cursor "")') from None
        except ChangePositionUnknown:
            raise WebapiError("user", "cursor is ahead of the account's changes: not a cursor of this account") from None
        events = changelib.events(account, entries)
        if call.viewer:
            for event in events:
                if event.Message is not None:
                    event.Message.Preview = ""
        return t.ChangesSinceResult(Changes=events, NextCursor=changelib.cursor(after), More=more)

    # API tokens, of the caller's account only.

    async def TokenCreate(self, call: Call, req: t.TokenCreateRequest) -> t.TokenCreateResult:
        try:
            scopes = tokenlib.parse_scopes(req.Scopes)
            lifetime = tokenlib.parse_duration(req.Expires)
        except ValueError as e:
            raise WebapiError("user", str(e)) from None
        if len(req.Name) > 200:
            raise WebapiError("user", "name longer than 200 characters")
        # A token never makes one that can do more than itself.
        missing = [s for s in scopes if not call.allows(s)]
        if missing:
            raise WebapiError("permissionDenied", f"cannot grant scope {missing[0]!r}: the calling token lacks it")
        record, token = await tokenlib.create(self._tokens(), call.account, scopes, req.Name, lifetime)
        return t.TokenCreateResult(**msgspec.structs.asdict(_token_info(record)), Token=token)

    async def TokenList(self, call: Call, req: t.TokenListRequest) -> t.TokenListResult:
        return t.TokenListResult(Tokens=[_token_info(r) for r in self._tokens().list(call.account)])

    async def TokenRevoke(self, call: Call, req: t.TokenRevokeRequest) -> t.TokenRevokeResult:
        if req.ID <= 0 or not await self._tokens().revoke(req.ID, call.account, datetime.now(timezone.utc).timestamp()):
            raise WebapiError("tokenNotFound", f"no token with id {req.ID}")
        return t.TokenRevokeResult()

    def _tokens(self) -> TokenStore:
        if self.tokens is None:
            raise WebapiError("server", "tokens are not available")
        return self.tokens


def _time(timestamp: float) -> datetime | None:
    return datetime.fromtimestamp(timestamp, timezone.utc) if timestamp else None


def _token_info(record: TokenRecord) -> t.TokenInfo:
    return t.TokenInfo(ID=record.id, Name=record.name, Scopes=list(record.scopes), Created=_time(record.created),
                       Expires=_time(record.expires), Revoked=_time(record.revoked))


def _for_viewer(call: Call, result):
    """A page of summaries as a viewer may see it: without the previews, which are the start of the text."""
    if call.viewer:
        for summary in result.Messages:
            summary.Preview = ""
    return result


def _send_result(message_id: str, queued: list[submitlib.Queued]) -> t.SendResult:
    return t.SendResult(
        MessageID=message_id,
        Submissions=[t.Submission(Address=q.address, QueueMsgID=q.queue_id, FromID=q.from_id) for q in queued],
    )


def _send_response(message_id: str, queued: list[submitlib.Queued]) -> str:
    """A Send's response as kept for repeats under its idempotency key."""
    return codec.encode(_send_result(message_id, queued)).decode()


def _idempotency_key(call: Call, req: t.SendRequest) -> str:
    """The Send's idempotency key, from the header or the request; "" for none."""
    key = req.IdempotencyKey
    if call.idempotency_key is not None:
        if key and key != call.idempotency_key:
            raise WebapiError("user", "Idempotency-Key header and IdempotencyKey field differ")
        key = call.idempotency_key
        if not key:
            raise WebapiError("user", "empty Idempotency-Key header")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise WebapiError("user", f"idempotency key longer than {MAX_IDEMPOTENCY_KEY} characters")
    return key


def _request_digest(call: Call, req: t.SendRequest) -> str:
    """SHA-256 over what makes a Send what it is: the login (the default From), the request without its key,
    with its fields in a fixed order, and the uploaded files."""
    h = hashlib.sha256()
    h.update(call.login.lower().encode() + b"\0")
    h.update(msgspec.json.encode(msgspec.structs.replace(req, IdempotencyKey=""), order="sorted"))
    for form_key in sorted(call.uploads):
        for upload in call.uploads[form_key]:
            h.update(b"\0" + msgspec.json.encode([form_key, upload.name, upload.content_type, upload.content_id,
                                                   hashlib.sha256(upload.data).hexdigest()]))
    return h.hexdigest()


def _reply_recipients(config, account: str, original: replylib.Original, everyone: bool):
    """(To, CC) of a reply with no recipients of its own, as (name, Address) pairs. An address in the
    original that cannot be parsed is a badAddress error in To; in a reply to all it is left out of CC."""
    own = lambda address: configlib.may_send_as(config, account, address)
    to, cc = replylib.reply_recipients(original, everyone, own)
    parsed_cc = []
    for name, text in cc:
        try:
            parsed_cc.append((name, parse_address(text)))
        except AddressError:
            continue
    return [(name, _address(text)) for name, text in to], parsed_cc


def _mailbox_name(name: str) -> str:
    try:
        return mailboxname.check(name)
    except MailboxError as e:
        raise WebapiError("user", f"{e}: {name[:100]!r}") from None


def _address(text: str) -> Address:
    try:
        return parse_address(text)
    except AddressError as e:
        raise WebapiError("badAddress", f"parsing address {text!r}: {e}") from None


def _files(files: list[t.File]) -> list[composelib.Attachment]:
    result = []
    for f in files:
        try:
            data = base64.b64decode(f.Data, validate=True)
        except (binascii.Error, ValueError):
            raise WebapiError("user", f"file {f.Name!r}: invalid base64 data") from None
        result.append(composelib.Attachment(data=data, name=f.Name, content_type=f.ContentType, content_id=f.ContentID))
    return result
