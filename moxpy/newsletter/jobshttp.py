"""The send jobs' HTTP endpoints under /api/, served by the webapi's
listeners beside the webapi (a twisted.web resource, as oauth/resource.py):

    POST /api/send-jobs              scope newsletter:send.write   make a job
    GET  /api/send-jobs/{id}         scope newsletter:send.read    its status and counts
    POST /api/send-jobs/{id}/cancel  scope newsletter:send.write   stop it

The credential is "Authorization: Bearer" (RFC 6750 2.1) with an API token
or an OAuth access token (tokens.authenticate), under the login throttle
of the webapi; the tenant is the credential's account. Answers are JSON:
the result, or {error, message} with 400, 401, 403, 404, 405, 409, 413 or
429; never a traceback. Requests are counted per remote address
(ratelimit.py), and a body larger than MAX_BODY is refused unread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

from twisted.internet.defer import Deferred
from twisted.web import resource, server

from .. import auth as authlib
from .. import ratelimit
from .. import tokens as tokenlib
from . import tenanthttp
from .jobs import JobError, SendJobs, view
from .tenanthttp import TenantError

log = logging.getLogger("moxpy.newsletter")

PREFIX = "/api/"
MAX_BODY = 2 * 1024 * 1024  # octets of a request body: templates of a large newsletter, with room
# Requests per remote address (and the networks around it) in a minute.
LIMITS = (ratelimit.Window(60.0, (600, 1800, 5400)),)
WRITE = "newsletter:send.write"
READ = "newsletter:send.read"

_JOB = re.compile(r"^/api/send-jobs/([0-9]{1,18})(/cancel)?$")


class SendJobsResource(resource.Resource):
    isLeaf = True

    def __init__(self, jobs: SendJobs, tokens, authenticator: authlib.Authenticator, access=None):
        """tokens: the API tokens' store; access: oauth.accesstoken.AccessTokens, for OAuth access tokens."""
        super().__init__()
        self.jobs = jobs
        self.tokens = tokens
        self.authenticator = authenticator
        self.access = access
        self.limiter = ratelimit.Limiter(LIMITS)

    def render(self, request):
        done = Deferred.fromFuture(asyncio.ensure_future(self._serve(request)))
        done.addErrback(lambda f: log.error("send jobs: %s", f.getTraceback()))
        return server.NOT_DONE_YET

    async def _serve(self, request) -> None:
        ip = request.getClientAddress().host
        method = request.method.decode("latin-1")
        path = request.path.decode("latin-1")
        started = time.monotonic()
        status, account = 200, ""
        try:
            if not self.limiter.can_add(ip):
                raise tenanthttp.rate_limited("too many requests from this address; try again in a minute")
            self.limiter.add(ip)
            status, body, account = await self._route(request, method, path, ip)
        except TenantError as e:
            status, body = e.status, {"error": e.error, "message": e.message}
            for header, value in e.headers.items():
                request.setHeader(header, value)
        except Exception:
            log.exception("send jobs %s %s", method, path)
            status, body = 500, {"error": "server_error", "message": "internal server error"}
        finally:
            log.info("send jobs %s %s account=%s ip=%s status=%d duration=%.1fms", method, path[:80], account or "-",
                     ip, status, (time.monotonic() - started) * 1000)
        tenanthttp.answer(request, status, body)

    async def _route(self, request, method: str, path: str, ip: str) -> tuple[int, dict, str]:
        if path == "/api/send-jobs":
            self._allow(request, method, "POST")
            principal = await self._principal(request, ip, WRITE)
            job = await self.jobs.create(principal.account, _json_body(request))
            return 201, {"id": job.id, "status": job.status}, principal.account
        match = _JOB.match(path)
        if match is None:
            raise JobError(404, "not_found", "no such endpoint; see POST /api/send-jobs")
        job_id, cancel = int(match.group(1)), bool(match.group(2))
        if cancel:
            self._allow(request, method, "POST")
            principal = await self._principal(request, ip, WRITE)
            return 200, view(await self.jobs.cancel(principal.account, job_id)), principal.account
        self._allow(request, method, "GET")
        principal = await self._principal(request, ip, READ)
        return 200, view(self.jobs.get(principal.account, job_id)), principal.account

    def _allow(self, request, method: str, allowed: str) -> None:
        if method != allowed and not (allowed == "GET" and method == "HEAD"):
            # RFC 9110 15.5.6: a 405 lists the methods the resource supports.
            request.setHeader(b"Allow", allowed.encode())
            raise JobError(405, "method_not_allowed", f"use {allowed}")

    async def _principal(self, request, ip: str, scope: str) -> tokenlib.Principal:
        return await tenanthttp.principal(request, ip, scope, tokens=self.tokens, config=self.jobs.config,
                                          authenticator=self.authenticator, access=self.access)


def _json_body(request):
    try:
        return json.loads(tenanthttp.body(request, MAX_BODY))
    except (ValueError, RecursionError) as e:
        raise JobError(400, "bad_request", f"the request body is not JSON: {str(e)[:100]}") from None
