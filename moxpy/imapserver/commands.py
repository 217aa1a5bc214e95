"""Every command the IMAP server knows, by name, for the session's dispatch.

Each is implemented in the module of its RFC 3501 section: auth.py (6.1
any state, 6.2 not authenticated; ID, ENABLE), mailboxes.py (6.3
authenticated; NAMESPACE), selected.py (6.4 selected; MOVE, UNSELECT,
UID EXPUNGE, IDLE). A handler's name is the command's, in lower case.
"""

from __future__ import annotations

from . import auth, mailboxes, selected
from .session import Command

COMMANDS: dict[bytes, Command] = {c.name: c for c in auth.COMMANDS + mailboxes.COMMANDS + selected.COMMANDS}
