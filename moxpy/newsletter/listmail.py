"""A list's message to one member: the rendered job with the header
fields of list mail.

- List-Id (RFC 2919): the list's name and an identifier under the domain
  of its From address, `<ID.lists.DOMAIN>`, the same for every message of
  the list, so filters and feedback loops can tell the list's mail apart.
- List-Unsubscribe (RFC 2369 3.2): the member's one-click link, and a
  mailto: of the list's From address with subject "unsubscribe" for mail
  clients without HTTP; that mail reaches the tenant's own mailbox.
- List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058 3.1): a POST
  of that body to the link unsubscribes at once. DKIM signing covers both
  fields (message/dkim.py), as RFC 8058 4 requires.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from ..message import compose as composelib
from ..message.address import Address
from ..store.newsletter import MailingList

if TYPE_CHECKING:
    from .templates import Rendered

ONE_CLICK = "List-Unsubscribe=One-Click"


def list_id(mailing_list: MailingList, domain: str) -> str:
    """The List-Id field's value."""
    ident = f"<{mailing_list.id}.lists.{domain}>"
    name = mailing_list.name
    # RFC 2919 3: the phrase is optional; kept when it is plain printable ASCII, quoted.
    if name and name.isascii() and name.isprintable():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" {ident}'
    return ident


def list_unsubscribe(one_click_url: str, from_address: str) -> str:
    mailto = "mailto:" + from_address + "?" + urllib.parse.urlencode({"subject": "unsubscribe"})
    return f"<{one_click_url}>, <{mailto}>"


def draft(mailing_list: MailingList, sender: Address, member: Address, rendered: "Rendered", one_click_url: str,
          hostname: str) -> composelib.Draft:
    """The draft of the message to member; message/compose.py makes it (ComposeError for what it refuses)."""
    return composelib.Draft(
        sender=(mailing_list.from_name, sender),
        to=[("", member)],
        hostname=hostname,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        headers=[("List-Id", list_id(mailing_list, sender.ascii_domain)),
                 ("List-Unsubscribe", list_unsubscribe(one_click_url, sender.ascii())),
                 ("List-Unsubscribe-Post", ONE_CLICK)],
    )
