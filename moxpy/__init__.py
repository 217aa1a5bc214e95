"""moxpy: a mail server with SMTP, IMAP, a delivery queue and an HTTP/JSON webapi.

One subpackage per concern: config (the file and its types), provision
(making configs, keys and certificates), store, message, smtpserver,
imapserver, queue, webhooks, webapi, and cli (the `mox` command line).
auth.py checks logins, resolver.py looks up DNS, tls.py loads listeners'
certificates, worker.py runs background loops; server.py wires them onto
one event loop.
"""

__version__ = "0.1.0"
