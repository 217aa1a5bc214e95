"""Commands of the selected state (RFC 3501 6.4): CHECK, CLOSE, EXPUNGE,
SEARCH (with ESEARCH, RFC 4731, and SEARCHRES, RFC 5182), FETCH, STORE,
COPY and UID, with MOVE (RFC 6851), UNSELECT
(RFC 3691), UID EXPUNGE (RFC 4315) and IDLE (RFC 2177, also allowed
when authenticated).

Messages are named by sequence number or UID in the session's view of
the mailbox (view.MailboxView). Message files are read, and messages
parsed, in a worker thread: a large message or a large FETCH does not
hold up other sessions. Of a large message, FETCH reads only the body
sections asked for, and sends a long one in parts as they are read
(fetch.response_in_spans), so the message is never in memory whole.
"""

from __future__ import annotations

import asyncio
import contextlib

from ..backpressure import LARGE_MESSAGE, PART, read_exactly
from ..store import MailboxError, MailboxNotFound, Message, MessageNotFound
from ..store import flags as flaglib
from . import arguments, condstore, esearch, syntax
from . import binary as binarylib
from . import fetch as fetchlib
from . import search as searchlib
from .mailboxes import mailbox_argument
from .session import AUTHENTICATED, SELECTED, Bad, Command, CutShort, No, Session
from .view import MailboxView

# FETCH reads message files in a worker thread, this many at a time (or fewer, when they add up to
# READ_BATCH_OCTETS): one hand-off per batch rather than per (typically small) message measured several times
# faster. The responses are rendered on the event loop, while the next batch is read.
READ_BATCH_MESSAGES = 256
READ_BATCH_OCTETS = 1024 * 1024

# A message larger than backpressure.LARGE_MESSAGE is read in parts when its body sections asked for are
# slices of it (BODY[], RFC822, BODY[TEXT], BODY[1], partials, BINARY of a part sent as stored): only their
# octets, and a value longer than backpressure.PART is sent in parts of that size as they are read, at the
# pace the client reads.
_LARGE = object()  # in place of a large message's bytes in a read batch: read in parts, later


def _batches(targets: list, by_octets: bool) -> list[list]:
    """FETCH's messages in batches for the worker thread: READ_BATCH_MESSAGES, or fewer adding up to
    READ_BATCH_OCTETS when their files are read."""
    batches = []
    batch: list = []
    octets = 0
    for target in targets:
        batch.append(target)
        octets += target[1].size
        if len(batch) >= READ_BATCH_MESSAGES or (by_octets and octets >= READ_BATCH_OCTETS):
            batches.append(batch)
            batch, octets = [], 0
    if batch:
        batches.append(batch)
    return batches


def _resolve(view: MailboxView, ranges, by_uid: bool) -> list[int]:
    if ranges is esearch.SAVED:
        # RFC 5182 2.1: "$", the saved search result, without the messages expunged since.
        return [u for u in view.saved if view.seq(u)]
    try:
        return view.resolve(ranges, by_uid)
    except IndexError:
        raise Bad(b"message sequence number beyond the last message") from None


def check(session: Session, tag: bytes) -> None:
    # RFC 3501 6.4.1: every change is on disk when it is answered, so there is nothing to do but report.
    session.report(True)
    session.sendPositiveResponse(tag, b"CHECK completed")


async def close(session: Session) -> bytes:
    # RFC 3501 6.4.2: CLOSE removes \Deleted messages, without EXPUNGE responses.
    view = session.selected
    session.deselect()
    if not view.readonly:
        await session.account.expunge(view.mailbox_id)
    return b"CLOSE completed"


async def unselect(session: Session) -> bytes:
    # RFC 3691: as CLOSE, without removing messages.
    session.deselect()
    return b"UNSELECT completed"


async def expunge(session: Session) -> bytes:
    # RFC 3501 6.4.3
    return await _expunge(session, None)


async def uid_expunge(session: Session, ranges) -> bytes:
    # RFC 4315 2.1: only those of the messages flagged \Deleted that are named.
    return await _expunge(session, ranges)


async def _expunge(session: Session, ranges) -> bytes:
    view = session.selected
    if view.readonly:
        raise No(b"[READ-ONLY] mailbox is read-only")
    uids = None if ranges is None else _resolve(view, ranges, True)
    if uids is None or uids:
        await session.account.expunge(view.mailbox_id, uids)
    if condstore.condstore(session):
        # RFC 7162 3.2, as mox: once CONDSTORE is on, the tagged OK says the mailbox's modseq after the expunge.
        return b"[HIGHESTMODSEQ %d] EXPUNGE completed" % session.account.highest_modseq(view.mailbox_id)
    return b"EXPUNGE completed"


def search(session: Session, tag: bytes, tokens: list, *, by_uid: bool) -> None:
    # RFC 3501 6.4.4; RETURN options and ESEARCH are RFC 4731, SAVE RFC 5182. The tag is in the ESEARCH
    # response, so this is a plain handler that runs the search itself.
    session.run(tag, _search(session, tag, tokens, by_uid), allow_expunge=by_uid)


async def _search(session: Session, tag: bytes, tokens: list, by_uid: bool) -> bytes:
    view = session.selected
    options, tokens = esearch.parse_return(tokens)
    if options is None and b"IMAP4REV2" in session.enabled:
        options = frozenset({b"ALL"})  # RFC 9051 6.4.4: a SEARCH without RETURN answers as RETURN (ALL)
    try:
        criteria = searchlib.parse(tokens, view)
        # Text keys read and parse message files: in a worker thread (the store allows it).
        uids = await asyncio.to_thread(session.account.search, view.mailbox_id, criteria)
    except searchlib.BadCharset:
        _forget_saved(view, options)
        raise No(b"[BADCHARSET (US-ASCII UTF-8)] unsupported charset") from None
    except BaseException:
        _forget_saved(view, options)  # RFC 5182 2.1: a failed SEARCH with SAVE leaves no saved result
        raise
    with_modseq = condstore.uses_modseq(criteria)
    if with_modseq:
        condstore.enable_condstore(session)  # RFC 7162 3.1: SEARCH MODSEQ enables CONDSTORE
    uids = [u for u in uids if view.seq(u)]
    if options is not None and b"SAVE" in options:
        view.saved = esearch.to_save(uids, options)
    found = uids if by_uid else [view.seq(u) for u in uids]
    # RFC 7162 3.1.5: with MODSEQ, the highest modseq of the messages found ends the response.
    highest = max(m.modseq for m in session.account.messages(view.mailbox_id, uids)) if with_modseq and uids else 0
    if options is None:
        words = [b"* SEARCH"] + [b"%d" % n for n in found] + ([b"(MODSEQ %d)" % highest] if highest else [])
        session.write([b" ".join(words)])
    else:
        line = esearch.response(tag, found, options, by_uid)
        if line is not None:
            # RFC 7162 3.1.5 and RFC 4731 3.1: ESEARCH's MODSEQ item.
            session.write([line + (b" MODSEQ %d" % highest if highest else b"")])
    return b"SEARCH completed"


def _forget_saved(view: MailboxView, options) -> None:
    if options is not None and b"SAVE" in options:
        view.saved = []


async def fetch(session: Session, ranges, items: list, *, by_uid: bool) -> bytes:
    # RFC 3501 6.4.5
    view = session.selected
    account = session.account
    items, modifiers = condstore.split_fetch(session, items, by_uid)
    uids = _resolve(view, ranges, by_uid)
    if by_uid and "UID" not in items:
        items = ["UID"] + items  # RFC 3501 6.4.8: UID FETCH always returns the UID
    sections = [i for i in items if isinstance(i, fetchlib.Section)]
    need_parts, need_bytes = fetchlib.needs_parts(items), fetchlib.needs_bytes(items)
    if modifiers is not None and modifiers.changed_since is not None:
        # RFC 7162 3.1.4.1, 3.2.6: only messages changed since, found by index; first the UIDs expunged since.
        if modifiers.vanished:
            session.write(condstore.vanished_earlier(session, view, ranges, modifiers.changed_since))
        messages = condstore.changed_messages(session, view, uids, modifiers.changed_since)
        if need_parts and messages:
            messages = account.messages(view.mailbox_id, [m.uid for m in messages], parts=True)
    else:
        messages = account.messages(view.mailbox_id, uids, parts=need_parts)
    # RFC 3501 6.4.5: fetching a body section without PEEK sets \Seen, and the new flags are reported.
    seen_now: dict[int, list[str]] = {}
    if not view.readonly and any(s.sets_seen for s in sections):
        unseen = [m.id for m in messages if "\\Seen" not in m.flags]
        if unseen:
            changed = await _change_flags(session, unseen, "add", ["\\Seen"])
            seen_now = {m.uid: m.flags for m in changed}
            modseqs = {m.uid: m.modseq for m in changed}
            for message in messages:
                message.modseq = modseqs.get(message.uid, message.modseq)
            if seen_now and condstore.condstore(session):
                # RFC 7162 3.1: a FETCH that sets \Seen reports UID and MODSEQ once CONDSTORE is enabled.
                items = items + [i for i in ("UID", "MODSEQ") if i not in items]
    add_flags = bool(seen_now) and "FLAGS" not in items

    targets = []  # (seq, message, FLAGS item, whether to add FLAGS)
    for message in messages:
        seq = view.seq(message.uid)
        if seq:
            flags = seen_now.get(message.uid) or message.flags
            targets.append((seq, message, fetchlib.flags(flags, view.is_recent(message.uid)),
                            add_flags and message.uid in seen_now))

    # Without the MIME tree stored, sections are found by parsing the whole message anyway.
    large = {m.id for _, m, _, _ in targets if m.size > LARGE_MESSAGE and (m.parts or not need_parts)
             } if need_bytes else set()

    def read(batch: list) -> list[bytes | None]:
        """The messages' bytes, None for one expunged meanwhile by another session; run in a worker thread."""
        found = []
        for _, message, _, _ in batch:
            found.append(_LARGE if message.id in large else read_one(message))
        return found

    def read_one(message: Message) -> bytes | None:
        try:
            return account.message_bytes(message)
        except OSError:
            return None

    async def responses():
        loop = asyncio.get_running_loop()
        batches = _batches(targets, need_bytes)
        pending = loop.run_in_executor(None, read, batches[0]) if need_bytes and batches else None
        for i, batch in enumerate(batches):
            contents = [None] * len(batch)
            if need_bytes:
                contents = await pending
                if i + 1 < len(batches):
                    pending = loop.run_in_executor(None, read, batches[i + 1])  # read ahead while this is sent
            lines = []
            for (seq, message, flags_item, with_flags), data in zip(batch, contents):
                # The MIME tree comes with the index (parts=True): decoding it is cheap, parsing is not needed.
                root = account.message_parts(message) if need_parts and not (need_bytes and data is None) else None
                if data is _LARGE:
                    pieces = fetchlib.response_in_spans(seq, message, items, flags_item, root=root,
                                                        with_flags=with_flags)
                    if pieces is not None:
                        if lines:
                            yield lines
                            lines = []
                        async with contextlib.aclosing(_send_in_parts(account, message, pieces)) as parts:
                            async for out in parts:
                                yield out
                        continue
                    data = await loop.run_in_executor(None, read_one, message)
                if need_bytes and data is None:
                    continue
                lines.append(fetchlib.response(seq, message, items, flags_item, data=data, root=root,
                                               with_flags=with_flags))
            yield lines

    try:
        if not await session.stream(responses()):
            return b"FETCH aborted"
    except binarylib.UnknownEncoding as e:
        # RFC 3516 4.3: a part in an encoding the server cannot decode.
        raise No(b"[UNKNOWN-CTE] unknown Content-Transfer-Encoding " + syntax.plain_text(str(e), 40)) from None
    except fetchlib.FetchError as e:
        raise No(syntax.plain_text(str(e))) from None
    return b"FETCH completed"


async def _send_in_parts(account, message: Message, pieces: list):
    """The batches of a large message's response (fetch.response_in_spans): its spans read from the message
    in a worker thread, a long one sent in PART parts, each read as the previous one was written.
    Nothing when the message was expunged meanwhile (as a message read whole); CutShort when that is found
    out only once its response has begun."""
    loop = asyncio.get_running_loop()
    try:
        f = await loop.run_in_executor(None, account.open_message, message)
    except OSError:
        return
    begun = False
    try:
        text: list[bytes] = []
        for piece in pieces:
            if isinstance(piece, bytes):
                text.append(piece)
                continue
            if piece.size <= PART:
                value = await loop.run_in_executor(None, read_exactly, f, piece.start, piece.end)
                # RFC 3516 4.2: a BINARY value with NUL goes in a literal8.
                text.append((b"~" if piece.binary and b"\0" in value else b"") + syntax.literal(value))
                continue
            # A long value's octets are not looked at before they are sent: a BINARY one is always a literal8.
            yield text + [(b"~" if piece.binary else b"") + b"{%d}\r\n" % piece.size]
            begun, text = True, []
            for start in range(piece.start, piece.end, PART):
                yield [await loop.run_in_executor(None, read_exactly, f, start, min(start + PART, piece.end))]
        yield text
    except OSError as e:
        if begun:
            raise CutShort(f"message {message.id} removed while it was sent: {e}") from None
    finally:
        f.close()


async def store(session: Session, ranges, modifiers, mode: bytes, flags: list[str], *, by_uid: bool) -> bytes:
    # RFC 3501 6.4.6; UNCHANGEDSINCE (modifiers) is RFC 7162 3.1.3.
    view = session.selected
    mode = mode.upper()
    silent = mode.endswith(b".SILENT")
    operation = {b"FLAGS": "set", b"+FLAGS": "add", b"-FLAGS": "remove"}.get(mode.removesuffix(b".SILENT"))
    if operation is None:
        raise Bad(b"expected FLAGS, +FLAGS or -FLAGS")
    if view.readonly:
        raise No(b"[READ-ONLY] mailbox is read-only")
    unchanged_since = modifiers.unchanged_since if modifiers is not None else None
    if unchanged_since is not None:
        condstore.enable_condstore(session)  # RFC 7162 3.1: UNCHANGEDSINCE enables CONDSTORE
    with_modseq = condstore.condstore(session)
    uids = _resolve(view, ranges, by_uid)
    ids = [m.id for m in session.account.messages(view.mailbox_id, uids)]
    try:
        changed = await _change_flags(session, ids, operation, [f for f in flags if f.lower() != "\\recent"],
                                      unchanged_since=unchanged_since)
    except flaglib.FlagError as e:
        raise Bad(syntax.plain_text(str(e))) from None
    changed_uids = {m.uid for m in changed}
    # A new keyword is announced (RFC 3501 7.2.6) before the FETCH responses that show it.
    keywords = view.take_keywords()
    if keywords is not None:
        session.write(session.flags_lines(keywords))
    modified = []  # RFC 7162 3.1.3: changed by others since UNCHANGEDSINCE, so left as they were
    lines = []
    for message in session.account.messages(view.mailbox_id, uids) if not silent or with_modseq else ():
        seq = view.seq(message.uid)
        if unchanged_since is not None and message.modseq > unchanged_since and message.uid not in changed_uids:
            modified.append(message.uid if by_uid else seq)
            continue
        flags_item = fetchlib.flags(message.flags, view.is_recent(message.uid))
        if with_modseq:
            # RFC 7162 3.1: UID and MODSEQ in every FETCH response; with .SILENT, of the changed messages only.
            if not silent:
                lines.append(b"* %d FETCH (UID %d %s MODSEQ (%d))" % (seq, message.uid, flags_item, message.modseq))
            elif message.uid in changed_uids:
                lines.append(b"* %d FETCH (UID %d MODSEQ (%d))" % (seq, message.uid, message.modseq))
        elif by_uid:
            lines.append(b"* %d FETCH (UID %d %s)" % (seq, message.uid, flags_item))
        else:
            lines.append(b"* %d FETCH (%s)" % (seq, flags_item))
    session.write(lines)
    if modified:
        return b"[MODIFIED %s] conditional STORE failed for messages changed since" % syntax.format_uid_set(
            sorted(modified))
    return b"STORE completed"


async def _change_flags(session: Session, msg_ids: list[int], mode: str, flags: list[str],
                       unchanged_since: int | None = None) -> list[Message]:
    """Change flags of messages of the selected mailbox; those expunged meanwhile are left alone."""
    try:
        return await session.account.change_flags(msg_ids, mode, flags, mailbox_id=session.selected.mailbox_id,
                                                  origin=session, unchanged_since=unchanged_since)
    except MessageNotFound:
        return []


async def copy(session: Session, ranges, raw: bytes, *, by_uid: bool) -> bytes:
    # RFC 3501 6.4.7; COPYUID is RFC 4315 3.
    return await _copy(session, ranges, raw, by_uid, move=False)


async def move(session: Session, ranges, raw: bytes, *, by_uid: bool) -> bytes:
    # RFC 6851
    return await _copy(session, ranges, raw, by_uid, move=True)


async def _copy(session: Session, ranges, raw: bytes, by_uid: bool, move: bool) -> bytes:
    view = session.selected
    account = session.account
    uids = _resolve(view, ranges, by_uid)
    name = mailbox_argument(session, raw)
    if account.mailbox(name) is None:
        raise No(b"[TRYCREATE] no such mailbox")
    command = b"MOVE" if move else b"COPY"
    if not uids:
        return command + b" completed, no messages"
    if move and view.readonly:
        raise No(b"[READ-ONLY] mailbox is read-only")
    ids = [m.id for m in account.messages(view.mailbox_id, uids)]
    try:
        if move:
            copied = await account.move(ids, name, mailbox_id=view.mailbox_id)
        else:
            copied = await account.copy(ids, name, mailbox_id=view.mailbox_id)
        uidvalidity, pairs = copied.uidvalidity, copied.pairs
    except MessageNotFound:
        pairs = []
    except MailboxNotFound:
        raise No(b"[TRYCREATE] no such mailbox") from None
    except MailboxError as e:
        raise No(b"[CANNOT] " + syntax.plain_text(str(e))) from None
    if not pairs:
        # RFC 5530 EXPUNGEISSUED: another session expunged them after this one last heard of it.
        raise No(b"[EXPUNGEISSUED] the messages were expunged meanwhile, nothing " +
                 (b"moved" if move else b"copied"))
    gone = b"" if len(pairs) == len(uids) else b", leaving out messages expunged meanwhile"
    code = b"[COPYUID %d %s %s]" % (uidvalidity, syntax.format_uid_set([a for a, _ in pairs]),
                                     syntax.format_uid_set([b for _, b in pairs]))
    if move:
        # RFC 6851 4.3: COPYUID comes in an untagged OK before the EXPUNGE responses.
        session.write([b"* OK " + code + b" moved"])
        if condstore.qresync(session):
            # RFC 7162 3.2, as mox: with QRESYNC, the source mailbox's modseq after the move (its messages vanished).
            return b"[HIGHESTMODSEQ %d] MOVE completed" % account.highest_modseq(view.mailbox_id) + gone
        return b"MOVE completed" + gone
    return code + b" COPY completed" + gone


def uid(session: Session, tag: bytes, name: bytes, line: bytes) -> None:
    # RFC 3501 6.4.8: COPY, FETCH, SEARCH and STORE (and MOVE, RFC 6851 3.2) by UID; UID EXPUNGE is RFC 4315 2.1.
    name = name.upper()
    if name == b"EXPUNGE":
        session.dispatch(tag, b"UID EXPUNGE", line)
        return
    if name not in (b"COPY", b"MOVE", b"FETCH", b"STORE", b"SEARCH"):
        raise syntax.CommandSyntaxError("unknown UID command")
    session.dispatch(tag, name, line, by_uid=True)


def idle(session: Session, tag: bytes) -> None:
    # RFC 2177: changes are reported as they happen until the client sends DONE.
    session.idling = True
    session.sendLine(b"+ idling")
    session.read_line(lambda line: _idle_done(session, tag, line))
    session.report(True)


def _idle_done(session: Session, tag: bytes, line: bytes) -> None:
    session.idling = False
    if line.strip().upper() == b"DONE":
        session.sendPositiveResponse(tag, b"IDLE done")
    else:
        session.sendBadResponse(tag, b"expected DONE")


COMMANDS = [
    Command(b"CHECK", SELECTED, check),
    Command(b"CLOSE", SELECTED, close),
    Command(b"UNSELECT", SELECTED, unselect),
    Command(b"EXPUNGE", SELECTED, expunge),
    Command(b"UID EXPUNGE", SELECTED, uid_expunge, (arguments.sequence_set,)),
    Command(b"SEARCH", SELECTED, search, (arguments.search_keys,), uid_form=True, holds_expunge=True),
    Command(b"FETCH", SELECTED, fetch, (arguments.sequence_set, condstore.fetch_items), uid_form=True,
            holds_expunge=True),
    Command(b"STORE", SELECTED, store, (arguments.sequence_set, condstore.store_modifiers, arguments.atom,
                                        arguments.flag_list), uid_form=True, holds_expunge=True),
    Command(b"COPY", SELECTED, copy, (arguments.sequence_set, arguments.final_astring), uid_form=True,
            holds_expunge=True),
    Command(b"MOVE", SELECTED, move, (arguments.sequence_set, arguments.final_astring), uid_form=True),
    Command(b"UID", SELECTED, uid, (arguments.atom, arguments.rest_of_line)),
    Command(b"IDLE", AUTHENTICATED, idle),
]
