"""Mailing lists of an account (its tenant): double opt-in subscriptions,
unsubscribing, member preferences, and send jobs that mail a list
through the queue.

store/newsletter.py    the records of lists and members, and their store
signing.py             the signed tokens of confirmation and unsubscribe links
links.py               the URLs of those links, under Newsletter.BaseURL
"""
