"""Example requests and responses of each method, for the HTML method
pages and the generated docs. They are instances of the method types, so
they always have every field and cannot drift from the API.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..webhooks.types import NameAddress, Structure
from . import types as t

_when = datetime(2024, 4, 4, 14, 29, 42, tzinfo=timezone.utc)

REQUESTS = {
    "Send": t.SendRequest(To=[NameAddress(Address="mox@localhost")], Subject="hello", Text="hi ☺",
                          Extra={"customer": "1234"}),
    "SuppressionList": t.SuppressionListRequest(),
    "SuppressionAdd": t.SuppressionAddRequest(EmailAddress="bounces@example.org", Manual=True, Reason="asked to stop"),
    "SuppressionRemove": t.SuppressionRemoveRequest(EmailAddress="bounces@example.org"),
    "SuppressionPresent": t.SuppressionPresentRequest(EmailAddress="bounces@example.org"),
    "MessageGet": t.MessageGetRequest(MsgID=1),
    "MessageRawGet": t.MessageRawGetRequest(MsgID=1),
    "MessagePartGet": t.MessagePartGetRequest(MsgID=1, PartPath=[0]),
    "MessageDelete": t.MessageDeleteRequest(MsgID=1),
    "MessageFlagsAdd": t.MessageFlagsAddRequest(MsgID=1, Flags=["\\Seen", "custom"]),
    "MessageFlagsRemove": t.MessageFlagsRemoveRequest(MsgID=1, Flags=["\\Seen", "custom"]),
    "MessageMove": t.MessageMoveRequest(MsgID=1, DestMailboxName="Archive"),
    "MailboxList": t.MailboxListRequest(),
    "MailboxCreate": t.MailboxCreateRequest(Name="Projects/2024"),
    "MailboxRename": t.MailboxRenameRequest(Name="Projects/2024", NewName="Archive/2024"),
    "MailboxDelete": t.MailboxDeleteRequest(Name="Archive/2024"),
    "MessageList": t.MessageListRequest(Mailbox="Inbox", Page=1, PageSize=20),
    "MessageSearch": t.MessageSearchRequest(From="mox@localhost", Body="hi", Unread=True),
    "MessageTextGet": t.MessageTextGetRequest(MsgID=1, MaxBytes=1024 * 1024),
}

_summary = t.MessageSummary(
    MsgID=1, UID=1, MailboxName="Inbox", Received=_when, Date=_when, Size=512, Flags=[], Subject="hello",
    From=[NameAddress("mox", "mox@localhost")], To=[NameAddress("", "mox@localhost")],
    MessageID="<kVTha0Q-a5Zh1MuTh5rUjg@localhost>", Preview="hi ☺", TextSize=7)

RESPONSES = {
    "Send": t.SendResult(MessageID="<kVTha0Q-a5Zh1MuTh5rUjg@localhost>",
                         Submissions=[t.Submission(Address="mox@localhost", QueueMsgID=1, FromID="")]),
    "SuppressionList": t.SuppressionListResult(Suppressions=[t.Suppression(
        ID=1, Created=_when, Account="mox", BaseAddress="bounces@example.org",
        OriginalAddress="bounces@example.org", Manual=True, Reason="asked to stop")]),
    "SuppressionAdd": t.SuppressionAddResult(),
    "SuppressionRemove": t.SuppressionRemoveResult(),
    "SuppressionPresent": t.SuppressionPresentResult(Present=True),
    "MessageGet": t.MessageGetResult(
        Message=t.Message(From=[NameAddress("mox", "mox@localhost")], To=[NameAddress("", "mox@localhost")],
                          MessageID="<kVTha0Q-a5Zh1MuTh5rUjg@localhost>", Date=_when, Subject="hello",
                          Text="hi ☺\n"),
        Structure=Structure(ContentType="text/plain", ContentTypeParams={"charset": "utf-8"}, DecodedSize=8),
        Meta=t.MessageMeta(Size=512, Flags=["\\seen"], MailFrom="mox@localhost", RcptTo="mox@localhost",
                           MsgFrom="mox@localhost", RemoteIP="127.0.0.1", MailboxName="Inbox"),
    ),
    "MessageDelete": t.MessageDeleteResult(),
    "MessageFlagsAdd": t.MessageFlagsAddResult(),
    "MessageFlagsRemove": t.MessageFlagsRemoveResult(),
    "MessageMove": t.MessageMoveResult(),
    "MailboxList": t.MailboxListResult(Mailboxes=[
        t.Mailbox(Name="Inbox", ID=1, SpecialUse="\\Inbox", Total=2, Unread=1, Size=3072, UIDValidity=1712240982,
                  UIDNext=3),
        t.Mailbox(Name="Sent", ID=2, SpecialUse="\\Sent", Total=1, Unread=0, Size=1024, UIDValidity=1712240983,
                  UIDNext=2),
        t.Mailbox(Name="Projects", ID=7, SpecialUse="", Total=0, Unread=0, Size=0, UIDValidity=1712241000,
                  UIDNext=1),
    ]),
    "MailboxCreate": t.MailboxCreateResult(),
    "MailboxRename": t.MailboxRenameResult(),
    "MailboxDelete": t.MailboxDeleteResult(),
    "MessageList": t.MessageListResult(Messages=[_summary], Total=1, Page=1, Pages=1, NextCursor=""),
    "MessageSearch": t.MessageSearchResult(Messages=[_summary], Total=1, Page=1, Pages=1, NextCursor=""),
    "MessageTextGet": t.MessageTextGetResult(Text="hi ☺\n", TextSize=7),
}
