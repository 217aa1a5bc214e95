"""SMTP itself, apart from any listener or client: reply codes and enhanced
status codes by name (codes.py), and the rules for SMTP paths, the
addresses in MAIL FROM and RCPT TO (path.py).

Pure values and functions; the listeners (smtpserver) and the queue's
client use them, so a rule of the protocol is written once.
"""
