"""The send job runner: at a job's scheduled time, one message per
confirmed member of its list, through the queue.

It runs beside the queue worker (the front process, or the only one). A
job made by a webapi call served in the delivery process wakes it over the
link; it also looks for due jobs at least every second (worker.WorkerLoop).
Jobs run one at a time, the earliest scheduled first.

Members are read a batch at a time in the list's member order (a job's
recipients are its list's members confirmed when it starts; see
store/sendjobs.py). For each,
the message is rendered (templates.py), given the list's header fields
(listmail.py), DKIM-signed and queued as the webapi's Send queues one
(submit.py: FromID tracking, daily limits, suppression and outgoing
webhooks all apply); the recipient row is written in the commit that
queues the message, which also checks that the job still sends and the
member is still confirmed (store/sendjobs.py). So a job killed at any
point goes on after a restart without sending anyone the message twice or
leaving anyone out.

Newsletter.SendRatePerMinute bounds the messages queued per minute, over
all jobs: a batch is at most a second's worth of them, and the runner
waits between batches as long as that many messages take at the rate.
A daily sending limit of the account reached, or a From address the
account may no longer use, pauses the job (it is tried again every
PAUSE seconds) rather than failing its members.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .. import config as configlib
from ..message import compose as composelib
from ..message.address import AddressError, base_address, parse_address
from ..offload import run as offload_run
from ..store.newsletter import BOUNCED, CONFIRMED, MailingList, Member, NewsletterStore
from ..store.sendjobs import (FAILED, SCHEDULED, SENDING, SUPPRESSED, UNSUBSCRIBED, AlreadyRecorded, JobStopped,
                              NotConfirmed, SendJob, SendJobStore)
from ..submit import LimitReached, SenderNotAllowed, SigningFailed, Submitter
from ..worker import WorkerLoop
from . import links, listmail

log = logging.getLogger("moxpy.newsletter")

MAX_BATCH = 100  # members read and queued at once
PAUSE = 60.0  # seconds a job waits after a daily limit or a sender problem


class _Pause(Exception):
    """The job cannot go on now (see PAUSE); the message says why."""


class Runner:
    def __init__(self, config: configlib.Source, jobs: SendJobStore, newsletter: NewsletterStore,
                 submitter: Submitter, data_dir: str):
        """data_dir: where the key of the unsubscribe tokens is (signing.py)."""
        self.config = config
        self.jobs = jobs
        self.newsletter = newsletter
        self.submitter = submitter
        self.data_dir = data_dir
        self._signer = None  # made at the first job: jinja2 and jwt are loaded only by a server that sends jobs
        self._loop = WorkerLoop("send jobs", self._step, self._cleanup)
        self._task: asyncio.Task | None = None
        self._paused_until = 0.0

    def wake(self) -> None:
        self._loop.kick()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        if self._task is not None:
            # What is committed is recorded; a message being queued now is either in with its row or not at all.
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _cleanup(self) -> None:
        pass

    def _step(self) -> float:
        now = time.time()
        if (self._task is None or self._task.done()) and now >= self._paused_until:
            due = self.jobs.active(now)
            if due:
                self._task = asyncio.get_running_loop().create_task(self._run(due[0]), name=f"send job {due[0].id}")
                self._task.add_done_callback(lambda _: self.wake())
        upcoming = self.jobs.next_scheduled()
        return 60.0 if upcoming is None else max(0.05, upcoming - now)

    async def _run(self, job: SendJob) -> None:
        try:
            await self._send(job)
        except _Pause as e:
            log.warning("send job paused id=%d account=%s: %s; trying again in %.0fs", job.id, job.account, e, PAUSE)
            self._paused_until = time.time() + PAUSE
        except JobStopped:
            log.info("send job stopped id=%d (canceled)", job.id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("send job id=%d", job.id)
            self._paused_until = time.time() + PAUSE

    async def _send(self, job: SendJob) -> None:
        from .signing import Signer
        from .templates import JobTemplates

        if self._signer is None:
            self._signer = Signer(self.data_dir)
        if job.status == SCHEDULED:
            if not await self.jobs.start(job.id, time.time()):
                return
            log.info("send job started id=%d account=%s list=%d", job.id, job.account, job.list_id)
        mailing_list = self.newsletter.get_list(job.account, job.list_id)
        templates = JobTemplates(job.subject, job.body_text, job.body_html)
        cursor = job.cursor
        while True:
            current = self.jobs.get(job.account, job.id)
            if current is None or current.status != SENDING:
                return
            rate = self.config.current().Newsletter.SendRatePerMinute
            size = max(1, min(MAX_BATCH, rate // 60))
            members = self.jobs.members_after(job.list_id, cursor, current.started_at, size) if mailing_list else []
            if not members:
                if await self.jobs.finish(job.id, time.time()):
                    log.info("send job finished id=%d account=%s", job.id, job.account)
                return
            started = time.monotonic()
            done = self.jobs.recorded(job.id, [m.email for m in members])
            todo = [m for m in members if m.email.lower() not in done]
            results = await asyncio.gather(*(self._member(job, mailing_list, templates, m) for m in todo),
                                           return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, AlreadyRecorded):
                    raise result
            cursor = members[-1].email.lower()
            await self.jobs.advance(job.id, cursor)
            queued = sum(1 for r in results if r is True)
            wait = queued * 60.0 / rate - (time.monotonic() - started)
            if wait > 0:
                await asyncio.sleep(wait)

    async def _member(self, job: SendJob, mailing_list: MailingList, templates, member: Member) -> bool:
        """Queue the job's message to one member, or record why not; whether one was queued."""
        from .signing import UNSUBSCRIBE, UNSUBSCRIBE_LIFETIME
        from .templates import TemplateError, context

        config = self.config.current()
        if member.status != CONFIRMED:
            # Unsubscribed (or bounced) since the job started, before its message was queued.
            await self.jobs.skip(job.id, member.email, SUPPRESSED if member.status == BOUNCED else UNSUBSCRIBED)
            return False
        try:
            address = parse_address(member.email)
            sender = parse_address(mailing_list.from_address)
        except AddressError as e:
            log.info("send job id=%d member %s: %s", job.id, member.email, e)
            await self.jobs.skip(job.id, member.email, FAILED)
            return False
        if self.submitter.queue.store.suppression(job.account, base_address(address)) is not None:
            await self.jobs.skip(job.id, member.email, SUPPRESSED)
            return False
        try:
            self.submitter.check_sender(job.account, str(sender))
            self.submitter.check_limits(job.account, [str(address)])
        except (SenderNotAllowed, LimitReached) as e:
            raise _Pause(str(e)) from None
        token = self._signer.sign(UNSUBSCRIBE, job.list_id, member.email, UNSUBSCRIBE_LIFETIME)
        one_click = links.one_click_url(config, token)
        try:
            rendered = templates.render(context(member.email, member.preferences, one_click))
            draft = listmail.draft(mailing_list, sender, address, rendered, one_click, config.Hostname)
            composed = await offload_run(draft.size(), composelib.compose, draft)
        except (TemplateError, composelib.ComposeError) as e:
            log.info("send job id=%d member %s: no message: %s", job.id, member.email, e)
            await self.jobs.skip(job.id, member.email, FAILED)
            return False
        try:
            data = await self.submitter.sign(composed.data, sender.domain)
        except SigningFailed as e:
            raise _Pause(f"dkim signing: {e}") from None
        if len(data) > config.MaxMessageSize:
            log.info("send job id=%d member %s: message of %d bytes is too large", job.id, member.email, len(data))
            await self.jobs.skip(job.id, member.email, FAILED)
            return False
        try:
            await self.submitter.enqueue(
                account=job.account, login=str(sender), mail_from=str(sender), recipients=[str(address)], data=data,
                message_id=composed.message_id, subject=rendered.subject, smtputf8=composed.smtputf8,
                # In every webhook about the message, so the tenant can tell which job and list it was.
                extra={"send_job_id": str(job.id), "list_id": str(job.list_id)},
                then=lambda tx, ids: tx.sendjobs.queued(job.id, member.email, ids[0]))
        except NotConfirmed as e:
            await self.jobs.skip(job.id, member.email, SUPPRESSED if e.status == BOUNCED else UNSUBSCRIBED)
            return False
        return True
