"""Webhooks: the payload types of outgoing-delivery events and incoming
messages (types.py), and the durable queue that POSTs them with retries.
"""
