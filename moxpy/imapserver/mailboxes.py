"""Commands of the authenticated state (RFC 3501 6.3): SELECT, EXAMINE,
CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS and
APPEND (with MULTIAPPEND, RFC 3502), and NAMESPACE (RFC 2342).

Mailboxes are the store's (store.Account); names are translated with
names.py, so the inbox is INBOX here and "Inbox" in the store.
"""

from __future__ import annotations

import logging
from functools import partial

from ..store import STORAGE_FULL, MailboxError, MailboxExists, MailboxNotFound, storage_full
from ..store import flags as flaglib
from ..store import mailboxname
from . import arguments, condstore, listext, names, syntax
from . import fetch as fetchlib
from .session import AUTHENTICATED, Bad, Command, No, Session
from .view import MailboxView

log = logging.getLogger("moxpy.imapserver")


def mailbox_argument(session: Session, raw: bytes) -> str:
    """The store's name for a mailbox name argument; a name no mailbox can have is answered with NO, as for a
    missing one."""
    try:
        return mailboxname.check(names.decode(raw, b"IMAP4REV2" in session.enabled))
    except (names.MailboxNameError, MailboxError) as e:
        raise No(b"[CANNOT] " + syntax.plain_text(str(e))) from None


async def select(session: Session, raw: bytes, params: condstore.SelectParameters) -> bytes:
    return await _select(session, raw, params, False, b"SELECT")


async def examine(session: Session, raw: bytes, params: condstore.SelectParameters) -> bytes:
    return await _select(session, raw, params, True, b"EXAMINE")


async def _select(session: Session, raw: bytes, params: condstore.SelectParameters, readonly: bool,
                  command: bytes) -> bytes:
    if params.qresync is not None and not condstore.qresync(session):
        raise Bad(b"QRESYNC needs ENABLE QRESYNC first")  # RFC 7162 3.2.5
    rev2 = b"IMAP4REV2" in session.enabled
    # RFC 3501 6.3.1: a SELECT, even a failing one, first closes the current mailbox. RFC 7162 3.2.11 and
    # RFC 9051 7.1: CLOSED marks where the responses about it end.
    if session.selected is not None:
        session.write([b"* OK [CLOSED] previous mailbox closed"])
    session.deselect()
    if params.condstore:
        condstore.enable_condstore(session)  # RFC 7162 3.1: the CONDSTORE parameter enables it
    account = session.account
    box = account.mailbox(mailbox_argument(session, raw))
    if box is None:
        raise No(b"[NONEXISTENT] no such mailbox")
    # Before the view: a change committed meanwhile is then reported again later rather than missed.
    highest = account.highest_modseq(box.id)
    view = MailboxView(account, box.id, readonly, session, recent=not rev2)
    status = account.mailbox_status(box.id)
    flags = fetchlib.flag_list(view.keywords)
    # RFC 3501 6.3.2: EXAMINE allows no flag changes, so no flag is permanent.
    lines = [
        b"* FLAGS (" + flags + b")",
        b"* OK [PERMANENTFLAGS (" + (b"" if readonly else flags + b" \\*") + b")] flags",
        b"* %d EXISTS" % len(view.uids),
    ]
    if not rev2:
        # RFC 9051 E: IMAP4rev2 has neither RECENT nor UNSEEN here.
        lines.append(b"* %d RECENT" % view.recent_count())
        if status.first_unseen:
            seq = view.seq(status.first_unseen)
            if seq:
                lines.append(b"* OK [UNSEEN %d] first unseen" % seq)
    lines += [b"* OK [UIDVALIDITY %d] UIDs valid" % box.uidvalidity,
              b"* OK [UIDNEXT %d] next UID" % box.uidnext]
    lines += condstore.select_lines(session, view, box, params, highest)
    if rev2:
        # RFC 9051 6.3.2: the mailbox's name as the server has it.
        lines.append(b'* LIST () "/" ' + names.encode(names.display(box.name), utf8=True))
    session.write(lines)
    session.select(view)
    return (b"[READ-ONLY] " if readonly else b"[READ-WRITE] ") + command + b" completed"


async def create(session: Session, raw: bytes) -> bytes:
    # RFC 3501 6.3.3: a trailing separator only says that children are intended.
    name = mailbox_argument(session, raw.rstrip(b"/") or raw)
    try:
        await session.account.create_mailbox(name)
    except MailboxExists:
        raise No(b"[ALREADYEXISTS] mailbox already exists") from None
    return b"CREATE completed"


async def delete(session: Session, raw: bytes) -> bytes:
    # RFC 3501 6.3.4
    try:
        await session.account.delete_mailbox(mailbox_argument(session, raw))
    except MailboxNotFound:
        raise No(b"[NONEXISTENT] no such mailbox") from None
    except MailboxError as e:
        raise No(b"[CANNOT] " + syntax.plain_text(str(e))) from None
    return b"DELETE completed"


async def rename(session: Session, old: bytes, new: bytes) -> bytes:
    # RFC 3501 6.3.5
    try:
        await session.account.rename_mailbox(mailbox_argument(session, old), mailbox_argument(session, new))
    except MailboxNotFound:
        raise No(b"[NONEXISTENT] no such mailbox") from None
    except MailboxExists:
        raise No(b"[ALREADYEXISTS] destination mailbox already exists") from None
    except MailboxError as e:
        raise No(b"[CANNOT] " + syntax.plain_text(str(e))) from None
    return b"RENAME completed"


async def subscribe(session: Session, raw: bytes) -> bytes:
    # RFC 3501 6.3.6
    return await _subscribe(session, raw, True)


async def unsubscribe(session: Session, raw: bytes) -> bytes:
    # RFC 3501 6.3.7
    return await _subscribe(session, raw, False)


async def _subscribe(session: Session, raw: bytes, on: bool) -> bytes:
    try:
        await session.account.set_subscribed(mailbox_argument(session, raw), on)
    except MailboxNotFound:
        raise No(b"[NONEXISTENT] no such mailbox") from None
    return b"SUBSCRIBE completed" if on else b"UNSUBSCRIBE completed"


async def list_(session: Session, tokens: list) -> bytes:
    # RFC 3501 6.3.8; with options, several patterns or in IMAP4rev2, RFC 5258 and RFC 5819 (listext.py).
    command = listext.parse(tokens, status_items)
    if command.status and b"HIGHESTMODSEQ" in command.status:
        condstore.enable_condstore(session)  # as STATUS HIGHESTMODSEQ (RFC 7162 3.1)
    rev2 = b"IMAP4REV2" in session.enabled
    if not command.extended and not rev2:
        return await _list(session, command.reference, command.patterns[0], False)
    session.write(listext.answer(session, command, partial(status_line, session.account, utf8=rev2), rev2))
    return b"LIST completed"


async def lsub(session: Session, ref: bytes, pattern: bytes) -> bytes:
    # RFC 3501 6.3.9: the subscribed mailboxes, without special-use attributes.
    return await _list(session, ref, pattern, True)


async def _list(session: Session, ref: bytes, pattern: bytes, lsub: bool) -> bytes:
    command = b"LSUB" if lsub else b"LIST"
    try:
        ref_name, pattern_name = names.decode(ref), names.decode(pattern)  # IMAP4rev1 only: rev2 has listext's
    except names.MailboxNameError:
        return command + b" completed"  # no mailbox has such a name
    if not pattern_name and not lsub:
        # RFC 3501 6.3.8: an empty pattern asks for the hierarchy delimiter.
        session.write([b'* LIST (\\Noselect) "/" ""'])
        return b"LIST completed"
    matches = names.list_matcher(ref_name + pattern_name)
    boxes = session.account.mailboxes()
    all_names = {box.name for box in boxes}
    lines = []
    for box in boxes:
        name = box.name
        if lsub and not box.subscribed:
            continue
        if not matches(names.display(name)):
            continue
        # RFC 3348 (CHILDREN) and RFC 6154 (SPECIAL-USE) attributes.
        has_children = any(other.startswith(name + "/") for other in all_names)
        attrs = [b"\\HasChildren" if has_children else b"\\HasNoChildren"]
        if box.special_use and not lsub:
            attrs.append(box.special_use.encode())
        lines.append(b"* " + command + b" (" + b" ".join(attrs) + b') "/" ' + names.encode(names.display(name)))
    session.write(lines)
    return command + b" completed"


async def status(session: Session, raw: bytes, items: list) -> bytes:
    # RFC 3501 6.3.10; SIZE is RFC 8438, DELETED RFC 9051 6.3.11.
    account = session.account
    box = account.mailbox(mailbox_argument(session, raw))
    if box is None:
        raise No(b"[NONEXISTENT] no such mailbox")
    wanted = status_items(items)
    if b"HIGHESTMODSEQ" in wanted:
        condstore.enable_condstore(session)  # RFC 7162 3.1: STATUS HIGHESTMODSEQ enables CONDSTORE
    session.write([status_line(account, box, wanted, b"IMAP4REV2" in session.enabled)])
    return b"STATUS completed"


# HIGHESTMODSEQ is RFC 7162 3.1.8.
STATUS_ITEMS = (b"MESSAGES", b"RECENT", b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN", b"SIZE", b"DELETED", b"HIGHESTMODSEQ")


def status_items(items: list) -> list[bytes]:
    """STATUS's items, upper case; BAD for an unknown one."""
    out = []
    for item in items:
        if isinstance(item, list) or bytes(item).upper() not in STATUS_ITEMS:
            raise Bad(b"unknown STATUS item")
        out.append(bytes(item).upper())
    return out


def status_line(account, box, items: list[bytes], utf8: bool = False) -> bytes:
    """The STATUS response of a mailbox (RFC 3501 7.2.4)."""
    counts = account.mailbox_status(box.id)
    values = {b"MESSAGES": counts.messages, b"RECENT": counts.recent, b"UIDNEXT": box.uidnext,
              b"UIDVALIDITY": box.uidvalidity, b"UNSEEN": counts.unseen, b"SIZE": counts.size,
              b"DELETED": counts.deleted}
    if b"HIGHESTMODSEQ" in items:
        values[b"HIGHESTMODSEQ"] = account.highest_modseq(box.id)
    out = [key + b" %d" % values[key] for key in items]
    return b"* STATUS " + names.encode(names.display(box.name), utf8) + b" (" + b" ".join(out) + b")"


async def append(session: Session, raw: bytes, messages: list[arguments.AppendMessage]) -> bytes:
    # RFC 3501 6.3.11; APPENDUID is RFC 4315 3; several messages are MULTIAPPEND (RFC 3502), stored all or none.
    contents = []
    for message in messages:
        contents.append(message.file.read())
        message.file.close()
    name = mailbox_argument(session, raw)
    if any(len(data) > session.factory.max_message_size() for data in contents):
        raise No(b"[TOOBIG] message too large")
    if any(not data for data in contents):
        # RFC 3502 6.3.11 (and 3): an empty message cancels the whole APPEND.
        raise No(b"empty message, APPEND cancelled, nothing stored")
    items = []
    for message, data in zip(messages, contents):
        words = [bytes(f).decode("utf-8", "replace") for f in message.flags or [] if not isinstance(f, list)]
        words = [w for w in words if w.lower() != "\\recent"]  # RFC 3501 2.3.2: clients cannot set \Recent
        try:
            flaglib.parse(words)  # a bad flag is BAD, before a missing mailbox is NO
        except flaglib.FlagError as e:
            raise Bad(syntax.plain_text(str(e))) from None
        items.append((data, words, syntax.parse_date_time(message.date) if message.date else None))
    box = session.account.mailbox(name)
    if box is None:
        raise No(b"[TRYCREATE] no such mailbox")
    try:
        if len(items) == 1:
            data, words, received = items[0]
            stored = [await session.account.deliver(data, box.name, flags=words, received=received)]
        else:
            stored = await session.account.deliver_all(items, box.name)
    except Exception as e:
        if not storage_full(e):
            raise
        log.warning("append account=%s: storage full: %s", session.account_name, e)
        # RFC 5530 3 OVERQUOTA: the operation would take more storage than there is, which a full disk is as
        # much as a quota (Dovecot answers it for ENOSPC too); the text says it is temporary.
        raise No(b"[OVERQUOTA] " + STORAGE_FULL.encode()) from None
    uids = syntax.format_uid_set([m.uid for m in stored])
    return b"[APPENDUID %d %s] APPEND completed" % (box.uidvalidity, uids)


def namespace(session: Session, tag: bytes) -> None:
    # RFC 2342: one personal namespace, no others.
    session.sendUntaggedResponse(b'NAMESPACE (("" "/")) NIL NIL')
    session.sendPositiveResponse(tag, b"NAMESPACE completed")


COMMANDS = [
    Command(b"SELECT", AUTHENTICATED, select, (arguments.astring, condstore.select_parameters)),
    Command(b"EXAMINE", AUTHENTICATED, examine, (arguments.astring, condstore.select_parameters)),
    Command(b"CREATE", AUTHENTICATED, create, (arguments.final_astring,)),
    Command(b"DELETE", AUTHENTICATED, delete, (arguments.final_astring,)),
    Command(b"RENAME", AUTHENTICATED, rename, (arguments.astring, arguments.final_astring)),
    Command(b"SUBSCRIBE", AUTHENTICATED, subscribe, (arguments.final_astring,)),
    Command(b"UNSUBSCRIBE", AUTHENTICATED, unsubscribe, (arguments.final_astring,)),
    Command(b"LIST", AUTHENTICATED, list_, (arguments.list_arguments,)),
    Command(b"LSUB", AUTHENTICATED, lsub, (arguments.astring, arguments.final_astring)),
    Command(b"STATUS", AUTHENTICATED, status, (arguments.astring, arguments.paren_list)),
    Command(b"APPEND", AUTHENTICATED, append, (arguments.astring, arguments.append_messages)),
    Command(b"NAMESPACE", AUTHENTICATED, namespace),
]
