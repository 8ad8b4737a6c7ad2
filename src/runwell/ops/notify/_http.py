"""What the HTTP notifiers share: one lazily opened aiohttp session, one POST, and the mapping of
transport failures to a retryable :class:`~runwell.ops.notify.base.AttemptResult`.

Error messages name the endpoint by scheme and host only: a Slack webhook URL *is* its secret,
and other webhook URLs often carry a token in the path or query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from runwell.errors import ConfigError
from runwell.ops.notify.base import AttemptResult, parse_retry_after

__all__ = ["HttpAnswer", "HttpPoster", "check_url", "site"]

# Bodies are read only to quote an error message; a receiver that streams megabytes at us
# should not make a page slower or hold the memory.
_BODY_LIMIT = 64 * 1024


def site(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: how messages name an endpoint without its secrets."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}"


def check_url(url: str, what: str) -> None:
    """Raise ConfigError unless ``url`` is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{what} must be an absolute http(s) URL, got one starting {url[:12]!r}…; check the "
            "value read from the environment"
        )


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A receiver's answer: status, the first 64 KiB of the body, and ``Retry-After`` in seconds."""

    status: int
    body: bytes
    retry_after_s: float | None

    def text(self, limit: int = 300) -> str:
        """The body as text, cut to ``limit`` characters for an error message."""
        text = self.body.decode("utf-8", "replace").strip()
        return text if len(text) <= limit else text[:limit] + "…"


class HttpPoster:
    """POSTs for one notifier over its own session (opened in the running loop on first use), or
    over a session the caller shares between notifiers (then the caller closes it)."""

    __slots__ = ("_owned", "_session", "_timeout")

    def __init__(self, *, timeout_s: float, session: aiohttp.ClientSession | None = None) -> None:
        if timeout_s <= 0:
            raise ConfigError(f"notifier timeout must be a positive number of seconds, got {timeout_s}")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._owned = session is None

    def _open(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            session = aiohttp.ClientSession(timeout=self._timeout)
            self._session = session
            self._owned = True
        return session

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, now: float
    ) -> HttpAnswer | AttemptResult:
        """The answer, or a retryable failure when no answer came (timeout, refused, reset)."""
        try:
            # Redirects are not followed: a webhook that moved should be reconfigured, and
            # following one would re-send the signed body somewhere nobody chose.
            async with self._open().post(
                url, data=body, headers=dict(headers), timeout=self._timeout, allow_redirects=False
            ) as resp:
                data = await resp.content.read(_BODY_LIMIT)
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), now)
                return HttpAnswer(resp.status, data, retry_after)
        except TimeoutError:
            return AttemptResult(
                ok=False, retry=True, error=f"{site(url)} did not answer within {self._timeout.total} s"
            )
        except aiohttp.ClientConnectorError as exc:
            return AttemptResult(
                ok=False, retry=True, error=f"cannot connect to {site(url)}: {exc.os_error or exc}"
            )
        except aiohttp.ClientError as exc:
            return AttemptResult(
                ok=False, retry=True, error=f"HTTP call to {site(url)} failed: {type(exc).__name__}"
            )

    async def aclose(self) -> None:
        """Close the session if this poster opened it."""
        session = self._session
        if session is not None and self._owned:
            self._session = None
            await session.close()
