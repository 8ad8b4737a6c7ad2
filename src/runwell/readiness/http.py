"""The HTTP calls live checks make to a gateway (urllib: the CLI needs no event loop)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson

from runwell.errors import RunwellError

__all__ = ["Answer", "GatewayClient", "metric_sum"]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: status, lower-cased headers and the body (JSON when it parses)."""

    status: int
    headers: dict[str, str]
    body: Any


class GatewayClient:
    """Calls a running gateway with the admin token (and an API key for chat requests)."""

    ACTOR = "readiness-check"

    def __init__(self, base_url: str, *, admin_token: str | None, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._admin = admin_token
        self.api_key: str | None = None
        self._timeout = timeout_s

    def get(self, path: str, *, admin: bool = True) -> Answer:
        """GET ``path`` (with the admin token when ``admin`` and one is set)."""
        return self.call("GET", path, None, self._admin if admin else None)

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
        """An admin API call, as actor ``admin-api:readiness-check``."""
        return self.call(method, path, body, self._admin, {"x-runwell-actor": self.ACTOR})

    def chat(self, feature: str, text: str) -> Answer:
        """One chat request as the readiness probe's user."""
        body = {
            "model": feature,
            "user": "runwell-readiness-probe",
            "messages": [{"role": "user", "content": text}],
            "max_tokens": 16,
        }
        return self.call("POST", "/v1/chat/completions", body, self.api_key)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        token: str | None,
        extra: dict[str, str] | None = None,
    ) -> Answer:
        """Any call; an error status is an :class:`Answer` too, an unreachable gateway a RunwellError."""
        headers = {"content-type": "application/json", **(extra or {})}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = None if body is None else orjson.dumps(body)
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as resp:
                return _answer(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as exc:
            return _answer(exc.code, dict(exc.headers.items()), exc.read())
        except (urllib.error.URLError, OSError) as exc:
            raise RunwellError(
                f"cannot reach the gateway at {self.base_url} ({exc}); is it running?"
            ) from None


def _answer(status: int, headers: dict[str, str], raw: bytes) -> Answer:
    body: Any
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = raw.decode("utf-8", "replace")
    return Answer(status, {k.lower(): v for k, v in headers.items()}, body)


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (Prometheus text format)."""
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or match.group(1) != name:
            continue
        found = dict(_LABEL.findall(match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            try:
                total += float(match.group(3))
            except ValueError:
                continue
    return total
