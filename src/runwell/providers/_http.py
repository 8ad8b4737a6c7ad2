"""What the HTTP adapters share: a lazily opened connection pool and the mapping of transport
failures to :class:`~runwell.errors.ProviderError`.

Every aiohttp or JSON failure is turned into a ``ProviderError`` here, with a stable
``error_class``, so the gateway never sees a library exception:

===============================  ===================================================
failure                          error_class
===============================  ===================================================
connection refused, DNS, TLS     ``connect_error``
connect / read / total timeout   ``timeout`` (:class:`~runwell.errors.ProviderTimeout`)
peer closed before answering     ``upstream_disconnected``
other client-side HTTP failure   ``http_client_error``
non-2xx answer                   ``upstream_http_<status>`` (with ``upstream_status``)
2xx answer that is not the API   ``malformed_response``
===============================  ===================================================
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import aiohttp
import orjson

from runwell.errors import ProviderError, ProviderTimeout
from runwell.providers.registry import TimeoutSettings

__all__ = [
    "PROBE_TIMEOUT",
    "HttpPool",
    "decode_json",
    "drain",
    "encode_json",
    "malformed",
    "probe_get",
    "status_error",
    "transport_error",
]

PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2.0)
"""A readiness probe must answer fast or count as down."""

# Idle connections are closed after this many seconds. It is kept below the 5 s keep-alive of
# uvicorn and Node servers (vLLM, many proxies) so that we close an idle connection before the
# upstream does: a POST sent on a connection the peer is closing fails and is not retried.
_KEEPALIVE_S = 4.0

_MESSAGE_LIMIT = 300


class HttpPool:
    """One provider's aiohttp session, created inside the running loop on first use."""

    __slots__ = (
        "_connect_s",
        "_last_timeout",
        "_limit",
        "_request_s",
        "_session",
        "_stream_timeout",
    )

    def __init__(self, *, max_connections: int, timeouts: TimeoutSettings) -> None:
        self._limit = max_connections
        self._connect_s = float(timeouts.connect_s)
        self._request_s = float(timeouts.request_s)
        self._session: aiohttp.ClientSession | None = None
        # Gateways pass the same per-call timeout again and again: keep the last one built.
        self._last_timeout: tuple[float, aiohttp.ClientTimeout] | None = None
        self._stream_timeout: tuple[float, aiohttp.ClientTimeout] | None = None

    def session(self) -> aiohttp.ClientSession:
        """The open session; call only from a coroutine running in the provider's loop."""
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=_KEEPALIVE_S)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._request_s, sock_connect=self._connect_s),
            )
            self._session = session
        return session

    def whole_timeout(self, timeout: float) -> aiohttp.ClientTimeout:
        """Timeouts of a non-streamed call: ``timeout`` in total, never above ``request_s``."""
        cached = self._last_timeout
        if cached is not None and cached[0] == timeout:
            return cached[1]
        total = min(timeout, self._request_s)
        # sock_connect, not connect: it bounds opening a new connection, and costs nothing when a
        # pooled one is reused (``connect`` arms a timer on every request, pool hit or not).
        built = aiohttp.ClientTimeout(total=total, sock_connect=min(self._connect_s, total))
        self._last_timeout = (timeout, built)
        return built

    def stream_timeout(self, timeout: float) -> aiohttp.ClientTimeout:
        """Timeouts of a stream: ``timeout`` until the headers and between reads, ``request_s``
        for the whole stream."""
        cached = self._stream_timeout
        if cached is not None and cached[0] == timeout:
            return cached[1]
        built = aiohttp.ClientTimeout(
            total=self._request_s, sock_connect=min(self._connect_s, timeout), sock_read=timeout
        )
        self._stream_timeout = (timeout, built)
        return built

    async def aclose(self) -> None:
        """Close the session and its connections; a later call opens a new one."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def transport_error(provider: str, exc: BaseException, *, url: str) -> ProviderError:
    """Map an aiohttp / socket exception raised while talking to ``url``."""
    # Timeouts first: aiohttp's connect and read timeouts are also ClientErrors.
    if isinstance(exc, TimeoutError):
        kind = type(exc).__name__
        detail = f" ({kind})" if kind != "TimeoutError" else ""
        return ProviderTimeout(provider, f"{url} did not answer in time{detail}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ProviderError(
            provider,
            f"cannot connect to {url}: {exc.os_error or exc}; check base_url and that the "
            "upstream is running",
            error_class="connect_error",
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return ProviderError(
            provider,
            f"{url} closed the connection before the answer was complete ({exc})",
            error_class="upstream_disconnected",
        )
    return ProviderError(
        provider,
        f"HTTP call to {url} failed: {type(exc).__name__}: {exc}",
        error_class="http_client_error",
    )


def status_error(provider: str, status: int, body: bytes, retry_after: str | None = None) -> ProviderError:
    """Map a non-2xx answer, quoting the upstream's own error message and keeping its ``Retry-After``."""
    return ProviderError(
        provider,
        f"upstream answered HTTP {status}: {error_message(body)}",
        error_class=f"upstream_http_{status}",
        upstream_status=status,
        retry_after_s=parse_retry_after(retry_after),
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_message(body: bytes) -> str:
    """The message of an OpenAI/Anthropic-shaped error body, else the body's text; truncated."""
    message: Any = None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        if message is None:
            message = data.get("message") or data.get("detail")
    if isinstance(message, str) and message:
        return message[:_MESSAGE_LIMIT]
    return (body.decode("utf-8", "replace").strip() or "(empty body)")[:_MESSAGE_LIMIT]


def malformed(provider: str, what: str) -> ProviderError:
    """A 2xx answer that does not follow the API (bad JSON, missing fields)."""
    return ProviderError(provider, f"malformed response: {what}", error_class="malformed_response")


def decode_json(provider: str, body: bytes) -> Any:
    """``orjson.loads`` that raises ``malformed_response`` instead of a decoder error."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        snippet = body[:80].decode("utf-8", "replace")
        raise malformed(provider, f"body is not JSON: {snippet!r}") from None


def encode_json(provider: str, body: dict[str, Any]) -> bytes:
    """``orjson.dumps`` that raises ``invalid_request`` for a value JSON cannot hold."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        raise ProviderError(
            provider, f"request cannot be encoded as JSON: {exc}", error_class="invalid_request"
        ) from None


async def drain(resp: aiohttp.ClientResponse) -> None:
    """Read what follows a stream's last event (the chunked-encoding terminator) so that aiohttp
    returns the connection to the pool instead of closing it.

    The answer is already complete, so a failure here costs only that connection and is not
    the caller's problem.
    """
    try:
        await resp.content.read()
    except (aiohttp.ClientError, OSError, TimeoutError):
        resp.close()


async def probe_get(pool: HttpPool, provider: str, url: str, headers: dict[str, str]) -> None:
    """Readiness probe: ``GET url`` must answer 2xx within :data:`PROBE_TIMEOUT`."""
    try:
        async with pool.session().get(url, headers=headers, timeout=PROBE_TIMEOUT) as resp:
            if resp.status >= 300:
                raise status_error(provider, resp.status, await resp.read(), resp.headers.get("retry-after"))
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise transport_error(provider, exc, url=url) from exc
