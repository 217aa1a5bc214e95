"""Example requests and responses of each method, for the HTML method
pages and the generated docs. They are instances of the method types, so
they always have every field and cannot drift from the API.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec

from .. import sieve
from ..webhooks.types import NameAddress, Structure
from . import types as t
from .rules import to_model

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
    "ChangesSince": t.ChangesSinceRequest(Cursor="41.1", Limit=100),
    "TokenCreate": t.TokenCreateRequest(Name="newsletter app", Scopes=["send", "suppressions"], Expires="720h"),
    "TokenList": t.TokenListRequest(),
    "TokenRevoke": t.TokenRevokeRequest(ID=1),
    "AccountExists": t.AccountExistsRequest(Name="mox"),
    "AccountCreate": t.AccountCreateRequest(Name="bob@localhost", Password="correct horse battery"),
    "AccountSetPassword": t.AccountSetPasswordRequest(Name="bob@localhost", Password="battery staple horse"),
    "AccountDelete": t.AccountDeleteRequest(Name="bob@localhost"),
    "AccountPurge": t.AccountPurgeRequest(Name="bob@localhost"),
    "AccountUnreadCount": t.AccountUnreadCountRequest(Name="bob@localhost"),
    "FetchRuleAdd": t.FetchRuleAddRequest(Account="mox", Protocol="imap", Host="imap.example.org", Port=993,
                                          TLS="implicit", Username="mox", Password="secret", Mailbox="INBOX",
                                          IntervalSeconds=300),
    "FetchRuleUpdate": t.FetchRuleUpdateRequest(ID=1, Account="mox", Protocol="imap", Host="imap.example.org",
                                                Port=993, TLS="implicit", Username="mox", Mailbox="INBOX",
                                                DeleteAfterFetch=True, IntervalSeconds=600),
    "FetchRuleDelete": t.FetchRuleDeleteRequest(ID=1),
    "FetchRuleList": t.FetchRuleListRequest(Account="mox"),
    "RuleCreate": t.RuleCreateRequest(
        Account="mox", Name="newsletters", Join="or",
        Conditions=[t.RuleCondition("From", "matches", "*@news.example.org"),
                    t.RuleCondition("Header:List-Id", "contains", "newsletter")],
        Action=t.RuleAction("storeIn", "Newsletters")),
    "RuleUpdate": t.RuleUpdateRequest(
        Account="mox", Name="newsletters", Join="or", Disabled=True,
        Conditions=[t.RuleCondition("From", "matches", "*@news.example.org")],
        Action=t.RuleAction("storeIn", "Newsletters")),
    "RuleDelete": t.RuleDeleteRequest(Account="mox", Name="newsletters"),
    "RuleList": t.RuleListRequest(Account="mox", Format="sieve"),
    "ListCreate": t.ListCreateRequest(Name="Announcements", FromAddress="mox+news@localhost", FromName="Mox news",
                                      ConfirmSubject="Please confirm your subscription",
                                      ConfirmText="Follow the link to get our announcements, about once a month."),
    "ListGet": t.ListGetRequest(ListID=1),
    "ListUpdate": t.ListUpdateRequest(ListID=1, Name="Announcements", FromAddress="mox+news@localhost",
                                      FromName="Mox announcements"),
    "ListDelete": t.ListDeleteRequest(ListID=1),
    "ListsList": t.ListsListRequest(),
    "ListMembers": t.ListMembersRequest(ListID=1, Status="confirmed", Page=1, PageSize=100),
}

_summary = t.MessageSummary(
    MsgID=1, UID=1, MailboxName="Inbox", Received=_when, Date=_when, Size=512, Flags=[], Subject="hello",
    From=[NameAddress("mox", "mox@localhost")], To=[NameAddress("", "mox@localhost")],
    MessageID="<kVTha0Q-a5Zh1MuTh5rUjg@localhost>", Preview="hi ☺", TextSize=7)

_rule_newsletters = t.Rule(Name="newsletters", Join="or", Conditions=REQUESTS["RuleCreate"].Conditions,
                           Action=t.RuleAction("storeIn", "Newsletters"), Position=1)
_rules = [
    _rule_newsletters,
    t.Rule(Name="spam", Join="and", Conditions=[t.RuleCondition("Header:X-Spam-Flag", "is", "YES")],
           Action=t.RuleAction("storeIn", "Junk"), Position=2),
    t.Rule(Name="big", Join="and", Conditions=[t.RuleCondition("Size", "greaterThan", "10000000")],
           Action=t.RuleAction("forward", "archive@example.org"), Position=3),
]


_list = t.MailingList(ListID=1, Name="Announcements", FromAddress="mox+news@localhost", FromName="Mox news",
                      ConfirmSubject="Please confirm your subscription",
                      ConfirmText="Follow the link to get our announcements, about once a month.", Created=_when)

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
    "ChangesSince": t.ChangesSinceResult(Changes=[
        t.ChangeEvent(Event="messageUpdated", Cursor="42.1", Time=_when, MailboxID=1, MailboxName="Inbox", MsgID=1,
                      UID=1, Added=["\\seen"]),
        t.ChangeEvent(Event="messageDeleted", Cursor="43.1", Time=_when, MailboxID=1, MailboxName="Inbox", MsgID=1,
                      UID=1),
        t.ChangeEvent(Event="messageNew", Cursor="43.2", Time=_when, MailboxID=3, MailboxName="Archive", MsgID=1,
                      UID=1, Message=msgspec.structs.replace(_summary, MailboxName="Archive", Flags=["\\seen"])),
    ], NextCursor="43.2", More=False),
    "TokenCreate": t.TokenCreateResult(ID=1, Name="newsletter app", Scopes=["send", "suppressions"], Created=_when,
                                       Expires=_when + timedelta(hours=720),
                                       Token="mxt_3q2-7wAAAAC6KgpCAAAAAIlTbmRyV2VhdGhlcl9leGF"),
    "TokenList": t.TokenListResult(Tokens=[t.TokenInfo(ID=1, Name="newsletter app", Scopes=["send", "suppressions"],
                                                       Created=_when, Expires=_when + timedelta(hours=720))]),
    "TokenRevoke": t.TokenRevokeResult(),
    "AccountExists": t.AccountExistsResult(Found=True),
    "AccountCreate": t.AccountCreateResult(Name="bob@localhost", Address="bob@localhost"),
    "AccountSetPassword": t.AccountSetPasswordResult(),
    "AccountDelete": t.AccountDeleteResult(),
    "AccountPurge": t.AccountPurgeResult(Removed=12),
    "AccountUnreadCount": t.AccountUnreadCountResult(Unread=3),
    "FetchRuleAdd": t.FetchRuleAddResult(ID=1),
    "FetchRuleUpdate": t.FetchRuleUpdateResult(),
    "FetchRuleDelete": t.FetchRuleDeleteResult(),
    "FetchRuleList": t.FetchRuleListResult(Rules=[t.FetchRule(
        ID=1, Account="mox", Protocol="imap", Host="imap.example.org", Port=993, TLS="implicit", Username="mox",
        Mailbox="INBOX", IntervalSeconds=300, Created=_when, Status="ok", LastRun=_when, LastFetched=2, Fetched=12,
        NextRun=_when + timedelta(seconds=300))]),
    "RuleCreate": t.RuleCreateResult(Rule=_rule_newsletters),
    "RuleUpdate": t.RuleUpdateResult(Rule=msgspec.structs.replace(
        _rule_newsletters, Disabled=True, Conditions=_rule_newsletters.Conditions[:1])),
    "RuleDelete": t.RuleDeleteResult(),
    "RuleList": t.RuleListResult(Rules=_rules, Sieve=sieve.export([to_model(r, r.Name) for r in _rules], "mox")),
    "ListCreate": t.ListCreateResult(ListID=1),
    "ListGet": t.ListGetResult(List=_list),
    "ListUpdate": t.ListUpdateResult(),
    "ListDelete": t.ListDeleteResult(),
    "ListsList": t.ListsListResult(Lists=[_list]),
    "ListMembers": t.ListMembersResult(Members=[t.ListMember(Email="reader@example.org", Status="confirmed",
                                                             Preferences={"lang": "en"}, Created=_when,
                                                             Updated=_when)], Total=1, Page=1, Pages=1),
}


def _change_new() -> t.ChangeEvent:
    return t.ChangeEvent(Event="messageNew", Cursor="41.1", Time=_when, MailboxID=1, MailboxName="Inbox", MsgID=1,
                         UID=1, Message=_summary)


def _change_updated() -> t.ChangeEvent:
    return t.ChangeEvent(Event="messageUpdated", Cursor="42.1", Time=_when, MailboxID=1, MailboxName="Inbox",
                         MsgID=1, UID=1, Added=["\\seen", "todo"], Removed=["\\flagged"])


def _change_renamed() -> t.ChangeEvent:
    return t.ChangeEvent(Event="mailboxRenamed", Cursor="44.1", Time=_when, MailboxID=7, MailboxName="Work/Clients",
                         OldName="Clients")


# Change webhooks, as webhooks.examples.EXAMPLES has the others: name -> (description, payload).
WEBHOOKS = {
    "webhook-change-message-new": ("Example change webhook JSON body for a new message in a mailbox:", _change_new),
    "webhook-change-message-updated": ("Example change webhook JSON body for flags changed, e.g. by an IMAP client:",
                                       _change_updated),
    "webhook-change-mailbox-renamed": ("Example change webhook JSON body for a renamed mailbox:", _change_renamed),
}
