"""Storage of mailing lists and their members: the records and the
interface a backend implements (SQLite: store/sqlite/newsletter.py, in
mox.db, beside the queue the list's mail goes through).

A list belongs to one account (its tenant). Every read and change of a
list names the account, and a list of another account is as absent as
one that never was, so no call can learn about another tenant's lists or
members. A member is a list and an address: the same address on two lists
is two members, each with its own status and preferences.

What the statuses mean and how members move between them are
moxpy/newsletter's; the store keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

PENDING = "pending"  # subscribed, the confirmation link not yet followed
CONFIRMED = "confirmed"  # receives the list's mail
UNSUBSCRIBED = "unsubscribed"
BOUNCED = "bounced"  # an address the account's suppression list refuses after a bounce
STATUSES = (PENDING, CONFIRMED, UNSUBSCRIBED, BOUNCED)


@dataclass
class MailingList:
    id: int  # never reused; 0 until stored
    account: str  # the tenant
    name: str
    from_address: str  # the list's mail comes from this address of the account
    from_name: str = ""
    confirm_subject: str = ""  # of the confirmation message; empty: a default
    confirm_text: str = ""  # its text, before the link; empty: a default
    created: float = 0.0  # unix time


@dataclass
class Member:
    list_id: int
    email: str  # as subscribed, with the domain in lower case; members are found by it case-insensitively
    status: str  # one of STATUSES
    preferences: dict[str, str] = field(default_factory=dict)
    created: float = 0.0  # unix time of the first subscription
    updated: float = 0.0  # unix time of the last change of status or preferences
    confirm_nonce: str = ""  # of the confirmation token in force: following its link confirms; "" when none
    confirm_sent: float = 0.0  # unix time the last confirmation message was sent


class ListNotFound(Exception):
    """No list of that id in the account."""


class NewsletterStore(Protocol):
    async def create_list(self, record: MailingList) -> int:
        """Store a new list; its id."""
        ...

    def get_list(self, account: str, list_id: int) -> MailingList | None:
        """The account's list of that id; None for none (also when the id is another account's list)."""
        ...

    def lists(self, account: str) -> list[MailingList]:
        """The account's lists, oldest first."""
        ...

    def list_by_id(self, list_id: int) -> MailingList | None:
        """The list of that id, whichever account's: for the links whose signed token names the list (the
        token, not a login, says who may act on it). None for none."""
        ...

    async def update_list(self, record: MailingList) -> None:
        """Replace the name, addresses and confirmation texts of the list record.id of record.account.
        ListNotFound."""
        ...

    async def delete_list(self, account: str, list_id: int) -> None:
        """Remove a list with its members. ListNotFound."""
        ...

    def member(self, account: str, list_id: int, email: str) -> Member | None:
        """The member of the account's list with that address; None when there is none (or no such list)."""
        ...

    def members(self, account: str, list_id: int, status: str = "", offset: int = 0,
                limit: int = 100) -> tuple[list[Member], int]:
        """A page of the members of the account's list (of one status when given), in the order they first
        subscribed, and how many there are in all."""
        ...

    def confirmed_after(self, list_id: int, after: str = "", limit: int = 1000) -> list[Member]:
        """Up to limit confirmed members of a list whose lower-case address sorts after after, in that order:
        the recipients of a send job, read a batch at a time."""
        ...

    async def save_member(self, account: str, member: Member) -> None:
        """Add the member, or replace the one of the list with that address. ListNotFound."""
        ...

    async def save_member_if(self, account: str, member: Member, expected: tuple[str, str] | None) -> bool:
        """save_member, but only while the stored member still has the (status, confirmation nonce) of
        expected, or with expected None while there is none, in one write: a change made meanwhile (a
        confirmation, another process's subscribe) is not overwritten. Whether it saved. ListNotFound."""
        ...

    async def confirm_member(self, account: str, list_id: int, email: str, nonce: str, when: float) -> bool:
        """The pending member whose confirmation nonce is nonce becomes confirmed, its nonce cleared, in one
        write, so of two requests with the same link only one confirms; whether this one did."""
        ...

    async def set_status(self, account: str, list_id: int, email: str, status: str, when: float,
                         only_from: tuple[str, ...]) -> bool:
        """Give the member status (clearing its confirmation nonce) if its status is one of only_from, in
        one write; whether it changed."""
        ...

    async def set_preferences(self, account: str, list_id: int, email: str, preferences: dict[str, str],
                              when: float) -> bool:
        """Replace the member's preferences, leaving the rest as it is; whether there is such a member."""
        ...

    async def mark_bounced(self, account: str, email: str, when: float) -> int:
        """The account's members with this address that are pending or confirmed become bounced, in every
        list; how many."""
        ...

    async def remove_account(self, account: str) -> int:
        """Forget the lists (and their members) of a removed account; how many lists."""
        ...
