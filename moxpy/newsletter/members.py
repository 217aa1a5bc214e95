"""What happens to a list's members: subscribing with double opt-in,
confirming, unsubscribing, and their preferences. No HTTP here: the member
endpoints (http.py) and any other caller translate their input into these
calls and MemberError into their own answers.

Statuses (store/newsletter.py) and how a subscription moves between them:

- a new address, or one that unsubscribed: pending, with a fresh nonce,
  and a confirmation message is sent;
- pending again: the same nonce (an earlier link keeps working), and a new
  message only when the last went out at least RESEND_AFTER ago;
- confirmed: left as it is, preferences too;
- bounced: while the account's suppression list has the address, it stays
  bounced and gets no message (one would only bounce again, and the queue
  would suppress it anyway); once the address is off the list, subscribing
  starts a new double opt-in as for a new address.

Confirmation messages go through the submission path (submit.py), as the
webapi's Send: the account's sending limits, DKIM, the suppression list
and outgoing webhooks apply. The calls that name a list take the account
it must belong to: a list of another account is ListNotFound, as one that
does not exist, so nothing tells a caller about other tenants' lists.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import config as configlib
from .. import offload
from .. import submit as submitlib
from ..message import compose as composelib
from ..message.address import AddressError, parse_address
from ..queue.suppression import Suppressions
from ..store.newsletter import (BOUNCED, CONFIRMED, PENDING, UNSUBSCRIBED, ListNotFound, MailingList, Member,
                                NewsletterStore)
from . import links, signing

log = logging.getLogger("moxpy.newsletter")

RESEND_AFTER = 600  # seconds between two confirmation messages to a pending member

# Preferences are a tenant's small settings per member (a language, topics), not a document store.
MAX_PREFERENCES = 50
MAX_PREFERENCE_KEY = 64  # characters
MAX_PREFERENCE_VALUE = 1024  # characters

DEFAULT_SUBJECT = "Confirm your subscription to {name}"
DEFAULT_TEXT = "Please confirm that you want to receive the mailing list {name}."
IGNORE_TEXT = ("If you did not ask for this, you can ignore this message: without a confirmation you will get no "
               "mail from this list.")


class MemberError(Exception):
    """A member operation that cannot be done; kind for programs, the text for people."""

    BAD_REQUEST = "bad_request"  # the input is wrong: an address, preferences
    LIST_NOT_FOUND = "list_not_found"  # no such list in the account (also: another account's list)
    MEMBER_NOT_FOUND = "member_not_found"  # the list has no member with that address
    TOKEN_INVALID = "invalid_token"  # not one of our tokens, for another purpose, or of a list that is gone
    TOKEN_EXPIRED = "expired_token"
    TOKEN_USED = "used_token"  # a confirmation link followed before
    SEND_FAILED = "send_failed"  # the confirmation message could not be queued (sending limits, the From)

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Subscribed:
    status: str  # the member's status after the call
    confirm_token: str  # of the confirmation link; "" when the member is not pending
    sent: bool  # whether a confirmation message was queued by this call


def address(text: str) -> str:
    """A member's address as kept: as given, with the domain in lower case; MemberError when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise MemberError(MemberError.BAD_REQUEST, "email: required")
    if len(text) > 320:  # RFC 5321 4.5.3.1: 64 for the localpart, 255 for the domain
        raise MemberError(MemberError.BAD_REQUEST, "email: longer than an address can be")
    try:
        parsed = parse_address(text)
    except AddressError as e:
        raise MemberError(MemberError.BAD_REQUEST, f"email: {e}") from None
    if parsed.domain.startswith("["):
        raise MemberError(MemberError.BAD_REQUEST, "email: an address at a domain name, not an IP address")
    return str(parsed)


def check_preferences(preferences: object) -> dict[str, str]:
    """Preferences as kept: an object of string values, bounded in number and size; MemberError otherwise."""
    if not isinstance(preferences, dict):
        raise MemberError(MemberError.BAD_REQUEST, "preferences: must be an object of string values")
    if len(preferences) > MAX_PREFERENCES:
        raise MemberError(MemberError.BAD_REQUEST, f"preferences: at most {MAX_PREFERENCES} keys")
    for key, value in preferences.items():
        if not isinstance(key, str) or not key or len(key) > MAX_PREFERENCE_KEY:
            raise MemberError(MemberError.BAD_REQUEST,
                              f"preferences: keys must be 1 to {MAX_PREFERENCE_KEY} characters")
        if not isinstance(value, str):
            raise MemberError(MemberError.BAD_REQUEST, f"preferences: the value of {key!r} must be a string")
        if len(value) > MAX_PREFERENCE_VALUE:
            raise MemberError(MemberError.BAD_REQUEST,
                              f"preferences: the value of {key!r} is longer than {MAX_PREFERENCE_VALUE} characters")
    return dict(preferences)


class Members:
    def __init__(self, config: configlib.Source, store: NewsletterStore, submitter: submitlib.Submitter,
                 signer: signing.Signer, suppressions: Suppressions | None = None,
                 clock: Callable[[], float] = time.time):
        self.config = config
        self.store = store
        self.submitter = submitter
        self.signer = signer
        self.suppressions = suppressions
        self.clock = clock
        # One subscribe per member at a time in this process, so two at once send one message.
        self._locks: dict[tuple[int, str], list] = {}  # (list id, address key) -> [lock, users]

    def _list(self, account: str, list_id: int) -> MailingList:
        # Outside SQLite's integers no list can be.
        found = self.store.get_list(account, list_id) if isinstance(list_id, int) and 0 < list_id < 1 << 63 else None
        if found is None:
            raise MemberError(MemberError.LIST_NOT_FOUND, f"no list {list_id}")
        return found

    def _member(self, account: str, list_id: int, email: str) -> tuple[MailingList, Member]:
        mailing_list = self._list(account, list_id)
        member = self.store.member(account, list_id, address(email))
        if member is None:
            raise MemberError(MemberError.MEMBER_NOT_FOUND, "the list has no member with this address")
        return mailing_list, member

    def link_list(self, list_id: int) -> MailingList | None:
        """The list a link's token names, whichever account's; None when it is gone."""
        return self.store.list_by_id(list_id) if 0 < list_id < 1 << 63 else None

    # Subscribing and confirming.

    async def subscribe(self, account: str, list_id: int, email: str,
                        preferences: dict[str, str] | None = None) -> Subscribed:
        mailing_list = self._list(account, list_id)
        email = address(email)
        if preferences is not None:
            preferences = check_preferences(preferences)
        key = (list_id, email.lower())
        slot = self._locks.setdefault(key, [asyncio.Lock(), 0])
        slot[1] += 1
        try:
            async with slot[0]:
                for _ in range(3):
                    done = await self._subscribe(account, mailing_list, email, preferences)
                    if done is not None:
                        return done
                raise MemberError(MemberError.SEND_FAILED, "the subscription is changing; try again")
        finally:
            slot[1] -= 1
            if not slot[1]:
                self._locks.pop(key, None)

    async def _subscribe(self, account: str, mailing_list: MailingList, email: str,
                         preferences: dict[str, str] | None) -> Subscribed | None:
        """Subscribe; None when the member changed meanwhile (confirmed by its link, say), to be tried again
        from what it is now."""
        now = self.clock()
        member = self.store.member(account, mailing_list.id, email)
        before = (member.status, member.confirm_nonce) if member is not None else None
        if member is not None and member.status == CONFIRMED:
            return Subscribed(CONFIRMED, "", False)
        if member is not None and member.status == BOUNCED and self._suppressed(account, member.email):
            return Subscribed(BOUNCED, "", False)
        if member is None:
            member = Member(list_id=mailing_list.id, email=email, status=PENDING, created=now)
        if member.status != PENDING:
            # New, unsubscribed, or bounced but no longer suppressed: a new double opt-in, whose link
            # is not that of an earlier subscription.
            member.status = PENDING
            member.confirm_nonce = secrets.token_urlsafe(16)
            member.confirm_sent = 0.0
        elif not member.confirm_nonce:
            member.confirm_nonce = secrets.token_urlsafe(16)
        if preferences is not None:
            member.preferences = preferences
        member.updated = now
        token = self.signer.sign(signing.CONFIRM, mailing_list.id, member.email, signing.CONFIRM_LIFETIME,
                                 nonce=member.confirm_nonce, now=now)
        send = now - member.confirm_sent >= RESEND_AFTER
        if send:
            # Queued before the member is saved as sent, so a failure leaves the next subscribe free to try.
            await self._send_confirmation(account, mailing_list, member, token)
            member.confirm_sent = now
        try:
            if not await self.store.save_member_if(account, member, before):
                return None
        except ListNotFound:
            raise MemberError(MemberError.LIST_NOT_FOUND, f"no list {mailing_list.id}") from None
        log.info("newsletter subscribe account=%s list=%d status=pending sent=%s", account, mailing_list.id, send)
        return Subscribed(PENDING, token, send)

    def _suppressed(self, account: str, email: str) -> bool:
        if self.suppressions is None:
            return True
        try:
            return self.suppressions.lookup(account, parse_address(email)) is not None
        except AddressError:
            return True

    async def _send_confirmation(self, account: str, mailing_list: MailingList, member: Member, token: str) -> None:
        config = self.config.current()
        try:
            sender = parse_address(mailing_list.from_address)
            self.submitter.check_sender(account, str(sender))
            self.submitter.check_limits(account, [member.email])
        except (AddressError, submitlib.SenderNotAllowed):
            raise MemberError(MemberError.SEND_FAILED, "the list's FromAddress is no longer an address of the "
                                                       "account; change it with ListUpdate") from None
        except submitlib.LimitReached as e:
            raise MemberError(MemberError.SEND_FAILED, f"the account's sending limit {e.setting} is reached; "
                                                       "try again later") from None
        name = mailing_list.name
        text = "\n\n".join([mailing_list.confirm_text or DEFAULT_TEXT.format(name=name),
                            links.confirm_url(config, token), IGNORE_TEXT]) + "\n"
        draft = composelib.Draft(
            sender=(mailing_list.from_name, sender),
            to=[("", parse_address(member.email))],
            hostname=config.Hostname,
            subject=mailing_list.confirm_subject or DEFAULT_SUBJECT.format(name=name),
            text=text,
            # RFC 3834 5: an automatic message, which auto-responders do not answer.
            headers=[("Auto-Submitted", "auto-generated")],
        )
        try:
            composed = await offload.run(draft.size(), composelib.compose, draft)
            data = await self.submitter.sign(composed.data, sender.domain)
        except (composelib.ComposeError, submitlib.SigningFailed) as e:
            log.error("newsletter confirmation account=%s list=%d: %s", account, mailing_list.id, e)
            raise MemberError(MemberError.SEND_FAILED, "composing the confirmation message failed") from None
        await self.submitter.enqueue(
            account=account, login=str(sender), mail_from=str(sender), recipients=[member.email], data=data,
            message_id=composed.message_id, subject=draft.subject, smtputf8=composed.smtputf8,
            extra={"newsletter_list": str(mailing_list.id), "newsletter_message": "confirm"})

    async def confirm(self, token: str) -> tuple[MailingList, Member]:
        """Follow a confirmation link: its pending member becomes confirmed; MemberError TOKEN_* otherwise."""
        claims = self.claims(token, signing.CONFIRM)
        mailing_list = self.link_list(claims.list_id)
        if mailing_list is None or not claims.nonce:
            raise MemberError(MemberError.TOKEN_INVALID, "the list of this link no longer exists")
        account = mailing_list.account
        if not await self.store.confirm_member(account, claims.list_id, claims.email, claims.nonce, self.clock()):
            raise MemberError(MemberError.TOKEN_USED, "this confirmation link was used already, or the "
                                                      "subscription changed since it was sent")
        log.info("newsletter confirm account=%s list=%d", account, claims.list_id)
        return mailing_list, self.store.member(account, claims.list_id, claims.email)

    def claims(self, token: str, purpose: str) -> signing.Claims:
        """The claims of a link's token for purpose; MemberError TOKEN_INVALID or TOKEN_EXPIRED."""
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise MemberError(MemberError.TOKEN_INVALID, "token: required")
        try:
            return self.signer.verify(token, purpose)
        except signing.TokenInvalid as e:
            if str(e) == "expired":
                raise MemberError(MemberError.TOKEN_EXPIRED, "this link has expired") from None
            log.info("newsletter token refused purpose=%s: %s", purpose, e)
            raise MemberError(MemberError.TOKEN_INVALID, "not a valid token") from None

    # Unsubscribing.

    def unsubscribe_token(self, account: str, list_id: int, email: str) -> str:
        """The token that unsubscribes a member from one list, for the tenant's own pages and links."""
        mailing_list, member = self._member(account, list_id, email)
        return self.signer.sign(signing.UNSUBSCRIBE, mailing_list.id, member.email, signing.UNSUBSCRIBE_LIFETIME,
                                now=self.clock())

    async def unsubscribe(self, account: str, token: str) -> Member:
        """Unsubscribe the member of an unsubscribe token of one of the account's lists."""
        claims = self.claims(token, signing.UNSUBSCRIBE)
        return await self._unsubscribe(account, claims)

    async def one_click(self, token: str) -> Member | None:
        """RFC 8058 3.2: the POST of a List-Unsubscribe link, authorised by its token alone."""
        claims = self.claims(token, signing.UNSUBSCRIBE)
        mailing_list = self.link_list(claims.list_id)
        if mailing_list is None:
            return None  # the list is gone, and with it the subscription
        try:
            return await self._unsubscribe(mailing_list.account, claims)
        except MemberError as e:
            if e.kind in (MemberError.LIST_NOT_FOUND, MemberError.MEMBER_NOT_FOUND):
                return None
            raise

    async def _unsubscribe(self, account: str, claims: signing.Claims) -> Member:
        mailing_list, member = self._member(account, claims.list_id, claims.email)
        # A bounced member stays bounced: the address does not work, and no mail goes to it either way.
        if await self.store.set_status(account, mailing_list.id, member.email, UNSUBSCRIBED, self.clock(),
                                       only_from=(PENDING, CONFIRMED)):
            log.info("newsletter unsubscribe account=%s list=%d", account, mailing_list.id)
        return self.store.member(account, mailing_list.id, member.email) or member

    # Preferences.

    def preferences(self, account: str, list_id: int, email: str) -> Member:
        return self._member(account, list_id, email)[1]

    async def set_preferences(self, account: str, list_id: int, email: str, preferences: object) -> Member:
        """Replace the member's preferences."""
        preferences = check_preferences(preferences)
        _, member = self._member(account, list_id, email)
        if not await self.store.set_preferences(account, list_id, member.email, preferences, self.clock()):
            raise MemberError(MemberError.MEMBER_NOT_FOUND, "the list has no member with this address")
        member.preferences = preferences
        return member
