"""Request and response types of the webapi methods (mox's package webapi).

These classes are the single definition of the API: the Go-like JSON
decoding, the responses, the example requests on the HTML method pages,
the OpenAPI document and the generated docs are all derived from them.
Field descriptions are carried in Annotated metadata so they are available
at run time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta, field

from ..webhooks.types import ZERO_TIME, NameAddress, Structure, doc

Time = Annotated[datetime, Meta(tz=True)]


class File(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Optional file name.")] = ""
    ContentType: Annotated[str, doc("E.g. application/pdf or image/png; detected from the data when empty.")] = ""
    ContentID: Annotated[str, doc('E.g. "<randomid>", for use in HTML as "cid:randomid". Optional.')] = ""
    Data: Annotated[str, doc("Base64-encoded contents of the file. Required.")] = ""


class Message(msgspec.Struct, forbid_unknown_fields=True):
    From: Annotated[list[NameAddress], doc("For sending: defaults to the login address with the account's full name; at most one.")] = field(default_factory=list)
    To: Annotated[list[NameAddress], doc("To header. Outgoing messages go to all of To, CC and BCC.")] = field(default_factory=list)
    CC: Annotated[list[NameAddress], doc("Cc header.")] = field(default_factory=list)
    BCC: Annotated[list[NameAddress], doc("For sending: recipients that get the message without being listed in its headers; only the Sent copy has a Bcc header.")] = field(default_factory=list)
    ReplyTo: Annotated[list[NameAddress], doc("Optional Reply-To header.")] = field(default_factory=list)
    MessageID: Annotated[str, doc("Message-Id, with <>. Generated when empty for outgoing messages.")] = ""
    References: Annotated[list[str], doc("Message-ids (with <>) this message refers to, oldest first. For sending, In-Reply-To is set to the last.")] = field(default_factory=list)
    Date: Annotated[Time | None, doc("Date header; the time of submission when null.")] = None
    Subject: Annotated[str, doc("Subject header, optional.")] = ""
    Text: Annotated[str, doc("Text body with \\n line ends. For sending, Text or HTML is required; both make multipart/alternative. Cut at 1 MiB in parsed messages.")] = ""
    HTML: Annotated[str, doc("HTML body, like Text.")] = ""


class Reference(msgspec.Struct, forbid_unknown_fields=True):
    MsgID: Annotated[int, doc("ID of the message replied to or forwarded, in the account's own mailboxes; 0 (and Action empty) for none.")] = 0
    Action: Annotated[str, doc('"reply", "replyAll" or "forward".')] = ""


class SendRequest(Message, forbid_unknown_fields=True):
    Extra: Annotated[dict[str, str], doc("Metadata kept with each queued message and included in every webhook about it.")] = field(default_factory=dict)
    Headers: Annotated[list[tuple[str, str]], doc("Additional headers as [name, value] pairs. A User-Agent is added unless User-Agent or X-Mailer is given.")] = field(default_factory=list)
    AlternativeFiles: Annotated[list[File], doc("Files added as alternative representations of the text/HTML (multipart/alternative).")] = field(default_factory=list)
    InlineFiles: Annotated[list[File], doc("Files shown as part of the message, e.g. images referenced from HTML (multipart/related).")] = field(default_factory=list)
    AttachedFiles: Annotated[list[File], doc("Attachments (multipart/mixed).")] = field(default_factory=list)
    RequireTLS: Annotated[bool | None, doc("null: opportunistic TLS; true: require verified TLS with REQUIRETLS; false: send TLS-Required: No.")] = None
    FutureRelease: Annotated[Time | None, doc("Time of the first delivery attempt, at most 60 days ahead. Optional.")] = None
    SaveSent: Annotated[bool, doc("Store a copy (with Bcc header) in the Sent mailbox.")] = False
    Reference: Annotated[Reference, doc(
        "Send as a reply or forward of a stored message. Both set In-Reply-To and References from it "
        "(unless References is given), and its Subject with \"Re: \" or \"Fwd: \" (unless Subject is given). "
        "A reply without To, CC and BCC goes to the original's Reply-To, else its From; replyAll adds its To and "
        "CC, without the account's own addresses, as CC; the original gets \\Answered once queued. A forward "
        "needs recipients, may have no Text or HTML, attaches the original as message/rfc822 and sets "
        "$Forwarded on it.")] = field(default_factory=Reference)
    IdempotencyKey: Annotated[str, doc(
        "Optional, at most 255 characters; the Idempotency-Key HTTP header does the same and wins when both are "
        "given, and then they must be equal. A repeat of the request (the same login, request and uploaded "
        "files) with the same key within 24 hours queues nothing and gets the original response, also after a "
        "restart; the same key with a different request fails with idempotencyConflict. Concurrent repeats wait "
        "for the first. Only a Send that queued its message keeps its key: one that failed before may be "
        "repeated with it.")] = ""


class Submission(msgspec.Struct):
    Address: Annotated[str, doc("Recipient, from To, CC or BCC.")] = ""
    QueueMsgID: Annotated[int, doc("ID of the queued message; webhooks about it carry the same ID.")] = 0
    FromID: Annotated[str, doc("Unique ID used in the SMTP MAIL FROM for this recipient, or empty.")] = ""


class SendResult(msgspec.Struct):
    MessageID: Annotated[str, doc("Message-Id of the message, given or generated, with <>.")] = ""
    Submissions: Annotated[list[Submission], doc("One queued message per recipient, in the order To, CC, BCC.")] = field(default_factory=list)


class Suppression(msgspec.Struct):
    ID: int = 0
    Created: Time = ZERO_TIME
    Account: Annotated[str, doc("Account the suppression applies to.")] = ""
    BaseAddress: Annotated[str, doc("Simplified address matched: localpart lower case, cut at the first + or -, dots removed.")] = ""
    OriginalAddress: Annotated[str, doc("Address that caused the suppression.")] = ""
    Manual: Annotated[bool, doc("Whether added by hand rather than after delivery failures.")] = False
    Reason: Annotated[str, doc("Free-form text.")] = ""


class SuppressionListRequest(msgspec.Struct, forbid_unknown_fields=True):
    pass


class SuppressionListResult(msgspec.Struct):
    Suppressions: Annotated[list[Suppression], doc("The account's suppressed addresses.")] = field(default_factory=list)


class SuppressionAddRequest(msgspec.Struct, forbid_unknown_fields=True):
    EmailAddress: str = ""
    Manual: Annotated[bool, doc("Whether added by hand rather than automatically.")] = False
    Reason: Annotated[str, doc("Free-form text.")] = ""


class SuppressionAddResult(msgspec.Struct):
    pass


class SuppressionRemoveRequest(msgspec.Struct, forbid_unknown_fields=True):
    EmailAddress: str = ""


class SuppressionRemoveResult(msgspec.Struct):
    pass


class SuppressionPresentRequest(msgspec.Struct, forbid_unknown_fields=True):
    EmailAddress: str = ""


class SuppressionPresentResult(msgspec.Struct):
    Present: bool = False


class MessageGetRequest(msgspec.Struct, forbid_unknown_fields=True):
    MsgID: Annotated[int, doc("ID of the message, as in the incoming webhook's Meta.MsgID.")] = 0


class MessageMeta(msgspec.Struct):
    Size: Annotated[int, doc("Size of the stored message in bytes.")] = 0
    DSN: Annotated[bool, doc("Whether the message is a delivery status notification.")] = False
    Flags: Annotated[list[str], doc("Flags, lower case: \\seen, \\answered, $forwarded, $junk, ..., and keywords.")] = field(default_factory=list)
    MailFrom: Annotated[str, doc('Address given in SMTP "MAIL FROM".')] = ""
    MailFromValidated: Annotated[bool, doc("Whether MAIL FROM was SPF-validated.")] = False
    RcptTo: Annotated[str, doc('Address given in SMTP "RCPT TO".')] = ""
    MsgFrom: Annotated[str, doc('Address in the "From" header.')] = ""
    MsgFromValidated: Annotated[bool, doc("Whether the From address was DMARC(-like) validated.")] = False
    DKIMVerifiedDomains: Annotated[list[str], doc("Domains with a verified DKIM signature.")] = field(default_factory=list)
    RemoteIP: Annotated[str, doc("IP the message was delivered from.")] = ""
    MailboxName: Annotated[str, doc("Mailbox the message is in.")] = ""


class MessageGetResult(msgspec.Struct):
    Message: Message = field(default_factory=Message)
    Structure: Annotated[Structure, doc("MIME structure.")] = field(default_factory=Structure)
    Meta: Annotated[MessageMeta, doc("Storage and SMTP details.")] = field(default_factory=MessageMeta)
    Viewer: Annotated[bool, doc("Whether the caller is a viewer (a token with scope read but not read.body): Message's Text and HTML are then empty, whatever the message holds.")] = False


class MessageRawGetRequest(msgspec.Struct, forbid_unknown_fields=True):
    MsgID: int = 0


class MessagePartGetRequest(msgspec.Struct, forbid_unknown_fields=True):
    MsgID: int = 0
    PartPath: Annotated[list[int], doc("Indexes into multipart parts: [0, 2] is the third part inside the first part; [] the message body. A message/rfc822 part is a leaf.")] = field(default_factory=list)


class MessageDeleteRequest(msgspec.Struct, forbid_unknown_fields=True):
    MsgID: int = 0


class MessageDeleteResult(msgspec.Struct):
    pass


class MessageFlagsAddRequest(msgspec.Struct, forbid_unknown_fields=True):
    MsgID: int = 0
    Flags: Annotated[list[str], doc("System flags (\\Seen, \\Answered, \\Flagged, \\Deleted, \\Draft, $Forwarded, $Junk, $NotJunk, $Phishing, $MDNSent), case-insensitive; other words are keywords.")] = field(default_factory=list)


class MessageFlagsAddResult(msgspec.Struct):
    pass


class MessageFlagsRemoveRequest(msgspec.Struct, forbid_unknown_fields=True):
    MsgID: int = 0
    Flags: list[str] = field(default_factory=list)


class MessageFlagsRemoveResult(msgspec.Struct):
    pass


class MessageMoveRequest(msgspec.Struct, forbid_unknown_fields=True):
    MsgID: int = 0
    DestMailboxName: Annotated[str, doc('E.g. "Archive"; the mailbox must exist.')] = ""


class MessageMoveResult(msgspec.Struct):
    pass


class Mailbox(msgspec.Struct):
    Name: Annotated[str, doc('Full name, "/" between hierarchy levels, e.g. "Archive/2024"; the inbox is "Inbox".')] = ""
    ID: Annotated[int, doc("Unique in the account; may be given to a new mailbox after this one is deleted.")] = 0
    SpecialUse: Annotated[str, doc("\\Inbox for the inbox; else \\Sent, \\Archive, \\Trash, \\Junk, \\Drafts (RFC 6154) or empty.")] = ""
    Total: Annotated[int, doc("Messages in the mailbox.")] = 0
    Unread: Annotated[int, doc("Messages without \\Seen.")] = 0
    Size: Annotated[int, doc("Octets of all its messages.")] = 0
    UIDValidity: Annotated[int, doc("IMAP UIDVALIDITY: when it changes, UIDs seen before are no longer valid.")] = 0
    UIDNext: Annotated[int, doc("IMAP UIDNEXT: the UID the next message will get.")] = 0


class MailboxListRequest(msgspec.Struct, forbid_unknown_fields=True):
    pass


class MailboxListResult(msgspec.Struct):
    Mailboxes: Annotated[list[Mailbox], doc("Every mailbox of the account, the inbox first, then by name.")] = field(default_factory=list)


class MailboxCreateRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc('E.g. "Projects/2024"; missing parents are created too.')] = ""


class MailboxCreateResult(msgspec.Struct):
    pass


class MailboxRenameRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Current name; not the inbox or a special-use mailbox.")] = ""
    NewName: Annotated[str, doc("Name to give it; its children move along.")] = ""


class MailboxRenameResult(msgspec.Struct):
    pass


class MailboxDeleteRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Mailbox to remove with its messages; not the inbox, a special-use mailbox or one with children.")] = ""


class MailboxDeleteResult(msgspec.Struct):
    pass


class MessageSummary(msgspec.Struct):
    MsgID: Annotated[int, doc("ID of the message, for MessageGet and the other message methods.")] = 0
    UID: Annotated[int, doc("IMAP UID of the message in its mailbox.")] = 0
    MailboxName: Annotated[str, doc("Mailbox the message is in.")] = ""
    Received: Annotated[Time, doc("When the message arrived (IMAP INTERNALDATE).")] = ZERO_TIME
    Date: Annotated[Time | None, doc("Date header; null when absent or invalid.")] = None
    Size: Annotated[int, doc("Size of the stored message in bytes.")] = 0
    Flags: Annotated[list[str], doc("Flags, lower case: \\seen, \\answered, $forwarded, ..., and keywords.")] = field(default_factory=list)
    Subject: Annotated[str, doc("Subject header, decoded.")] = ""
    From: Annotated[list[NameAddress], doc("From header.")] = field(default_factory=list)
    To: Annotated[list[NameAddress], doc("To header.")] = field(default_factory=list)
    CC: Annotated[list[NameAddress], doc("Cc header.")] = field(default_factory=list)
    MessageID: Annotated[str, doc("Message-Id header, with <>.")] = ""
    InReplyTo: Annotated[str, doc("In-Reply-To header, with <>.")] = ""
    Preview: Annotated[str, doc("First 200 characters of the text (of the HTML made text when there is no text part), whitespace collapsed.")] = ""
    HasAttachments: Annotated[bool, doc("Whether the message has attached files or messages (not counting images inline in HTML).")] = False
    TextSize: Annotated[int, doc("Size in bytes of the text part, decoded to UTF-8 with \\n line ends, as MessageTextGet returns it uncut.")] = 0
    HTMLSize: Annotated[int, doc("Likewise of the HTML part.")] = 0


class MessageListRequest(msgspec.Struct, forbid_unknown_fields=True):
    Mailbox: Annotated[str, doc('Mailbox to list, e.g. "Inbox" (the default) or "Archive/2024".')] = ""
    Page: Annotated[int, doc("Page to return, 1 (the default) for the newest messages. Not with Cursor.")] = 0
    PageSize: Annotated[int, doc("Messages per page, default 20, at most 1000.")] = 0
    Cursor: Annotated[str, doc("NextCursor of the previous page, to continue after its last message; new mail arriving meanwhile does not shift the pages. Empty for the first page.")] = ""


class MessageListResult(msgspec.Struct):
    Messages: Annotated[list[MessageSummary], doc("The page's messages, newest first (by Received).")] = field(default_factory=list)
    Total: Annotated[int, doc("Messages matching in all.")] = 0
    Page: Annotated[int, doc("Number of this page: the requested page, or with a cursor the page its first message is on now.")] = 0
    Pages: Annotated[int, doc("Number of pages of PageSize messages.")] = 0
    NextCursor: Annotated[str, doc("Opaque cursor for the page after this one; empty when this is the last.")] = ""


class MessageSearchRequest(msgspec.Struct, forbid_unknown_fields=True):
    Mailbox: Annotated[str, doc("Mailbox to search; empty for all mailboxes but Trash and Junk (by special use).")] = ""
    From: Annotated[str, doc('Words in the names and addresses of the From header. Search text: words, each matching words that start with it, and "quoted phrases"; all must occur, in any case and accents. Punctuation separates words: "bob@example.org" finds that address.')] = ""
    To: Annotated[str, doc("Words in the To, Cc and Bcc addresses (Bcc is kept in Sent copies only).")] = ""
    Subject: Annotated[str, doc("Words in the subject.")] = ""
    Body: Annotated[str, doc("Words in the text (in the HTML made text when the message has no text part).")] = ""
    Text: Annotated[str, doc("Words found in any of subject, addresses and body.")] = ""
    Since: Annotated[Time | None, doc("Received at or after this time.")] = None
    Before: Annotated[Time | None, doc("Received before this time.")] = None
    Flags: Annotated[list[str], doc("Flags and keywords that must all be set, e.g. \\Answered or a keyword.")] = field(default_factory=list)
    NotFlags: Annotated[list[str], doc("Flags and keywords none of which may be set.")] = field(default_factory=list)
    Unread: Annotated[bool | None, doc("true: only messages without \\Seen; false: only with; null: either.")] = None
    Flagged: Annotated[bool | None, doc("true: only messages with \\Flagged; false: only without; null: either.")] = None
    HasAttachments: Annotated[bool | None, doc("true: only messages with attachments; false: only without; null: either.")] = None
    LargerThan: Annotated[int, doc("Only messages larger than this many bytes; 0 for any.")] = 0
    SmallerThan: Annotated[int, doc("Only messages smaller than this many bytes; 0 for any.")] = 0
    MessageID: Annotated[str, doc("Only messages with this Message-Id header (<> optional).")] = ""
    Page: Annotated[int, doc("As for MessageList.")] = 0
    PageSize: Annotated[int, doc("As for MessageList.")] = 0
    Cursor: Annotated[str, doc("As for MessageList: the NextCursor of the same search.")] = ""


class MessageSearchResult(MessageListResult):
    pass


class MessageTextGetRequest(msgspec.Struct, forbid_unknown_fields=True):
    MsgID: int = 0
    MaxBytes: Annotated[int, doc("Return at most this many bytes (UTF-8) of the text and of the HTML, cut on a character boundary; default 1 MiB.")] = 0


class MessageTextGetResult(msgspec.Struct):
    Text: Annotated[str, doc("First text/plain part, decoded, \\n line ends, cut at MaxBytes.")] = ""
    HTML: Annotated[str, doc("First text/html part, likewise.")] = ""
    TextTruncated: Annotated[bool, doc("Whether Text was cut.")] = False
    HTMLTruncated: Annotated[bool, doc("Whether HTML was cut.")] = False
    TextSize: Annotated[int, doc("Size in bytes of the whole text part, decoded (UTF-8).")] = 0
    HTMLSize: Annotated[int, doc("Size in bytes of the whole HTML part, decoded (UTF-8).")] = 0


class ChangeEvent(msgspec.Struct):
    Version: Annotated[int, doc("Version of the payload, 0; fields may be added without a new version.")] = 0
    Event: Annotated[str, doc("messageNew, messageDeleted, messageUpdated, mailboxNew, mailboxDeleted or mailboxRenamed.")] = ""
    Cursor: Annotated[str, doc("Opaque position just after this change: ChangesSince with it returns the changes that followed.")] = ""
    Time: Annotated[Time, doc("When the change was made.")] = ZERO_TIME
    MailboxID: Annotated[int, doc("ID of the mailbox (a new mailbox may get the ID of one deleted before).")] = 0
    MailboxName: Annotated[str, doc("The mailbox as it was named at the time; for mailboxRenamed, its new name.")] = ""
    OldName: Annotated[str, doc("mailboxRenamed: the name before. Children of a renamed mailbox get an event each.")] = ""
    MsgID: Annotated[int, doc("Message events: ID of the message, as in MessageGet. A moved message keeps its ID: messageDeleted in the source, messageNew in the destination.")] = 0
    UID: Annotated[int, doc("Message events: IMAP UID of the message in the mailbox.")] = 0
    Added: Annotated[list[str], doc("messageUpdated: flags the message got, as in Flags elsewhere (system flags lower case).")] = field(default_factory=list)
    Removed: Annotated[list[str], doc("messageUpdated: flags it lost.")] = field(default_factory=list)
    Message: Annotated[MessageSummary | None, doc("messageNew: the message in summary, as it is when the change is read (it may have changed or moved on since); null for other events, and when the message is gone.")] = None


class ChangesSinceRequest(msgspec.Struct, forbid_unknown_fields=True):
    Cursor: Annotated[str, doc('From NextCursor of an earlier call, or the Cursor of a change; "" for the current position (no changes returned).')] = ""
    Limit: Annotated[int, doc("Changes returned at most, 1 to 1000; 0 for 100.")] = 0


class ChangesSinceResult(msgspec.Struct):
    Changes: Annotated[list[ChangeEvent], doc("The changes after Cursor, oldest first; the same payloads as change webhooks.")] = field(default_factory=list)
    NextCursor: Annotated[str, doc("Where the next call continues: after the last change returned, or the position asked for when none.")] = ""
    More: Annotated[bool, doc("Whether more changes follow NextCursor already.")] = False


class TokenCreateRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Free text, to tell tokens apart in TokenList.")] = ""
    Scopes: Annotated[list[str], doc("What the token may do: send, read, read.body, modify, suppressions, tokens, admin. A token with scope tokens can only create tokens with scopes it has itself.")] = field(default_factory=list)
    Expires: Annotated[str, doc('Lifetime as a duration: a number with h, m or s, e.g. "24h", "90m", "1h30m"; empty for a token that does not expire.')] = ""


class TokenInfo(msgspec.Struct):
    ID: Annotated[int, doc("ID of the token, for TokenRevoke; never reused.")] = 0
    Name: Annotated[str, doc("Name given when created.")] = ""
    Scopes: Annotated[list[str], doc("Scopes of the token.")] = field(default_factory=list)
    Created: Annotated[Time, doc("When the token was created.")] = ZERO_TIME
    Expires: Annotated[Time | None, doc("When the token stops working; null for never.")] = None
    Revoked: Annotated[Time | None, doc("When the token was revoked; null while it is in force.")] = None


class TokenCreateResult(TokenInfo):
    Token: Annotated[str, doc('The token, "mxt_" and 43 characters, for "Authorization: Bearer TOKEN". Shown only in this response: only a hash of it is kept.')] = ""


class TokenListRequest(msgspec.Struct, forbid_unknown_fields=True):
    pass


class TokenListResult(msgspec.Struct):
    Tokens: Annotated[list[TokenInfo], doc("The account's tokens, revoked and expired ones too, oldest first; never the tokens themselves.")] = field(default_factory=list)


class TokenRevokeRequest(msgspec.Struct, forbid_unknown_fields=True):
    ID: Annotated[int, doc("ID of one of the account's tokens.")] = 0


class TokenRevokeResult(msgspec.Struct):
    pass


class AccountExistsRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Name of an account, or an email address one of the accounts receives.")] = ""


class AccountExistsResult(msgspec.Struct):
    Found: Annotated[bool, doc("Whether an account has the name, or receives mail for the address.")] = False


class AccountCreateRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc('The account to create: an email address, which is its login and its name too (domain in lower case); or a name of letters, digits, ".", "_" and "-", whose address is Name@DefaultDomain of the config.')] = ""
    Password: Annotated[str, doc("Its password, at least 8 characters; for SMTP submission, IMAP and the webapi.")] = ""


class AccountCreateResult(msgspec.Struct):
    Name: Annotated[str, doc("The account's name, for the other account methods.")] = ""
    Address: Annotated[str, doc("Its email address, the login.")] = ""


class AccountSetPasswordRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Name of the account, or its login address.")] = ""
    Password: Annotated[str, doc("The new password, at least 8 characters; the old one stops working at once.")] = ""


class AccountSetPasswordResult(msgspec.Struct):
    pass


class AccountDeleteRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Name of the account, or its login address.")] = ""


class AccountDeleteResult(msgspec.Struct):
    pass


class AccountPurgeRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Name of the account, or its login address.")] = ""


class AccountPurgeResult(msgspec.Struct):
    Removed: Annotated[int, doc("Messages removed.")] = 0


class AccountUnreadCountRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Name of the account, or its login address.")] = ""


class AccountUnreadCountResult(msgspec.Struct):
    Unread: Annotated[int, doc("Messages without \\Seen in every mailbox but Trash and Junk.")] = 0
class FetchRuleSettings(msgspec.Struct, forbid_unknown_fields=True):
    Account: Annotated[str, doc("The account fetched messages are delivered to, into its Inbox.")] = ""
    Protocol: Annotated[str, doc('"pop3" or "imap".')] = ""
    Host: Annotated[str, doc("Host name or IP address of the remote server.")] = ""
    Port: Annotated[int, doc("TCP port; 0 for the protocol's default (POP3 995 with implicit TLS, else 110; IMAP 993, else 143).")] = 0
    TLS: Annotated[str, doc('"implicit" (TLS from the start; the default when empty), "starttls" or "none" (the password travels in the clear).')] = ""
    TLSSkipVerify: Annotated[bool, doc("Accept any certificate, for a server with a self-signed one. By default the certificate must be trusted and name Host.")] = False
    Username: Annotated[str, doc("Login name on the remote server.")] = ""
    Mailbox: Annotated[str, doc('IMAP only: the mailbox to fetch from; empty for "INBOX".')] = ""
    DeleteAfterFetch: Annotated[bool, doc("Remove each message from the remote server once it is stored here.")] = False
    IntervalSeconds: Annotated[int, doc("Seconds between runs, at least 60 (1 in localserve); 0 for 300.")] = 0


class FetchRuleAddRequest(FetchRuleSettings, forbid_unknown_fields=True):
    Password: Annotated[str, doc("Password on the remote server; required. Kept encrypted and never returned.")] = ""


class FetchRuleAddResult(msgspec.Struct):
    ID: Annotated[int, doc("ID of the new rule; never reused.")] = 0


class FetchRuleUpdateRequest(FetchRuleSettings, forbid_unknown_fields=True):
    ID: Annotated[int, doc("ID of the rule. Every other field replaces the rule's, as in FetchRuleAdd.")] = 0
    Password: Annotated[str, doc("A new password; empty keeps the one stored.")] = ""


class FetchRuleUpdateResult(msgspec.Struct):
    pass


class FetchRuleDeleteRequest(msgspec.Struct, forbid_unknown_fields=True):
    ID: Annotated[int, doc("ID of the rule.")] = 0


class FetchRuleDeleteResult(msgspec.Struct):
    pass


class FetchRuleListRequest(msgspec.Struct, forbid_unknown_fields=True):
    Account: Annotated[str, doc("The account whose rules to list; empty for every account's.")] = ""


class FetchRule(msgspec.Struct):
    ID: Annotated[int, doc("ID of the rule.")] = 0
    Account: Annotated[str, doc("Account messages are delivered to.")] = ""
    Protocol: Annotated[str, doc('"pop3" or "imap".')] = ""
    Host: Annotated[str, doc("Remote server.")] = ""
    Port: Annotated[int, doc("Its port.")] = 0
    TLS: Annotated[str, doc('"implicit", "starttls" or "none".')] = ""
    TLSSkipVerify: Annotated[bool, doc("Whether any certificate is accepted.")] = False
    Username: Annotated[str, doc("Remote login name. The password is never returned.")] = ""
    Mailbox: Annotated[str, doc("IMAP mailbox; empty for POP3.")] = ""
    DeleteAfterFetch: Annotated[bool, doc("Whether messages are removed from the remote once stored.")] = False
    IntervalSeconds: Annotated[int, doc("Seconds between runs.")] = 0
    Created: Annotated[Time, doc("When the rule was added.")] = ZERO_TIME
    Status: Annotated[str, doc("Of the last run: ok, notRunYet, authFailed (login refused), connectionFailed (refused or timed out), badHost (the name does not resolve) or error (TLS, protocol, storing; see LastError).")] = ""
    LastRun: Annotated[Time | None, doc("When the last run ended; null before the first.")] = None
    LastError: Annotated[str, doc("What went wrong in the last run; empty when it went well.")] = ""
    LastFetched: Annotated[int, doc("Messages delivered by the last run.")] = 0
    Fetched: Annotated[int, doc("Messages delivered by all runs.")] = 0
    Skipped: Annotated[int, doc("Messages left on the remote because they are over MaxMessageSize, by all runs (each counted once).")] = 0
    NextRun: Annotated[Time | None, doc("When the rule runs next; null for as soon as possible.")] = None


class FetchRuleListResult(msgspec.Struct):
    Rules: Annotated[list[FetchRule], doc("The rules, oldest first.")] = field(default_factory=list)
# Delivery rules (account administration).


class RuleCondition(msgspec.Struct, forbid_unknown_fields=True):
    Field: Annotated[str, doc('"From", "Subject", "AnyToOrCc" (the addresses in To and Cc), "Size" (octets of the message as stored), or "Header:NAME" for any header field, e.g. "Header:X-Spam-Flag".')] = ""
    Operation: Annotated[str, doc('For text: "is", "isNot", "contains", "notContains" or "matches" (a glob: * is any text), ignoring case; for Size: "is", "isNot", "lessThan" or "greaterThan".')] = ""
    Value: Annotated[str, doc("The text compared with, or for Size a whole number of bytes.")] = ""


class RuleAction(msgspec.Struct, forbid_unknown_fields=True):
    Kind: Annotated[str, doc('"discard" (accept, store nothing), "markRead", "markFlagged", "storeIn" or "forward".')] = ""
    Value: Annotated[str, doc("storeIn: the mailbox, created when missing; forward: the address that gets a copy; empty for the others.")] = ""


class Rule(msgspec.Struct):
    Name: Annotated[str, doc("Unique in the account.")] = ""
    Join: Annotated[str, doc('"and": every condition must hold; "or": one is enough.')] = "and"
    Disabled: Annotated[bool, doc("Kept, but not applied.")] = False
    Conditions: Annotated[list[RuleCondition], doc("None: the rule matches every message.")] = field(default_factory=list)
    Action: Annotated[RuleAction, doc("What a matching rule does.")] = field(default_factory=RuleAction)
    Position: Annotated[int, doc("Its place in the order the rules run, from 1.")] = 0


class RuleCreateRequest(msgspec.Struct, forbid_unknown_fields=True):
    Account: Annotated[str, doc("Name of the account.")] = ""
    Name: Annotated[str, doc("Unique in the account, at most 200 characters.")] = ""
    Join: Annotated[str, doc('"and" (also when empty) or "or".')] = ""
    Disabled: Annotated[bool, doc("Keep the rule without applying it.")] = False
    Conditions: Annotated[list[RuleCondition], doc("At most 50; none for a rule that matches every message.")] = field(default_factory=list)
    Action: Annotated[RuleAction, doc("What a matching rule does.")] = field(default_factory=RuleAction)
    Position: Annotated[int, doc("Where it goes in the order, from 1, moving the rules from there on down; 0 for after the last.")] = 0


class RuleCreateResult(msgspec.Struct):
    Rule: Annotated[Rule, doc("The rule as stored, names spelled as documented.")] = field(default_factory=Rule)


class RuleUpdateRequest(msgspec.Struct, forbid_unknown_fields=True):
    Account: Annotated[str, doc("Name of the account.")] = ""
    Name: Annotated[str, doc("Name of the rule to change.")] = ""
    NewName: Annotated[str, doc("A new name for it; empty to keep the name.")] = ""
    Join: Annotated[str, doc('"and" (also when empty) or "or".')] = ""
    Disabled: Annotated[bool, doc("Keep the rule without applying it.")] = False
    Conditions: Annotated[list[RuleCondition], doc("Replace the conditions: the whole rule is given, as for RuleCreate.")] = field(default_factory=list)
    Action: Annotated[RuleAction, doc("What a matching rule does.")] = field(default_factory=RuleAction)
    Position: Annotated[int, doc("Move it to this place in the order, from 1; 0 keeps its place.")] = 0


class RuleUpdateResult(msgspec.Struct):
    Rule: Annotated[Rule, doc("The rule as stored.")] = field(default_factory=Rule)


class RuleDeleteRequest(msgspec.Struct, forbid_unknown_fields=True):
    Account: Annotated[str, doc("Name of the account.")] = ""
    Name: Annotated[str, doc("Name of the rule.")] = ""


class RuleDeleteResult(msgspec.Struct):
    pass


class RuleListRequest(msgspec.Struct, forbid_unknown_fields=True):
    Account: Annotated[str, doc("Name of the account.")] = ""
    Format: Annotated[str, doc('"sieve" to have the rules as a Sieve script in Sieve too; empty for the list alone.')] = ""


class RuleListResult(msgspec.Struct):
    Rules: Annotated[list[Rule], doc("The account's rules in the order they run, disabled ones too.")] = field(default_factory=list)
    Sieve: Annotated[str, doc('With Format "sieve": a Sieve script (RFC 5228, with fileinto, imap4flags and copy) that does what the rules do; else empty.')] = ""


# Mailing lists of the account (its tenant), with double opt-in members (docs/newsletter.md).


class MailingList(msgspec.Struct):
    ListID: Annotated[int, doc("ID of the list, in the member endpoints' list_id; never reused.")] = 0
    Name: Annotated[str, doc("Shown in the confirmation message and pages.")] = ""
    FromAddress: Annotated[str, doc("The list's mail comes from this address of the account.")] = ""
    FromName: Annotated[str, doc("Display name with FromAddress.")] = ""
    ConfirmSubject: Annotated[str, doc("Subject of the confirmation message; empty for a default naming the list.")] = ""
    ConfirmText: Annotated[str, doc("Text of the confirmation message, before the link; empty for a default.")] = ""
    Created: Annotated[Time, doc("When the list was made.")] = ZERO_TIME


class ListCreateRequest(msgspec.Struct, forbid_unknown_fields=True):
    Name: Annotated[str, doc("Required, at most 200 characters.")] = ""
    FromAddress: Annotated[str, doc("Required: an address the account may send from, as for Send's From.")] = ""
    FromName: Annotated[str, doc("Optional display name, at most 200 characters.")] = ""
    ConfirmSubject: Annotated[str, doc("Optional, at most 200 characters, one line.")] = ""
    ConfirmText: Annotated[str, doc("Optional, at most 10000 characters; the confirmation link follows it.")] = ""


class ListCreateResult(msgspec.Struct):
    ListID: Annotated[int, doc("ID of the new list.")] = 0


class ListGetRequest(msgspec.Struct, forbid_unknown_fields=True):
    ListID: int = 0


class ListGetResult(msgspec.Struct):
    List: MailingList = field(default_factory=MailingList)


class ListUpdateRequest(ListCreateRequest, forbid_unknown_fields=True):
    ListID: Annotated[int, doc("ID of the list. Every other field replaces the list's, as in ListCreate.")] = 0


class ListUpdateResult(msgspec.Struct):
    pass


class ListDeleteRequest(msgspec.Struct, forbid_unknown_fields=True):
    ListID: Annotated[int, doc("ID of the list to remove with all its members; its links stop working.")] = 0


class ListDeleteResult(msgspec.Struct):
    pass


class ListsListRequest(msgspec.Struct, forbid_unknown_fields=True):
    pass


class ListsListResult(msgspec.Struct):
    Lists: Annotated[list[MailingList], doc("The account's lists, oldest first.")] = field(default_factory=list)


class ListMember(msgspec.Struct):
    Email: Annotated[str, doc("As subscribed, the domain in lower case.")] = ""
    Status: Annotated[str, doc("pending (confirmation link not yet followed), confirmed, unsubscribed or bounced.")] = ""
    Preferences: Annotated[dict[str, str], doc("As the member endpoints set them.")] = field(default_factory=dict)
    Created: Annotated[Time, doc("First subscription.")] = ZERO_TIME
    Updated: Annotated[Time, doc("Last change of status or preferences.")] = ZERO_TIME


class ListMembersRequest(msgspec.Struct, forbid_unknown_fields=True):
    ListID: int = 0
    Status: Annotated[str, doc('Only members of this status: "pending", "confirmed", "unsubscribed", "bounced"; empty for all.')] = ""
    Page: Annotated[int, doc("Page to return, from 1 (the default).")] = 0
    PageSize: Annotated[int, doc("Members per page, default 100, at most 1000.")] = 0


class ListMembersResult(msgspec.Struct):
    Members: Annotated[list[ListMember], doc("The page's members, in the order they first subscribed.")] = field(default_factory=list)
    Total: Annotated[int, doc("Members matching in all.")] = 0
    Page: Annotated[int, doc("Number of this page.")] = 0
    Pages: Annotated[int, doc("Number of pages of PageSize members.")] = 0


RAW = "raw"  # marker for methods whose response is bytes


class Method(msgspec.Struct):
    name: str
    request: type
    response: type | str  # a Struct type, or RAW
    summary: str
    errors: tuple[str, ...] = ()
    # The token scope the method needs (moxpy/tokens.py). The account's password allows every scope but
    # admin; the methods of scope admin (account administration) need the admin login or a token with it.
    scope: str = ""


COMMON_ERRORS = ("protocol", "user", "server")

METHODS: dict[str, Method] = {m.name: m for m in [
    Method("Send", SendRequest, SendResult, "Compose a message and queue it for delivery to each recipient.",
           ("badAddress", "multipleFrom", "badFrom", "noRecipients", "missingBody", "malformedMessageID",
            "messageTooLarge", "messageLimitReached", "recipientLimitReached", "messageNotFound", "permissionDenied",
            "idempotencyConflict"), scope="send"),
    Method("SuppressionList", SuppressionListRequest, SuppressionListResult, "List the account's suppressed addresses.", scope="suppressions"),
    Method("SuppressionAdd", SuppressionAddRequest, SuppressionAddResult, "Add an address to the suppression list; code error when its base address is already on it.", ("badAddress", "error"), scope="suppressions"),
    Method("SuppressionRemove", SuppressionRemoveRequest, SuppressionRemoveResult, "Remove an address from the suppression list; code error when its base address is not on it.", ("badAddress", "error"), scope="suppressions"),
    Method("SuppressionPresent", SuppressionPresentRequest, SuppressionPresentResult, "Whether an address is on the suppression list.", ("badAddress",), scope="suppressions"),
    Method("MessageGet", MessageGetRequest, MessageGetResult, "A stored message in parsed form, with its MIME structure and metadata.", ("messageNotFound",), scope="read"),
    Method("MessageRawGet", MessageRawGetRequest, RAW, "The stored message, byte for byte.", ("messageNotFound",), scope="read.body"),
    Method("MessagePartGet", MessagePartGetRequest, RAW, "One MIME part of a message, decoded; for a multipart part its parts with their boundaries.", ("messageNotFound", "partNotFound"), scope="read.body"),
    Method("MessageDelete", MessageDeleteRequest, MessageDeleteResult, "Remove a message for good (not to Trash).", ("messageNotFound",), scope="modify"),
    Method("MessageFlagsAdd", MessageFlagsAddRequest, MessageFlagsAddResult, "Set flags and keywords on a message.", ("messageNotFound",), scope="modify"),
    Method("MessageFlagsRemove", MessageFlagsRemoveRequest, MessageFlagsRemoveResult, "Clear flags and keywords of a message.", ("messageNotFound",), scope="modify"),
    Method("MessageMove", MessageMoveRequest, MessageMoveResult, "Move a message to another mailbox.", ("messageNotFound",), scope="modify"),
    Method("MailboxList", MailboxListRequest, MailboxListResult, "The account's mailboxes with their message counts.", scope="read"),
    Method("MailboxCreate", MailboxCreateRequest, MailboxCreateResult, "Create a mailbox (and its missing parents).", scope="modify"),
    Method("MailboxRename", MailboxRenameRequest, MailboxRenameResult, "Rename a mailbox and its children, keeping its messages and UIDs.", scope="modify"),
    Method("MailboxDelete", MailboxDeleteRequest, MailboxDeleteResult, "Remove a mailbox and its messages for good.", scope="modify"),
    Method("MessageList", MessageListRequest, MessageListResult, "A page of a mailbox's messages in summary, newest first.", scope="read"),
    Method("MessageSearch", MessageSearchRequest, MessageSearchResult, "A page of the messages matching every criterion given, in summary, newest first; code permissionDenied for Body or Text from a viewer.", ("permissionDenied",), scope="read"),
    Method("MessageTextGet", MessageTextGetRequest, MessageTextGetResult, "The readable text and HTML of a message, cut at a size.", ("messageNotFound",), scope="read.body"),
    Method("ChangesSince", ChangesSinceRequest, ChangesSinceResult, "Every change to the account's mailboxes and messages after a cursor, in order, whatever made it (SMTP, IMAP, the webapi); code cursorExpired when the changes after the cursor are no longer kept: resynchronise, then continue from a new cursor.", ("cursorExpired",), scope="read"),
    Method("TokenCreate", TokenCreateRequest, TokenCreateResult, "Create an API token of the account, for \"Authorization: Bearer TOKEN\"; code permissionDenied for scopes the calling token lacks.", ("permissionDenied",), scope="tokens"),
    Method("TokenList", TokenListRequest, TokenListResult, "The account's API tokens, without the tokens themselves.", scope="tokens"),
    Method("TokenRevoke", TokenRevokeRequest, TokenRevokeResult, "Revoke one of the account's tokens at once; code tokenNotFound when the account has no token with the ID.", ("tokenNotFound",), scope="tokens"),
    Method("AccountExists", AccountExistsRequest, AccountExistsResult, "Whether an account exists (admin).", scope="admin"),
    Method("AccountCreate", AccountCreateRequest, AccountCreateResult, "Create an account with its address and password; it works at once over SMTP, IMAP and the webapi. Code accountExists when the account or the address exists already; user for an unknown domain, a bad name or a short password (admin).", ("accountExists",), scope="admin"),
    Method("AccountSetPassword", AccountSetPasswordRequest, AccountSetPasswordResult, "Set an account's password; the old one stops working at once (admin).", ("accountNotFound",), scope="admin"),
    Method("AccountDelete", AccountDeleteRequest, AccountDeleteResult, "Delete an account with all its mailboxes and messages, its queued and retired messages, webhooks, suppressions and tokens; its IMAP sessions are logged out. An account made later under the same name starts empty (admin).", ("accountNotFound",), scope="admin"),
    Method("AccountPurge", AccountPurgeRequest, AccountPurgeResult, "Remove every message of every mailbox of an account for good, keeping the account and its mailboxes (admin).", ("accountNotFound",), scope="admin"),
    Method("AccountUnreadCount", AccountUnreadCountRequest, AccountUnreadCountResult, "The number of an account's unread messages, outside Trash and Junk (admin).", ("accountNotFound",), scope="admin"),
    Method("FetchRuleAdd", FetchRuleAddRequest, FetchRuleAddResult, "Add a rule that fetches the messages of a remote POP3 or IMAP mailbox into an account (admin); it runs at once, then every IntervalSeconds.", scope="admin"),
    Method("FetchRuleUpdate", FetchRuleUpdateRequest, FetchRuleUpdateResult, "Replace a fetch rule's settings (admin); it runs again at once. Changing Protocol, Host, Username or Mailbox starts afresh: every message there is fetched; code fetchRuleNotFound for an unknown ID.", ("fetchRuleNotFound",), scope="admin"),
    Method("FetchRuleDelete", FetchRuleDeleteRequest, FetchRuleDeleteResult, "Remove a fetch rule (admin); code fetchRuleNotFound for an unknown ID.", ("fetchRuleNotFound",), scope="admin"),
    Method("FetchRuleList", FetchRuleListRequest, FetchRuleListResult, "Fetch rules with the status of their last run (admin), without passwords.", scope="admin"),
    Method("RuleCreate", RuleCreateRequest, RuleCreateResult, "Add a delivery rule to an account (admin); code ruleExists when the account has a rule of the name, user (naming the field) for a rule that is not valid.", ("ruleExists",), scope="admin"),
    Method("RuleUpdate", RuleUpdateRequest, RuleUpdateResult, "Replace a delivery rule of an account, keeping its place unless Position is given (admin); code ruleNotFound when the account has no rule of the name, ruleExists when NewName is another rule's.", ("ruleNotFound", "ruleExists"), scope="admin"),
    Method("RuleDelete", RuleDeleteRequest, RuleDeleteResult, "Remove a delivery rule of an account (admin); code ruleNotFound when the account has no rule of the name.", ("ruleNotFound",), scope="admin"),
    Method("RuleList", RuleListRequest, RuleListResult, "The delivery rules of an account in their order, optionally as a Sieve script (admin).", scope="admin"),
    Method("ListCreate", ListCreateRequest, ListCreateResult, "Make a mailing list of the account; code badFrom when FromAddress is not an address the account may send from.", ("badAddress", "badFrom"), scope="newsletter:lists"),
    Method("ListGet", ListGetRequest, ListGetResult, "One of the account's mailing lists; code listNotFound when the account has no list with the ID.", ("listNotFound",), scope="newsletter:lists"),
    Method("ListUpdate", ListUpdateRequest, ListUpdateResult, "Replace a list's name, From and confirmation texts; its members stay.", ("listNotFound", "badAddress", "badFrom"), scope="newsletter:lists"),
    Method("ListDelete", ListDeleteRequest, ListDeleteResult, "Remove a list with its members.", ("listNotFound",), scope="newsletter:lists"),
    Method("ListsList", ListsListRequest, ListsListResult, "The account's mailing lists.", scope="newsletter:lists"),
    Method("ListMembers", ListMembersRequest, ListMembersResult, "A page of a list's members, optionally of one status.", ("listNotFound",), scope="newsletter:lists"),
]}
