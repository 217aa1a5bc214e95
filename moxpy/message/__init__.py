"""MIME messages: parsing stored messages (envelope, structure, readable
parts), the view of a message that the webapi and webhooks report
(view.py), where header sections end (headers.py), composing messages for
the webapi's Send, DSNs, and addresses.

Built on Python's email package; this package adds the rules mox applies
on top (which parts are "the" text and HTML, how the structure is reported,
how a composed message is laid out). It does no I/O.
"""
