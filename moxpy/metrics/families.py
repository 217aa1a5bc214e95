"""The counted metrics, made when metrics are enabled (see __init__).

Imported only after PROMETHEUS_MULTIPROC_DIR is set: prometheus_client
decides at its import whether values go to shared files. None is
registered in prometheus_client's default registry; a scrape reads them
all from the files (scrape.py).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBAPI_CALLS = Counter("moxpy_webapi_calls", "Webapi method calls by method and result: ok, an error code, "
                       "badauth or ratelimited.", ["method", "result"], registry=None)
WEBAPI_DURATION = Histogram("moxpy_webapi_call_duration_seconds", "Time a webapi method call took, from the "
                            "request to its answer.", ["method"], registry=None,
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SMTP_SESSIONS = Counter("moxpy_smtp_sessions", "SMTP connections by role (delivery, submission) and how they "
                        "ended: quit, closed, dropped or refused.", ["role", "result"], registry=None)
SMTP_MESSAGES = Counter("moxpy_smtp_messages", "Messages sent to the SMTP listeners by role and the answer to "
                        "their DATA: accepted, temperror or permerror.", ["role", "result"], registry=None)
QUEUE_DELIVERIES = Counter("moxpy_queue_deliveries", "Delivery attempts of queued messages (one per recipient) by "
                           "result: delivered, delayed, failed or suppressed.", ["result"], registry=None)
WEBHOOK_ATTEMPTS = Counter("moxpy_webhook_attempts", "Webhook requests by result: ok (2xx), httperror (another "
                           "status) or error (no answer).", ["result"], registry=None)
IMAP_SESSIONS = Counter("moxpy_imap_sessions", "IMAP connections greeted.", registry=None)
# livesum: the processes' open sessions added up, leaving out those of a process that ended.
IMAP_OPEN = Gauge("moxpy_imap_sessions_open", "IMAP connections open now.", registry=None,
                  multiprocess_mode="livesum")
