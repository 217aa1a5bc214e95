"""Send jobs as tenants make and watch them: checking a new job, its
status and counts, cancelling, and keeping the counts in step with the
queue (outcome_sink). The sending itself is runner.py's.

A job belongs to the account of the credential that made it; another
account's job, like another account's list, is not found. The counts are
the recipients per state (store/sendjobs.py): each member the job dealt
with is in exactly one, so they add up to `recipients`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from .. import config as configlib
from .. import queue as queuelib
from ..queue.events import Event
from ..queue.outcome import attempt_result
from ..store.queue import QueueTransaction
from ..store.sendjobs import (CANCELED, FINISHED, SCHEDULED, SENDING, STATES, JobNotFound, SendJob,
                              SendJobStore)
from ..submit import SenderNotAllowed, Submitter
from .tenanthttp import TenantError

log = logging.getLogger("moxpy.newsletter")

MAX_AHEAD = 366 * 24 * 3600  # seconds: a job scheduled further ahead than a year is a mistake
MAX_NAME = 200  # characters of a job's name
MAX_SUBJECT = 1000  # characters of its subject template


class JobError(TenantError):
    """A request about a job that is refused; status is the HTTP status, error the code of the JSON answer."""


def bad(message: str) -> JobError:
    return JobError(400, "bad_request", message)


def not_found(what: str) -> JobError:
    return JobError(404, "not_found", f"{what} not found")


@dataclass
class NewJob:
    tenant_id: str
    list_id: int
    name: str
    subject: str
    body_html: str
    body_text: str
    scheduled_at: float | None  # None: now


def _string(request: dict, name: str, maximum: int | None = None, required: bool = False) -> str:
    value = request.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise bad(f"{name} must be a string")
    if required and not value.strip():
        raise bad(f"{name} is required")
    if maximum is not None and len(value) > maximum:
        raise bad(f"{name} is too long: at most {maximum} characters")
    return value


def parse_time(value: str) -> float | None:
    """An RFC 3339 date-time (section 5.6) as unix time; None for "". ValueError otherwise."""
    if not value:
        return None
    if "t" not in value.lower() and " " not in value:
        raise ValueError("not a date-time")
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError("no time zone offset")
    return when.timestamp()


def parse_request(request) -> NewJob:
    """The fields of a POST /api/send-jobs body (decoded JSON); JobError 400 for what is wrong."""
    if not isinstance(request, dict):
        raise bad("the request body must be a JSON object")
    tenant_id = _string(request, "tenant_id", 1000, required=True)
    list_id = request.get("list_id")
    if isinstance(list_id, str) and list_id.isdigit():
        list_id = int(list_id)
    if isinstance(list_id, bool) or not isinstance(list_id, int):
        raise bad("list_id is required, a number")
    scheduled_at = _string(request, "scheduled_at", 100)
    try:
        when = parse_time(scheduled_at.strip())
    except ValueError:
        raise bad(f"scheduled_at {scheduled_at[:40]!r} is not an RFC 3339 date-time, "
                  "such as 2026-01-02T15:04:05Z") from None
    job = NewJob(tenant_id=tenant_id, list_id=list_id, name=_string(request, "name", MAX_NAME),
                 subject=_string(request, "subject", MAX_SUBJECT, required=True),
                 body_html=_string(request, "body_html"), body_text=_string(request, "body_text"),
                 scheduled_at=when)
    if not job.body_html and not job.body_text:
        raise bad("body_html or body_text is required")
    return job


def _rfc3339(t: float) -> str | None:
    if not t:
        return None
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def view(job: SendJob) -> dict:
    """GET /api/send-jobs/{id}'s answer."""
    counts = {state: job.counts.get(state, 0) for state in STATES}
    return {"id": job.id, "name": job.name, "list_id": job.list_id, "status": job.status,
            "scheduled_at": _rfc3339(job.scheduled_at), "started_at": _rfc3339(job.started_at),
            "finished_at": _rfc3339(job.finished_at), "counts": {"recipients": sum(counts.values()), **counts}}


class SendJobs:
    def __init__(self, config: configlib.Source, jobs: SendJobStore, newsletter, queue: queuelib.Queue,
                 wake: Callable[[], None]):
        """newsletter: the lists' store; queue: the delivery queue, whose entries a cancel drops; wake: tells
        the runner (in this process or the other) that a job is due."""
        self.config = config
        self.jobs = jobs
        self.newsletter = newsletter
        self.queue = queue
        self.submitter = Submitter(config, queue)
        self.wake = wake

    async def create(self, account: str, request) -> SendJob:
        new = parse_request(request)
        if new.tenant_id != account:
            raise JobError(403, "forbidden", "tenant_id is not the tenant of the credential")
        mailing_list = self.newsletter.get_list(account, new.list_id)
        if mailing_list is None:
            raise not_found("list")
        try:
            self.submitter.check_sender(account, mailing_list.from_address)
        except SenderNotAllowed:
            raise bad(f"the list's from address {mailing_list.from_address} is not an address of the account "
                      "any more") from None
        from .templates import JobTemplates, TemplateError  # jinja2: loaded by the first job

        try:
            JobTemplates(new.subject, new.body_text, new.body_html).check()
        except TemplateError as e:
            raise bad(f"template error: {e}") from None
        now = time.time()
        when = new.scheduled_at if new.scheduled_at is not None else now
        if when > now + MAX_AHEAD:
            raise bad("scheduled_at is more than a year ahead")
        due = when <= now
        job = SendJob(id=0, account=account, list_id=new.list_id, name=new.name, subject=new.subject,
                      body_html=new.body_html, body_text=new.body_text, scheduled_at=max(when, now) if due else when,
                      status=SENDING if due else SCHEDULED, created=now, started_at=now if due else 0.0)
        job.id = await self.jobs.create(job)
        log.info("send job created id=%d account=%s list=%d status=%s", job.id, account, job.list_id, job.status)
        self.wake()
        return job

    def get(self, account: str, job_id: int) -> SendJob:
        job = self.jobs.get(account, job_id)
        if job is None:
            raise not_found("send job")
        return job

    async def cancel(self, account: str, job_id: int) -> SendJob:
        """Stop a job: members not yet dealt with get nothing, and its messages still in the queue are
        dropped (a "canceled" event each, as an operator's drop). A finished job is a 409; canceling a
        canceled job again changes nothing."""
        now = time.time()

        def stop(tx: QueueTransaction) -> SendJob:
            job = tx.sendjobs.cancel(account, job_id, now)
            if job.status == FINISHED:
                return job
            for entry in tx.entries(tx.sendjobs.in_queue(job_id)):
                self.queue.recorder.retire(tx, entry, "canceled", now=now, result=attempt_result(
                    now, False, error="send job canceled", end=now))
            return job

        try:
            before = await self.queue.store.transaction(stop)
        except JobNotFound:
            raise not_found("send job") from None
        if before.status == FINISHED:
            raise JobError(409, "conflict", "the send job has finished; it cannot be canceled")
        if before.status != CANCELED:
            log.info("send job canceled id=%d account=%s", job_id, account)
        for callback in self.queue.on_events:
            callback()  # the webhooks of the canceled events
        self.wake()
        return self.get(account, job_id)


def outcome_sink(tx: QueueTransaction, event: Event) -> None:
    """The queue's event sink for send jobs: a recipient's state follows its entry's outcomes, and an address
    a failure put on the account's suppression list makes the account's members with it bounced, whether a
    job sent the message or not."""
    tx.sendjobs.outcome(event.queue_msg_id, event.event)
    if event.suppressing and event.rcpt_to:
        count = tx.sendjobs.mark_bounced(event.account, event.rcpt_to, time.time())
        if count:
            log.info("list members bounced account=%s address=%s lists=%d", event.account, event.rcpt_to, count)
