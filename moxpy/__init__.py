"""moxpy: a mail server with SMTP, IMAP, a delivery queue and an HTTP/JSON webapi.

One subpackage per concern: config, store, message, smtpserver, imapserver,
queue, webhooks, webapi; server.py wires them onto one event loop.
"""

__version__ = "0.1.0"
