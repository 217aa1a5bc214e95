"""The webhook queue's worker: POST each queued webhook to its URL, retry
failures, retire the rest.

- One request in flight per URL, so a slow receiver is not flooded; several
  URLs are served at once. Within a URL, the next request goes out as soon
  as the previous answered; recording results is group-committed behind it.
- Headers: Content-Type application/json, X-Mox-Webhook-ID (the webhook's
  id), X-Mox-Webhook-Attempt (1, 2, ...), Authorization when configured.
- Any 2xx answer is success (deliberately wider than mox's 200 only);
  anything else, or no answer within 60 seconds, is a failed attempt,
  retried after 1m, 2m, 4m, 7.5m, 15m, 30m, 1h, 2h, 4h, 8h, 16h (scaled by
  Queue.WebhookRetryFirst), then given up.
- Every attempt is recorded: start, duration, URL, status, error, and the
  first 512 bytes of the response. Done webhooks move to webhooks_retired.

The queue lives in the database, so it survives restarts. A webhook whose
POST was cut off by a crash is sent again after the restart, with the same
X-Mox-Webhook-ID: receivers can recognize the repeat.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import time

import httpx

from .. import __version__
from ..store.db import Database
from ..worker import WorkerLoop
from .enqueue import retire_row_tx

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
    def __init__(self, db: Database, get_config):
        self.db = db
        self.get_config = get_config
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
        # One client for all webhooks: it keeps connections to receivers open.
        self._client = httpx.AsyncClient(
            timeout=TIMEOUT, follow_redirects=False,
            headers={"User-Agent": f"moxpy/{__version__} (webhook)"},
            limits=httpx.Limits(max_connections=MAX_URLS * 2, max_keepalive_connections=MAX_URLS,
                                keepalive_expiry=5.0))
        self._loop.start()

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
        return self.get_config().Queue.WebhookRetryFirst

    async def _cleanup(self) -> None:
        now = time.time()
        await self.db.write(lambda conn: conn.execute("delete from webhooks_retired where keep_until < ?", (now,)))

    def _start_due(self) -> float:
        now = time.time()
        room = MAX_URLS - len(self._runners)
        if room > 0:
            busy = list(self._runners)
            rows = self.db.query(
                f"""select url from webhooks where next_attempt <= ? and url not in ({','.join('?' * len(busy))})
                    group by url order by min(next_attempt) limit ?""", [now] + busy + [room])
            for row in rows:
                url = row["url"]
                self._runners[url] = asyncio.get_running_loop().create_task(self._run_url(url))
        row = self.db.query_one("select min(next_attempt) as t from webhooks")
        if row is None or row["t"] is None:
            return 3600.0
        return max(0.05, row["t"] - now)

    async def _run_url(self, url: str) -> None:
        """Deliver the due webhooks of one URL, one request at a time."""
        try:
            while not self._stopping:
                recording = list(self._recording)
                rows = self.db.query(
                    f"""select * from webhooks where url = ? and next_attempt <= ?
                        and id not in ({','.join('?' * len(recording))}) order by next_attempt, id limit 64""",
                    [url, time.time()] + recording)
                if not rows:
                    return
                for row in rows:
                    if self._stopping:
                        return
                    if self.db.query_one("select 1 from webhooks where id = ?", (row["id"],)) is None:
                        continue  # superseded or dropped meanwhile
                    result = await self._post(dict(row))
                    self._recording.add(row["id"])
                    task = asyncio.get_running_loop().create_task(self._record(dict(row), result))
                    self._writes.add(task)
                    task.add_done_callback(self._writes.discard)
        except Exception:
            log.exception("delivering webhooks to %s", url)
        finally:
            self._runners.pop(url, None)
            self.kick()

    async def _post(self, row: dict) -> dict:
        attempt = row["attempts"] + 1
        headers = {"Content-Type": "application/json; charset=utf-8", "X-Mox-Webhook-ID": str(row["id"]),
                   "X-Mox-Webhook-Attempt": str(attempt)}
        if row["authorization"]:
            headers["Authorization"] = row["authorization"]
        start = time.time()
        code, error, body = 0, "", b""
        try:
            async with self._client.stream("POST", row["url"], content=row["payload"].encode(),
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
        result = {"Start": start, "Duration": time.time() - start, "URL": row["url"], "Success": not error,
                  "Code": code, "Error": error, "Response": body[:RESPONSE_KEEP].decode("utf-8", "replace")}
        log.log(logging.INFO if error else logging.DEBUG, "webhook attempt id=%d url=%s attempt=%d event=%s code=%d "
                "error=%r", row["id"], row["url"], attempt, row["event"] or "incoming", code, error)
        return result

    async def _record(self, row: dict, result: dict) -> None:
        try:
            await self.db.write(lambda conn: self._record_tx(conn, row, result))
        except Exception:
            log.exception("recording result of webhook %d", row["id"])
        finally:
            self._recording.discard(row["id"])

    def _record_tx(self, conn: sqlite3.Connection, row: dict, result: dict) -> None:
        now = time.time()
        current = conn.execute("select * from webhooks where id = ?", (row["id"],)).fetchone()
        if current is None:
            # Superseded or dropped during the request: keep the result with the retired webhook.
            retired = conn.execute("select results from webhooks_retired where id = ?", (row["id"],)).fetchone()
            if retired is not None:
                result = dict(result, Error=(result["Error"] + " (retired during the request)").strip())
                conn.execute("update webhooks_retired set results = ?, attempts = attempts + 1 where id = ?",
                             (json.dumps(json.loads(retired["results"]) + [result]), row["id"]))
            return
        current = dict(current)
        attempts = current["attempts"] + 1
        results = json.loads(current["results"]) + [result]
        delay = None if result["Success"] else retry_delay(attempts, self._first_interval())
        if delay is None:
            account = self.get_config().Accounts.get(current["account"])
            keep = account.KeepRetiredWebhookPeriod if account else 0.0
            conn.execute("delete from webhooks where id = ?", (row["id"],))
            if keep > 0:
                retire_row_tx(conn, dict(current, attempts=attempts), success=result["Success"], now=now, keep=keep,
                              results=results)
            if not result["Success"]:
                log.info("webhook given up id=%d url=%s after %d attempts", row["id"], row["url"], attempts)
        else:
            conn.execute("update webhooks set attempts = ?, next_attempt = ?, results = ? where id = ?",
                         (attempts, now + delay, json.dumps(results), row["id"]))
