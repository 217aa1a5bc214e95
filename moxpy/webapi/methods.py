"""The webapi methods: one async function per method, over the store and queue.

Each takes the authenticated call and a decoded request, and returns a
response struct (or bytes with a content type for the raw methods). Errors
are raised as WebapiError with a code from SPEC.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import msgspec

from .. import config as configlib
from .. import queue as queuelib
from ..message import compose as composelib
from ..message import dkim
from ..message import parse as msgparse
from ..message import part as partlib
from ..message.address import Address, AddressError, parse_address
from ..queue import Queue, Submission
from ..queue.suppression import SuppressionAbsent, SuppressionExists, Suppressions
from ..store import MailboxNotFound, MessageNotFound, Store
from ..store import flags as flaglib
from ..webhooks.types import NameAddress, Structure
from . import types as t
from .errors import WebapiError

log = logging.getLogger("moxpy.webapi")

MAX_FUTURE_RELEASE = 60 * 24 * 3600


@dataclass
class Call:
    """The authenticated caller of one method call."""

    account: str
    login: str  # the address used to log in
    remote_ip: str
    # Files uploaded with multipart/form-data, by form key: alternativefile, inlinefile, attachedfile.
    uploads: dict[str, list[composelib.Attachment]] = field(default_factory=dict)


@dataclass
class Raw:
    """A method result that is bytes, not JSON."""

    data: bytes
    content_type: str


class API:
    def __init__(self, get_config, store: Store, queue: Queue, suppressions: Suppressions):
        self.get_config = get_config
        self.store = store
        self.queue = queue
        self.suppressions = suppressions

    # Sending.

    async def Send(self, call: Call, req: t.SendRequest) -> t.SendResult:
        config = self.get_config()
        account = config.Accounts[call.account]

        # Checks in mox's order, so the same bad request gets the same error code.
        if not req.Text and not req.HTML:
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
        reply_to = [(n.Name, _address(n.Address)) for n in req.ReplyTo]
        recipients = to + cc + bcc
        if not configlib.may_send_as(config, call.account, str(sender)):
            raise WebapiError("badFrom", "from-address not configured for account")
        if not recipients:
            raise WebapiError("noRecipients", "no recipients")
        limit = self.queue.limit_reached(call.account, [str(r) for _, r in recipients],
                                         account.MaxOutgoingMessagesPerDay, account.MaxFirstTimeRecipientsPerDay)
        if limit == "messages":
            raise WebapiError("messageLimitReached", "outgoing message rate limit reached")
        if limit == "recipients":
            raise WebapiError("recipientLimitReached", "outgoing new recipient rate limit reached")
        if req.MessageID and not (req.MessageID.startswith("<") and req.MessageID.endswith(">")):
            raise WebapiError("malformedMessageID", "missing <> in message-id")
        if req.FutureRelease is not None:
            delta = (req.FutureRelease - datetime.now(timezone.utc)).total_seconds()
            if delta > MAX_FUTURE_RELEASE:
                raise WebapiError("user", "future release cannot be more than 60 days ahead")

        draft = composelib.Draft(
            sender=(sender_name, sender),
            to=to,
            cc=cc,
            bcc=bcc,
            reply_to=reply_to,
            hostname=config.Hostname,
            message_id=req.MessageID,
            references=req.References,
            date=req.Date,
            subject=req.Subject,
            text=req.Text,
            html=req.HTML,
            # RFC 8689 5: a sender that prefers delivery over TLS policy says so in the message.
            headers=[(k, v) for k, v in req.Headers] + ([("TLS-Required", "No")] if req.RequireTLS is False else []),
            alternative_files=_files(req.AlternativeFiles) + call.uploads.get("alternativefile", []),
            inline_files=_files(req.InlineFiles) + call.uploads.get("inlinefile", []),
            attached_files=_files(req.AttachedFiles) + call.uploads.get("attachedfile", []),
        )
        try:
            composed = composelib.compose(draft)
        except composelib.ComposeError as e:
            raise WebapiError("user", str(e)) from None
        try:
            data = await dkim.sign(config, composed.data, sender.domain)
        except dkim.DKIMError as e:
            log.error("dkim signing for %s: %s", sender.domain, e)
            raise WebapiError("server", "signing the message with dkim failed") from None
        if len(data) > config.MaxMessageSize:
            raise WebapiError("messageTooLarge", f"message too large: {len(data)} bytes, the maximum is {config.MaxMessageSize}")

        queue_recipients = queuelib.recipients(config, call.account, call.login, str(sender),
                                               [str(rcpt) for _, rcpt in recipients])

        submission = Submission(
            account=call.account,
            sender=str(sender),
            recipients=queue_recipients,
            data=data,
            message_id=composed.message_id,
            subject=req.Subject,
            smtputf8=composed.smtputf8,
            require_tls=req.RequireTLS,
            extra=dict(req.Extra),
            release_at=req.FutureRelease.timestamp() if req.FutureRelease else None,
        )
        ids = await self.queue.add(submission)
        if req.SaveSent:
            await self.store.account(call.account).deliver(composed.sent_copy, "Sent", flags=["\\Seen"])
        log.info("send account=%s message_id=%s recipients=%d", call.account, composed.message_id, len(ids))
        return t.SendResult(
            MessageID=composed.message_id,
            Submissions=[t.Submission(Address=r.address, QueueMsgID=i, FromID=r.from_id)
                         for r, i in zip(queue_recipients, ids)],
        )

    # The suppression list.

    async def SuppressionList(self, call: Call, req: t.SuppressionListRequest) -> t.SuppressionListResult:
        return t.SuppressionListResult(Suppressions=[
            t.Suppression(ID=r["id"], Created=datetime.fromtimestamp(r["created"], timezone.utc), Account=r["account"],
                          BaseAddress=r["base_address"], OriginalAddress=r["original_address"],
                          Manual=bool(r["manual"]), Reason=r["reason"])
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
        account, message = self._message(call, req.MsgID)
        # Reading and parsing take as long as the message is large: in worker threads, off the event loop.
        data = await asyncio.to_thread(account.message_bytes, message)
        msg = await asyncio.to_thread(msgparse.parse, data)
        text, html = await asyncio.to_thread(msgparse.readable_parts, msg)
        mailbox = account.mailbox_by_id(message.mailbox_id)
        meta = message.meta
        return t.MessageGetResult(
            Message=t.Message(
                From=_names(msg, "From"),
                To=_names(msg, "To"),
                CC=_names(msg, "Cc"),
                BCC=_names(msg, "Bcc"),
                ReplyTo=_names(msg, "Reply-To"),
                MessageID=msgparse.header_str(msg, "Message-ID"),
                References=msgparse.references(msg),
                Date=msgparse.date(msg),
                Subject=msgparse.header_str(msg, "Subject"),
                Text=text,
                HTML=html,
            ),
            Structure=await asyncio.to_thread(structure, data),
            Meta=t.MessageMeta(
                Size=message.size,
                DSN=meta.dsn,
                Flags=_flags(message.flags),
                MailFrom=meta.mail_from,
                MailFromValidated=meta.mail_from_validated,
                RcptTo=meta.rcpt_to,
                MsgFrom=message.msg_from,
                MsgFromValidated=meta.msg_from_validated,
                DKIMVerifiedDomains=meta.dkim_domains,
                RemoteIP=meta.remote_ip,
                MailboxName=mailbox.name if mailbox else "",
            ),
        )

    async def MessageRawGet(self, call: Call, req: t.MessageRawGetRequest) -> Raw:
        account, message = self._message(call, req.MsgID)
        # mox labels raw messages text/plain so browsers show them.
        return Raw(await asyncio.to_thread(account.message_bytes, message), "text/plain; charset=utf-8")


    async def MessagePartGet(self, call: Call, req: t.MessagePartGetRequest) -> Raw:
        account, message = self._message(call, req.MsgID)
        data = await asyncio.to_thread(account.message_bytes, message)
        part = await asyncio.to_thread(partlib.parse, data)
        # As mox, a path goes into multipart parts only: a message/rfc822 part is a leaf.
        for depth, index in enumerate(req.PartPath):
            if not 0 <= index < len(part.parts):
                raise WebapiError("partNotFound", f"part {index} at index {depth} not found")
            part = part.parts[index]
        return Raw(await asyncio.to_thread(msgparse.part_body, data, part), msgparse.part_content_type(part))

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


def structure(data: bytes) -> Structure:
    return msgspec.convert(msgparse.structure(data), Structure)


def _flags(flags: list[str]) -> list[str]:
    # As mox lists them: system flags lower case and sorted, then keywords.
    return sorted(f.lower() for f in flags if flaglib.is_system(f)) + [f for f in flags if not flaglib.is_system(f)]


def _names(msg, header: str) -> list[NameAddress]:
    return [NameAddress(Name=name, Address=address) for name, address in msgparse.addresses(msg, header)]


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
