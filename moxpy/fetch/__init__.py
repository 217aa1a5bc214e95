"""Remote mailbox collection: fetch rules that copy the messages of a POP3
or IMAP mailbox elsewhere into an account, as fetchmail does.

settings.py checks a rule's settings and fills in defaults; rules.py is
what the admin webapi methods call (add, update, delete, list); secret.py
keeps remote passwords encrypted; pop3.py and imap.py are the clients,
blocking, run in threads, with what they share in remote.py; plan.py
decides, from a remote listing and what a rule remembers, which messages
to fetch; failure.py turns what went wrong into a rule's status;
collector.py is the background task in the front process that runs rules
when they are due and delivers what it fetches through moxpy.inbound, the
path of mail arriving over SMTP. It does not store rules itself
(store/fetchrules.py) nor deliver (inbound.py).
"""
