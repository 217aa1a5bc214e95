"""The webhook queue's worker: POST each queued webhook to its URL, retry
failures, retire the rest.

- One request in flight per URL, so a slow receiver is not flooded; several
  URLs are served at once. Within a URL, the next request goes out as soon
  as the previous answered; recording results is group-committed behind it.
- Headers: Content-Type application/json, X-Mox-Webhook-ID (the webhook's
  id), X-Mox-Webhook-Attempt (1, 2, ...), Authorization when configured;
  webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks,
  signing.py) when the account has a secret for the webhook's kind.
- Any 2xx answer is success (deliberately wider than mox's 200 only);
  anything else, or no answer within 60 seconds, is a failed attempt,
  retried after 1m, 2m, 4m, 7.5m, 15m, 30m, 1h, 2h, 4h, 8h, 16h (scaled by
  Queue.WebhookRetryFirst), then given up.
- Every attempt is recorded: start, duration, URL, status, error, and the
  first 512 bytes of the response. Done webhooks are retired (kept for the
  account's KeepRetiredWebhookPeriod).

The queue lives in the store (moxpy.store.webhooks), so it survives
restarts. A webhook whose POST was cut off by a crash is sent again after
the restart, with the same X-Mox-Webhook-ID: receivers can recognize the
repeat.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from .. import config as configlib
from .. import metrics
from .. import __version__
from ..store.webhooks import Webhook, WebhookAttempt, WebhookStore, WebhookTransaction
from ..worker import WorkerLoop
from . import signing

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("moxpy.webhooks")

# Waits after failed attempts 1, 2, ...; after the last, the webhook is given up.
INTERVALS = (60, 120, 240, 450, 900, 1800, 3600, 7200, 14400, 28800, 57600)
TIMEOUT = 60.0
RESPONSE_KEEP = 512  # bytes of the response body kept per attempt
MAX_URLS = 16  # URLs served at once


def retry_delay(attempts: int, first: float = 60.0) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones; None: give up."""
    if attempts > len(INTERVALS):
        return None
    base = INTERVALS[attempts - 1] * first / INTERVALS[0]
    return base * (1 + random.uniform(-0.01, 0.01))


class WebhookSender:
    def __init__(self, config: configlib.Source, store: WebhookStore):
        self.store = store
        self.config = config
        self._loop = WorkerLoop("webhook worker", self._start_due, self._cleanup)
        self._runners: dict[str, asyncio.Task] = {}  # url -> its runner
        self._writes: set[asyncio.Task] = set()
        self._recording: set[int] = set()  # webhook ids whose result is being committed
        self._client: httpx.AsyncClient | None = None

    def kick(self) -> None:
        self._loop.kick()

    @property
    def _stopping(self) -> bool:
        return self._loop.stopping

    def start(self) -> None:
        self._loop.start()

    def _http(self) -> httpx.AsyncClient:
        """The one client for all webhooks, which keeps connections to receivers open;
        made at the first webhook, so a server that sends none never loads httpx."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=TIMEOUT, follow_redirects=False,
                headers={"User-Agent": f"moxpy/{__version__} (webhook)"},
                limits=httpx.Limits(max_connections=MAX_URLS * 2, max_keepalive_connections=MAX_URLS,
                                    keepalive_expiry=5.0))
        return self._client

    async def stop(self) -> None:
        await self._loop.stop()
        for task in list(self._runners.values()):
            task.cancel()
        await asyncio.gather(*self._runners.values(), return_exceptions=True)
        # Results already received are recorded before the database closes.
        await asyncio.gather(*self._writes, return_exceptions=True)
        if self._client:
            await self._client.aclose()

    def _first_interval(self) -> float:
        return self.config.current().Queue.WebhookRetryFirst

    async def _cleanup(self) -> None:
        await self.store.cleanup(time.time())

    def _start_due(self) -> float:
        now = time.time()
        room = MAX_URLS - len(self._runners)
        if room > 0:
            for url in self.store.due_urls(now, list(self._runners), room):
                self._runners[url] = asyncio.get_running_loop().create_task(self._run_url(url))
        next_due = self.store.next_due()
        if next_due is None:
            return 3600.0
        return max(0.05, next_due - now)

    async def _run_url(self, url: str) -> None:
        """Deliver the due webhooks of one URL, one request at a time."""
        try:
            while not self._stopping:
                hooks = self.store.due(url, time.time(), list(self._recording), 64)
                if not hooks:
                    return
                for hook in hooks:
                    if self._stopping:
                        return
                    if self.store.get(hook.id) is None:
                        continue  # superseded or dropped meanwhile
                    result = await self._post(hook)
                    self._recording.add(hook.id)
                    task = asyncio.get_running_loop().create_task(self._record(hook.id, result))
                    self._writes.add(task)
                    task.add_done_callback(self._writes.discard)
        except Exception:
            log.exception("delivering webhooks to %s", url)
        finally:
            self._runners.pop(url, None)
            self.kick()

    async def _post(self, hook: Webhook) -> WebhookAttempt:
        import httpx  # loaded at the first webhook, not at start (see _http)

        attempt = hook.attempts + 1
        headers = {"Content-Type": "application/json; charset=utf-8", "X-Mox-Webhook-ID": str(hook.id),
                   "X-Mox-Webhook-Attempt": str(attempt)}
        if hook.authorization:
            headers["Authorization"] = hook.authorization
        start = time.time()
        content = hook.payload.encode()
        keys = self.store.signing_secrets(hook.account, signing.kind_of(hook.is_incoming, hook.event), start)
        headers.update(signing.headers(keys, str(hook.id), int(start), content))
        code, error, body = 0, "", b""
        try:
            async with self._http().stream("POST", hook.url, content=content,
                                           headers=headers) as response:
                code = response.status_code
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= RESPONSE_KEEP:
                        break
            if not 200 <= code < 300:
                error = f"http status {code}, expected 2xx"
        except httpx.HTTPError as e:
            error = f"http transaction: {type(e).__name__}: {e}" if str(e) else f"http transaction: {type(e).__name__}"
        metrics.webhook_attempt("ok" if not error else "httperror" if code else "error")
        result = WebhookAttempt(start=start, duration=time.time() - start, url=hook.url, success=not error,
                                code=code, error=error, response=body[:RESPONSE_KEEP].decode("utf-8", "replace"))
        log.log(logging.INFO if error else logging.DEBUG, "webhook attempt id=%d url=%s attempt=%d event=%s code=%d "
                "error=%r", hook.id, hook.url, attempt, hook.event or "incoming", code, error)
        return result

    async def _record(self, hook_id: int, result: WebhookAttempt) -> None:
        try:
            await self.store.transaction(lambda tx: self._record_tx(tx, hook_id, result))
        except Exception:
            log.exception("recording result of webhook %d", hook_id)
        finally:
            self._recording.discard(hook_id)

    def _record_tx(self, tx: WebhookTransaction, hook_id: int, result: WebhookAttempt) -> None:
        now = time.time()
        current = tx.get(hook_id)
        if current is None:
            # Superseded or dropped during the request: keep the result with the retired webhook.
            retired = tx.get_retired(hook_id)
            if retired is not None:
                result = replace(result, error=(result.error + " (retired during the request)").strip())
                tx.save(replace(retired, attempts=retired.attempts + 1, results=retired.results + [result]))
            return
        hook = replace(current, attempts=current.attempts + 1, results=current.results + [result])
        delay = None if result.success else retry_delay(hook.attempts, self._first_interval())
        if delay is None:
            account = self.config.current().Accounts.get(hook.account)
            keep = account.KeepRetiredWebhookPeriod if account else 0.0
            tx.retire(hook.id, hook.retired(success=result.success, now=now, keep=keep) if keep > 0 else None)
            if not result.success:
                log.info("webhook given up id=%d url=%s after %d attempts", hook.id, hook.url, hook.attempts)
        else:
            tx.save(replace(hook, next_attempt=now + delay))
