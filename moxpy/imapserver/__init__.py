"""The IMAP server: an account's mailboxes and messages for IMAP clients
(IMAP4rev1, RFC 3501, with the extensions listed in docs/imap.md), live
with changes made elsewhere.

IMAP listens plain with STARTTLS (143, 1143 in localserve) and with
implicit TLS (993, 1993). It reads and changes the store only through
store.Account; it never touches SQL or message files directly, and the
store knows nothing of IMAP.

session.py is a connection (on twisted.mail.imap4's line and literal
handling); commands.py lists the commands, implemented in auth.py,
mailboxes.py and selected.py by RFC 3501 section. Pure protocol code:
syntax.py (wire grammar), arguments.py (command arguments), names.py
(mailbox names), fetch.py (FETCH responses), search.py (SEARCH keys),
view.py (the selected mailbox as a session sees it), condstore.py
(modification sequences and resynchronisation, RFC 7162).
"""

from __future__ import annotations

from twisted.internet import protocol

from .. import config as configlib
from ..store import Store


class IMAPFactory(protocol.ServerFactory):
    """Makes one IMAPServer per connection; holds what sessions share."""

    noisy = False  # the server logs its listeners itself, without Twisted's "Starting factory"

    def __init__(self, config: configlib.Source, store: Store, authenticator, *, tls_options=None, implicit_tls: bool = False,
                 plaintext_login: bool = False, connection_limit=None):
        self.store = store
        self.authenticator = authenticator
        self.config = config
        self.tls_options = tls_options
        self.implicit_tls = implicit_tls
        # Whether LOGIN/AUTHENTICATE are allowed without TLS (localserve); else only after STARTTLS.
        self.plaintext_login = plaintext_login
        self.connection_limit = connection_limit  # a connlimit.ConnectionLimit, or None for no cap

    def max_message_size(self) -> int:
        return self.config.current().MaxMessageSize

    def buildProtocol(self, addr):
        from .commands import COMMANDS
        from .session import Session

        return Session(self, COMMANDS)
