"""The account store's interface: the records it hands out and the
operations listeners (SMTP, IMAP, webapi, queue, webhooks) may call.

Listeners depend only on what is written here: records, not database
rows, and methods whose contracts say what is durable and when changes
are announced. store.sqlite is the first implementation (a SQLite index
and one file per message); another backend implements the same two
protocols, Store and Account.

Identifiers (RFC 3501 2.3.1.1): a message's id (the webapi's MsgID) is
unique in its account and never reused; its UID is unique in its mailbox,
assigned in ascending order from the mailbox's UIDNEXT, and valid as long
as the mailbox's UIDVALIDITY stays the same. A mailbox name used again
gets a higher UIDVALIDITY than before.

Mailbox names use "/" as hierarchy separator; the inbox is "Inbox", and
INBOX in any case names it (mailboxname.check).
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message as EmailMessage
from typing import Any, BinaryIO, Protocol

import msgspec

from ..message import part as partlib
from .flags import FlagError
from .rules import RuleStore
from .search import Criteria, MessageFilter, SearchError

__all__ = [
    "Store", "Account", "Message", "Summary", "SummaryPage", "MessageFilter", "SearchError", "Mailbox", "MailboxStatus",
    "DeliveryMeta", "Change", "Copied", "LoggedChange", "ChangePosition", "ChangesExpired", "ChangePositionUnknown",
    "CHANGE_EVENTS",
    "MailboxNotFound", "MessageNotFound", "MailboxExists", "MailboxError", "FlagError", "DEFAULT_MAILBOXES",
    "AccountNotFound",
]

# The mailboxes every account starts with, and their RFC 6154 special-use attributes.
DEFAULT_MAILBOXES = (
    ("Inbox", ""),
    ("Sent", "\\Sent"),
    ("Archive", "\\Archive"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
)


# Errors.


class AccountNotFound(Exception):
    """The server's accounts (its config) have no account of that name, or no longer."""


class MailboxNotFound(Exception):
    pass


class MessageNotFound(Exception):
    pass


class MailboxExists(Exception):
    pass


class MailboxError(ValueError):
    """A mailbox operation or name that is not allowed; the message says why."""


class ChangesExpired(Exception):
    """Changes after a position of the change log are no longer kept (older than the retention)."""


class ChangePositionUnknown(ValueError):
    """A change log position this account never had (ahead of its last change)."""


# Records.


# gc=False: a FETCH of a large mailbox makes thousands of these, and they never form reference cycles.


class DeliveryMeta(msgspec.Struct, gc=False):
    """What the SMTP session learned about a message, kept with it."""

    mail_from: str = ""  # SMTP MAIL FROM, empty for a DSN (null reverse-path)
    rcpt_to: str = ""  # the SMTP RCPT TO this copy was delivered for
    remote_ip: str = ""  # the connecting client's address
    mail_from_validated: bool = False  # SPF (or an aligned DKIM signature) vouched for the MAIL FROM domain
    msg_from_validated: bool = False  # DMARC-aligned SPF or DKIM vouched for the From header's domain
    dkim_domains: list[str] = msgspec.field(default_factory=list)  # domains with a valid DKIM signature
    dsn: bool = False  # the message is a delivery status notification


class Message(msgspec.Struct, gc=False):
    """A stored message: where it is, its flags, and what was known when it arrived."""

    id: int  # unique in the account, never reused (the webapi's MsgID)
    mailbox_id: int  # the mailbox it is in
    uid: int  # unique in its mailbox (RFC 3501 2.3.1.1)
    modseq: int  # account-wide change counter of its last change
    received: float  # when it arrived, Unix time (IMAP INTERNALDATE)
    size: int  # octets of the stored message
    flags: list[str]  # system flags in their usual case (\Seen, $Forwarded), then keywords lower case
    message_id: str  # the Message-ID header, as in the message
    subject: str  # the Subject header, decoded
    msg_from: str  # the From header's address
    date: float | None  # the Date header, Unix time; None when absent or invalid
    meta: DeliveryMeta  # what the SMTP session learned, empty for messages from IMAP or the webapi
    # Opaque to callers, for the implementation:
    parts: bytes | None = None  # the MIME tree when asked for (messages(parts=True)), for message_parts
    ref: str = ""  # where its bytes are kept


class Summary(msgspec.Struct, gc=False):
    """What listings show of a message, all from the index (filled at delivery; no message file is read)."""

    id: int  # the message's id (the webapi's MsgID)
    uid: int  # in its mailbox
    mailbox_id: int
    mailbox_name: str
    received: float  # Unix time it arrived (IMAP INTERNALDATE)
    date: float | None  # the Date header, Unix time; None when absent or invalid
    size: int  # octets of the stored message
    flags: list[str]  # as Message.flags
    subject: str  # decoded
    from_: list[tuple[str, str]]  # (display name, address) of the From header
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    message_id: str  # the Message-ID header, with <>
    in_reply_to: str  # the In-Reply-To header
    preview: str  # the first 200 characters of the readable text (else of the HTML's text), whitespace collapsed
    has_attachments: bool  # attached files or messages (message.readable.has_attachments)
    text_size: int  # octets of the first text/plain part, decoded to UTF-8 (message.readable.texts)
    html_size: int  # likewise of the first text/html part


class SummaryPage(msgspec.Struct):
    """One page of a listing (Account.summary_page), newest first."""

    summaries: list[Summary]  # the page's messages
    total: int  # messages matching in all
    offset: int  # position among them of the first on the page (0 for the newest)
    more: bool  # whether messages follow the page's last


class Mailbox(msgspec.Struct):
    """A mailbox of an account."""

    id: int  # unique in the account; may be reused after the mailbox is deleted
    name: str  # "/" separates levels; the inbox is "Inbox"
    special_use: str  # RFC 6154 attribute (\Sent, \Trash, ...), or empty
    uidvalidity: int  # RFC 3501 2.3.1.1: changes when UIDs may have been reused
    uidnext: int  # the UID the next message will get
    subscribed: bool  # RFC 3501 6.3.6, for LSUB
    keywords: list[str]  # keywords any message ever in the mailbox had, sorted (RFC 3501 7.2.6 FLAGS)


class MailboxStatus(msgspec.Struct):
    """Counts of a mailbox's messages, for IMAP SELECT and STATUS (RFC 3501 6.3.10)."""

    messages: int  # all messages
    unseen: int  # without \Seen
    deleted: int  # with \Deleted
    size: int  # octets of all messages (RFC 8438 STATUS=SIZE)
    recent: int  # not yet claimed as \Recent by a session (RFC 3501 2.3.2)
    first_unseen: int  # lowest UID without \Seen, 0 when none


class Copied(msgspec.Struct):
    """Where COPY or MOVE put messages, for RFC 4315 COPYUID."""

    uidvalidity: int  # of the destination mailbox
    pairs: list[tuple[int, int]]  # (UID in the source mailbox, UID in the destination), in source UID order


class Change(msgspec.Struct):
    """A committed change, announced to subscribers after its commit, and written to the account's
    change log (changes_since) in the transaction that made it.

    kind: "added", "flags", "removed" (messages of mailbox_id), "keywords" (the mailbox has new
    keywords), or for a mailbox "mailbox_created", "mailbox_deleted", "mailbox_renamed".
    """

    kind: str  # added, flags, removed, keywords, mailbox_created, mailbox_deleted or mailbox_renamed
    mailbox_id: int = 0  # the mailbox concerned
    uids: list[int] = msgspec.field(default_factory=list)  # the messages' UIDs in that mailbox
    msg_ids: list[int] = msgspec.field(default_factory=list)  # the same messages' ids, in the same order
    modseq: int = 0  # the change's modseq; 0 only for keywords
    origin: Any = None  # who asked for the change (e.g. an IMAP session), so it can skip its own echo
    mailbox_name: str = ""  # the mailbox's name when the change was made (the new one for a rename)
    old_name: str = ""  # mailbox_renamed: the name before
    added: list[str] = msgspec.field(default_factory=list)  # flags: what each of the messages got
    removed: list[str] = msgspec.field(default_factory=list)  # flags: what each of the messages lost


# The events of the change log, and the Change kinds they come from.
CHANGE_EVENTS = {
    "messageNew": "added",  # a message arrived in a mailbox: delivered, appended, copied or moved there
    "messageDeleted": "removed",  # a message left a mailbox: expunged, deleted, moved away, its mailbox deleted
    "messageUpdated": "flags",  # a message's flags changed
    "mailboxNew": "mailbox_created",
    "mailboxDeleted": "mailbox_deleted",
    "mailboxRenamed": "mailbox_renamed",
}


class ChangePosition(msgspec.Struct, frozen=True, order=True):
    """A place in an account's change log: just after the seq-th entry with that modseq. Entries are
    ordered by (modseq, seq); one transaction's entries share its modseq (RFC 7162 MODSEQ)."""

    modseq: int
    seq: int


class LoggedChange(msgspec.Struct, gc=False):
    """One entry of an account's change log: one event about one message or mailbox."""

    position: ChangePosition  # its place; changes_since(position) returns what came after it
    event: str  # a key of CHANGE_EVENTS
    at: float  # Unix time of the change
    mailbox_id: int
    mailbox_name: str  # the name at the time (for mailboxRenamed the new one)
    msg_id: int = 0  # message events: the message's id
    uid: int = 0  # message events: its UID in the mailbox
    old_name: str = ""  # mailboxRenamed: the name before
    added: list[str] = msgspec.field(default_factory=list)  # messageUpdated: flags the message got
    removed: list[str] = msgspec.field(default_factory=list)  # messageUpdated: flags it lost


# The interface.


class Account(Protocol):
    """One account's mail: mailboxes, messages, flags, and change notifications.

    Durability: a method that changes anything returns only after the change
    is committed and on stable storage (fsync'ed, message bytes included), so
    a caller may acknowledge it (SMTP 250, IMAP OK, webapi 200). Its Change
    notifications are sent after that commit, on the event loop, before the
    method returns; readers (these methods included) see the change from then
    on. The same commit writes its entries to the account's change log
    (changes_since). Reads never wait for writes.

    Errors: MailboxNotFound, MessageNotFound, MailboxExists, MailboxError
    (not allowed, with a sentence saying why) and FlagError (a bad flag name).

    Threads: methods are called on the event loop, except message_bytes,
    open_message, message_range, message_parts and search, which read (and parse) message files and may
    be called from worker threads, so that a large message or mailbox does
    not hold up the loop (message_bytes_cached is the loop's read of a file
    in memory), and summary_page, whose searches of a large account may
    take long too.
    """

    name: str  # the account's name in the config
    rules: RuleStore  # its delivery rules

    def close(self) -> None:
        """Stop writing and release the account; pending writes finish first, later ones fail."""

    def on_removed(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call callback when the account is removed from the server (Store.forget), just before it is
        closed, so that those holding it (IMAP sessions) let go; returns the function that cancels."""

    # Change notifications.

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Call callback with every committed Change; returns the function that unsubscribes."""

    def announce(self, changes: list[Change]) -> None:
        """Tell this process's subscribers of changes another process committed to the same storage."""

    # Mailboxes.

    def mailboxes(self) -> list[Mailbox]:
        """All mailboxes, the inbox first, then by name."""

    def mailbox(self, name: str) -> Mailbox | None:
        """The mailbox of that name (INBOX in any case is the inbox); None when absent or not a valid name."""

    def mailbox_by_id(self, mailbox_id: int) -> Mailbox | None: ...

    def mailbox_status(self, mailbox_id: int) -> MailboxStatus: ...

    async def create_mailbox(self, name: str, special_use: str = "") -> Mailbox:
        """Create a mailbox and any missing parents (RFC 3501 6.3.3); MailboxExists when it is there."""

    async def delete_mailbox(self, name: str) -> None:
        """Remove a mailbox with its messages; not the inbox, not one with children (MailboxError)."""

    async def rename_mailbox(self, old: str, new: str) -> None:
        """Rename a mailbox and its children, keeping UIDs and UIDVALIDITY (RFC 3501 6.3.5).

        Renaming the inbox moves its messages to a new mailbox and leaves the inbox empty.
        """

    async def set_subscribed(self, name: str, subscribed: bool) -> None: ...

    # Messages.

    def message(self, msg_id: int) -> Message | None: ...

    def uids(self, mailbox_id: int) -> list[int]:
        """The UIDs of a mailbox's messages, ascending."""

    def messages(self, mailbox_id: int, uids: list[int], *, parts: bool = False) -> list[Message]:
        """The messages of a mailbox with these UIDs (ascending, missing ones left out); with parts, their MIME
        trees too."""

    def message_bytes(self, message: Message) -> bytes:
        """The message exactly as received; OSError when it was removed meanwhile."""

    def message_bytes_cached(self, message: Message) -> bytes | None:
        """The message's bytes if they can be had without waiting on storage (they are in memory
        already), else None; for callers on the event loop, which otherwise read in a thread."""

    def open_message(self, message: Message) -> BinaryIO:
        """The message as a read-only binary file (read, seek, tell, close; message.size octets), which
        reads only what is asked of it, for sending a large message in parts. OSError when the message was
        removed, at open or (on storage where an open message does not stay readable) at a later read."""

    def message_range(self, message: Message, offset: int, length: int) -> bytes:
        """length octets of the message from offset (fewer at its end, none from beyond it), read without
        the rest; OSError when it was removed meanwhile."""

    def message_parts(self, message: Message) -> partlib.Part:
        """The MIME tree of a message (cheap for one read with parts=True)."""

    def summaries(self, msg_ids: list[int]) -> list[Summary]:
        """Summaries of the messages with these ids, in the order given; unknown ids are left out. Only the
        index is read."""

    def summary_page(self, selected: MessageFilter, limit: int, *, offset: int = 0,
                     after: tuple[float, int] | None = None) -> SummaryPage:
        """A page of the summaries of the messages selected, newest first: by received time, then by id.

        limit: at most this many; offset: skip this many of the newest; after: start after the message at
        this (received, id) position instead (whether or not it is still there), so that paging from the
        last summary of a page continues where it ended while new mail arrives. Only the index is read.
        SearchError for word criteria without words, FlagError for a bad flag name.
        """

    def find_delivered(self, message_id: str, rcpt_to: str, mail_from: str, since: float) -> bool:
        """Whether a message with this Message-ID header arrived over SMTP from mail_from for rcpt_to
        at or after since (Unix time)."""

    async def deliver(self, data: bytes, mailbox: str = "Inbox", *, flags: list[str] | None = None,
                      received: float | None = None, meta: DeliveryMeta | None = None,
                      headers: EmailMessage | None = None) -> Message:
        """Store a message in a mailbox with the next UID; returns it.

        flags: flag names (FlagError for a bad one); received: the internal date, default now;
        headers: the message's header section when the caller parsed it already.
        """

    async def deliver_all(self, items: list[tuple[bytes, list[str], float | None]], mailbox: str) -> list[Message]:
        """Store messages, each (data, flags, received or None for now), in a mailbox in one transaction:
        all of them or, on any error, none (IMAP MULTIAPPEND, RFC 3502). Returns them in order."""

    async def delete(self, msg_id: int) -> None:
        """Remove a message for good (not to Trash)."""

    async def purge(self) -> int:
        """Remove every message of every mailbox for good, keeping the mailboxes; how many. The change log
        and subscribers hear of it as of an expunge, per mailbox."""

    async def change_flags(self, msg_ids: list[int], mode: str, flags: list[str], *,
                           mailbox_id: int | None = None, origin: Any = None,
                           unchanged_since: int | None = None) -> list[Message]:
        """Add ("add"), remove ("remove") or set ("set") flags of messages; returns those that changed.

        With mailbox_id, only messages (still) in that mailbox are changed. MessageNotFound when
        none of the messages is there. With unchanged_since, messages whose modseq is above it are
        left as they are (RFC 7162 3.1.3 UNCHANGEDSINCE), decided in the same transaction.
        """

    async def move(self, msg_ids: list[int], dest: str, *, mailbox_id: int | None = None) -> Copied:
        """Move messages to mailbox dest (RFC 6851); they keep their ids and get new UIDs there.

        With mailbox_id, only messages (still) in that mailbox are moved, and moving to it is a
        MailboxError; without, messages already in dest stay as they are. MessageNotFound when none
        of the messages is there.
        """

    async def copy(self, msg_ids: list[int], dest: str, *, mailbox_id: int) -> Copied:
        """Copy messages of a mailbox to mailbox dest, as new messages with new ids and UIDs.

        Messages no longer in mailbox_id are left out; MessageNotFound when none is left.
        """

    async def expunge(self, mailbox_id: int, uids: list[int] | None = None) -> list[int]:
        """Remove the messages flagged \\Deleted (only those among uids when given); returns their UIDs."""

    def search(self, mailbox_id: int, criteria: Criteria) -> list[int]:
        """UIDs of the messages matching criteria, ascending; text criteria read the messages' files."""

    # Modification sequences (RFC 7162 CONDSTORE, QRESYNC): every change of a message gives it the
    # account's next modseq, the number of the change log's entries of that change.

    def highest_modseq(self, mailbox_id: int) -> int:
        """The mailbox's HIGHESTMODSEQ: at least the modseq of every change to its messages (expunges
        too), and never lower than before."""

    def changed_since(self, mailbox_id: int, modseq: int) -> list[Message]:
        """The mailbox's messages whose modseq is above modseq, by UID; found by index, not by scan."""

    def expunged_since(self, mailbox_id: int, modseq: int) -> list[int] | None:
        """UIDs removed from the mailbox (expunged, deleted, moved away) by changes above modseq,
        ascending; None when the change log no longer goes back that far (ChangesRetention)."""

    # \Recent (RFC 3501 2.3.2): the first session to be told of a message gets it.

    def recent_claimed(self, mailbox_id: int) -> int:
        """The highest UID of a mailbox that a session has claimed as recent."""

    def claim_recent(self, mailbox_id: int, upto: int) -> int:
        """Claim the UIDs up to upto as recent for the caller; returns the highest claimed before.

        The caller's recent messages are those above the returned UID. A claim may be lost in a
        crash; the messages are then recent once more.
        """

    # The change log: every Change but keywords, as LoggedChange entries, one per message or mailbox.

    def changes_since(self, position: ChangePosition | None, limit: int
                      ) -> tuple[list[LoggedChange], ChangePosition, bool]:
        """Up to limit entries after position, in order: (entries, the position after the last of them,
        whether more follow). With position None: no entries and the current position (after the last
        entry). ChangesExpired when entries after position were pruned, ChangePositionUnknown when the
        position is ahead of the log. Reads the index only."""

    async def prune_changes(self, before: float) -> int:
        """Forget the entries of changes made before that Unix time, whole transactions at a time; how
        many. Positions before the last one forgotten are expired from then on."""

    def check(self) -> list[str]:
        """Problems in the account's storage (a message without its bytes, bytes of no message, ...),
        in words; empty when all is well."""


class Store(Protocol):
    """The accounts of a server."""

    # Called, when set, with (account name, changes) after every commit of this process, for the
    # other processes that share the storage (their accounts announce them); on the event loop.
    relay: Callable[[str, list[Change]], None] | None
    # Set by the server: reads at once what the other processes relayed so far, and announces it.
    hear: Callable[[], None] | None

    async def start(self) -> None:
        """Begin hearing of the changes other nodes commit to storage they share, on the event loop: they are
        announced to this process's subscribers within a second. Nothing for storage of one node."""

    def catch_up(self) -> None:
        """Announce now the changes other processes committed and relayed so far, before this process acts
        on a client's command: a client told of a commit elsewhere (an SMTP 250) sees it in its next
        command here, whatever order the event loop reads its connections in."""

    def account(self, name: str) -> Account:
        """The account of that name, created empty (with DEFAULT_MAILBOXES) on first use.

        A store that knows the server's accounts (their names, from the config) refuses a name that is
        not one of them with AccountNotFound, and forgets (see forget) accounts open here that are no
        longer among them, or whose storage was replaced meanwhile (removed, and made again under the
        same name), so that nothing is written into storage that is gone.
        """

    def forget(self, name: str) -> bool:
        """Close an account open in this process and drop it: its on_removed callbacks are called, its
        pending writes finish, later ones fail, and the next account(name) opens its storage afresh.
        False (and nothing done) for an account not open here."""

    async def remove(self, name: str) -> bool:
        """Forget the account and delete its storage, every mailbox and message; False when it had none.
        The other processes of the server must have forgotten it first."""

    def announce(self, name: str, changes: list[Change]) -> None:
        """Tell the subscribers of an account open in this process of changes another process committed
        (Account.announce); nothing for an account not open here."""

    def close(self) -> None:
        """Close every account opened."""
