"""Direct delivery: SMTP to the recipient domain's mail servers.

For a batch of entries (one message, one recipient domain, one MAIL FROM)
it tries the domain's MX hosts in order (destinations.py) and each host's
addresses until one gives an answer that is not a temporary connection
problem (RFC 5321 5.1), then delivers all recipients in one transaction.

TLS, per entry's RequireTLS:
- null (default): opportunistic STARTTLS without certificate verification
  (RFC 7435); if the TLS handshake fails, deliver again without TLS.
- true: REQUIRETLS (RFC 8689). The host must offer STARTTLS, its
  certificate must verify for the MX host name (system CAs plus
  Queue.TLSCAFile), and it must announce REQUIRETLS; MAIL FROM then
  carries the REQUIRETLS parameter. MTA-STS and DANE policies are not
  consulted (not implemented); PKIX verification of the MX name stands in.
- false (message has "TLS-Required: No", RFC 8689 5): STARTTLS when
  offered, any TLS problem ignored.

The message is sent as stored: any DKIM signature was added at submission.
"""

from __future__ import annotations

import logging
import ssl

import aiosmtplib

from ..message.address import AddressError, ascii_domain
from ..store.queue import Entry
from .deliver import DeliveryResult, result_from_response, smtp_address
from .destinations import DestinationError, MXResolver

log = logging.getLogger("moxpy.queue")

# RFC 8689 5: the enhanced status code for REQUIRETLS that cannot be honoured.
REQUIRETLS_FAILED = "5.7.30"
# Addresses of one host tried before moving to the next host.
MAX_IPS_PER_HOST = 2


class _HostFailed(Exception):
    """This host gave no usable answer; another host may."""

    def __init__(self, result: DeliveryResult, requiretls: bool = False):
        super().__init__(result.error)
        self.result = result
        self.requiretls = requiretls


def _unverified_context() -> ssl.SSLContext:
    # RFC 7435: opportunistic security encrypts without authenticating.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class DirectDeliverer:
    batches = True
    per_domain = True

    def __init__(self, resolver: MXResolver, hostname: str, port: int = 25, timeout: float = 60.0,
                 ca_file: str = ""):
        self.resolver = resolver
        self.hostname = hostname  # our name in EHLO
        self.port = port
        self.timeout = timeout
        self._opportunistic = _unverified_context()
        self._verified = ssl.create_default_context()
        if ca_file:
            self._verified.load_verify_locations(cafile=ca_file)

    async def reconcile(self, entry: Entry) -> bool | None:
        # SMTP has no way to ask a remote server whether it took a message.
        # The entry is retried: RFC 5321 6.1 prefers a duplicate to a loss.
        return None

    async def deliver(self, entries: list[Entry], data: bytes) -> list[DeliveryResult]:
        first = entries[0]
        domain = _ascii_domain(first.rcpt_domain)
        try:
            hosts = await self.resolver.mail_hosts(domain)
        except DestinationError as e:
            result = DeliveryResult(ok=False, permanent=e.permanent, code=e.code, enhanced_code=e.enhanced_code,
                                    error=str(e))
            return [result] * len(entries)

        failure = DeliveryResult(ok=False, error=f"no mail hosts for {domain}")
        missing_requiretls = 0
        for host in hosts:
            try:
                ips = await self.resolver.addresses(host)
            except DestinationError as e:
                failure = DeliveryResult(ok=False, error=str(e))
                continue
            for ip in ips[:MAX_IPS_PER_HOST]:
                try:
                    return await self._deliver_host(host, ip, entries, data)
                except _HostFailed as e:
                    failure = e.result
                    log.info("delivery to host failed host=%s ip=%s error=%r", host, ip, e.result.error)
                    if e.requiretls:
                        missing_requiretls += 1
                        break  # another address of the same host will not do better
                    if e.result.permanent:
                        return [e.result] * len(entries)
        if hosts and missing_requiretls == len(hosts):
            # No host of the domain can take it with REQUIRETLS: tell the
            # sender now rather than after days of retries (as mox does).
            failure = DeliveryResult(ok=False, permanent=True, code=554, enhanced_code=REQUIRETLS_FAILED,
                                     error=failure.error, remote_mta=failure.remote_mta)
        return [failure] * len(entries)

    async def _deliver_host(self, host: str, ip: str, entries: list[Entry], data: bytes,
                            use_tls: bool = True) -> list[DeliveryResult]:
        first = entries[0]
        require_tls = first.require_tls is True
        tls_optional = first.require_tls is False
        client = aiosmtplib.SMTP(hostname=ip, port=self.port, local_hostname=self.hostname, timeout=self.timeout,
                                 start_tls=False, use_tls=False)
        try:
            try:
                await client.connect()
                await client.ehlo()
            except aiosmtplib.SMTPResponseException as e:
                raise _HostFailed(result_from_response(e.code, e.message, host)) from None
            except (aiosmtplib.SMTPException, OSError) as e:
                raise _HostFailed(DeliveryResult(ok=False, error=f"connecting to {host} ({ip}): {e}",
                                                 remote_mta=host)) from None

            if use_tls and client.supports_extension("starttls"):
                context = self._verified if require_tls else self._opportunistic
                try:
                    # RFC 3207 4.2: extensions are learned again after TLS.
                    await client.starttls(server_hostname=host, tls_context=context)
                    await client.ehlo()
                except (ssl.SSLError, ssl.CertificateError, aiosmtplib.SMTPException, OSError) as e:
                    error = f"tls with {host} ({ip}): {e}"
                    if require_tls:
                        raise _HostFailed(DeliveryResult(ok=False, error=error, remote_mta=host),
                                          requiretls=True) from None
                    # RFC 7435 and RFC 8689 5: without a TLS requirement,
                    # a broken TLS stack should not stop delivery.
                    log.info("starttls failed, delivering without tls host=%s error=%r optional=%s", host, error,
                             tls_optional)
                    client.close()
                    return await self._deliver_host(host, ip, entries, data, use_tls=False)
            elif require_tls:
                raise _HostFailed(DeliveryResult(ok=False, code=554, enhanced_code=REQUIRETLS_FAILED,
                                                 error=f"{host} does not offer STARTTLS, required by REQUIRETLS",
                                                 remote_mta=host), requiretls=True)
            if require_tls and not client.supports_extension("requiretls"):
                raise _HostFailed(DeliveryResult(ok=False, code=554, enhanced_code=REQUIRETLS_FAILED,
                                                 error=f"{host} does not support REQUIRETLS", remote_mta=host),
                                  requiretls=True)

            options = []
            if first.smtputf8:
                if not client.supports_extension("smtputf8"):
                    # RFC 6531 3.2: without SMTPUTF8 support the message cannot be sent to this host.
                    raise _HostFailed(DeliveryResult(ok=False, permanent=True, code=553, enhanced_code="5.6.7",
                                                     error=f"{host} does not support SMTPUTF8, needed for this message",
                                                     remote_mta=host))
                options.append("SMTPUTF8")
            if not data.isascii() and client.supports_extension("8bitmime"):
                options.append("BODY=8BITMIME")  # RFC 6152
            if client.supports_extension("size"):
                options.append(f"SIZE={len(data)}")  # RFC 1870
            if require_tls:
                options.append("REQUIRETLS")  # RFC 8689 4.1
            encoding = "utf-8" if first.smtputf8 else "ascii"

            try:
                await client.mail(smtp_address(first.mail_from, first.smtputf8), options=options,
                                  encoding=encoding)
            except aiosmtplib.SMTPResponseException as e:
                raise _HostFailed(result_from_response(e.code, e.message, host)) from None

            results: list[DeliveryResult | None] = [None] * len(entries)
            accepted = []
            for i, entry in enumerate(entries):
                try:
                    await client.rcpt(smtp_address(entry.rcpt_to, first.smtputf8), encoding=encoding)
                    accepted.append(i)
                except aiosmtplib.SMTPResponseException as e:
                    results[i] = result_from_response(e.code, e.message, host)
            if accepted:
                try:
                    # RFC 5321 4.5.3.2.6: allow ten minutes for the reply to the final dot.
                    response = await client.data(data, timeout=max(self.timeout, 600))
                    outcome = result_from_response(response.code, response.message, host)
                except aiosmtplib.SMTPResponseException as e:
                    outcome = result_from_response(e.code, e.message, host)
                except (aiosmtplib.SMTPException, OSError) as e:
                    # Connection lost during DATA: the message may or may not have arrived.
                    outcome = DeliveryResult(ok=False, error=f"data to {host} ({ip}): {e}", remote_mta=host)
                for i in accepted:
                    results[i] = outcome
            return [r for r in results if r is not None]
        except (aiosmtplib.SMTPException, OSError) as e:
            raise _HostFailed(DeliveryResult(ok=False, error=f"smtp with {host} ({ip}): {e}", remote_mta=host)) from None
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()


def _ascii_domain(domain: str) -> str:
    if domain.startswith("["):
        return domain
    try:
        return ascii_domain(domain)
    except AddressError:
        return domain
