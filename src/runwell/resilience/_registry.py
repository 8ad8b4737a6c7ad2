"""The breakers of one process, and how replicas share their states through Redis.

Nothing here runs on the request path except :meth:`BreakerRegistry.get` (a dict lookup). When a
breaker opens, the opening is queued; the gateway's background job calls
:meth:`BreakerRegistry.sync` every ~0.5 s, which writes queued states and reads every breaker's
shared state in one round trip each. A replica thus learns another's opening within two sync
intervals (about a second at 0.5 s).

Two Redis keys per breaker, JSON values:

- ``{prefix}breaker:{provider}/{model}``: the last natural opening (``open`` with ``until``,
  expiring with it). A replica adopts it when it is closed or half-open and the opening is newer
  than its own last transition; each replica then runs its own half-open trials.
- ``{prefix}breaker-op:{provider}/{model}``: an operator's decision (``forced_open``,
  ``disabled``, or ``closed`` for a reset), which wins over natural states on every replica.
  With Redis, operator states live there: make them with the registry's :meth:`force_open`,
  :meth:`disable` and :meth:`reset`; one made on a breaker directly is undone by the next sync.

Redis down or slow (each sync is bounded by ``redis_timeout_s``): the sync returns False, queued
writes wait for the next one, and every breaker keeps working on its own replica's calls.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from runwell.resilience.breaker import (
    BreakerSettings,
    BreakerSnapshot,
    BreakerState,
    CircuitBreaker,
    Transition,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["BreakerRegistry"]

_log = logging.getLogger("runwell.resilience")

_OPERATOR_STATES = (BreakerState.FORCED_OPEN, BreakerState.DISABLED)
# A reset only needs to outlive the replicas' next sync; an hour covers a replica paused a while.
_RESET_TTL_MS = 3_600_000
# An opening entry outlives its period a little, so a replica syncing just then still sees it.
_OPEN_MARGIN_MS = 1_000

_Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class _Entry:
    """One shared state as stored in Redis."""

    state: BreakerState
    at: float
    by: str
    reason: str
    until: float | None = None

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "state": self.state.value,
                "at": self.at,
                "by": self.by,
                "reason": self.reason,
                "until": self.until,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | str | None) -> _Entry | None:
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
            until = data.get("until")
            return cls(
                state=BreakerState(data["state"]),
                at=float(data["at"]),
                by=str(data["by"]),
                reason=str(data.get("reason", "")),
                until=None if until is None else float(until),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            _log.warning("ignoring a malformed shared breaker state in Redis: %.200r", raw)
            return None


def _default_instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class BreakerRegistry:
    """One :class:`CircuitBreaker` per (provider, model), shared across replicas when ``redis``
    is given (a ``redis.asyncio.Redis``; its keys start with ``prefix``).

    ``on_transition`` receives every breaker's transitions, local and learnt from Redis; like the
    breaker's own callback it runs on the request path and must only queue work. ``clock`` and
    ``wall`` are handed to every breaker (monotonic and Unix seconds).
    """

    def __init__(
        self,
        settings: BreakerSettings | None = None,
        *,
        redis: Redis | None = None,
        prefix: str = "runwell:",
        instance_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        on_transition: Callable[[Transition], None] | None = None,
        redis_timeout_s: float = 0.5,
    ) -> None:
        self.settings = settings or BreakerSettings()
        self.instance_id = instance_id or _default_instance_id()
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._wall = wall
        self._callback = on_transition
        self._timeout_s = redis_timeout_s
        self._breakers: dict[_Key, CircuitBreaker] = {}
        self._pending_open: dict[_Key, _Entry] = {}
        self._pending_op: dict[_Key, _Entry] = {}
        self._remote_ok: bool | None = None
        self._remote_error: str | None = None
        self._last_sync: float | None = None

    def get(self, provider: str, model: str, settings: BreakerSettings | None = None) -> CircuitBreaker:
        """The breaker of (``provider``, ``model``), created with ``settings`` (else the registry's)
        on first use. Cheap enough for the request path; the gateway may also keep the object."""
        breaker = self._breakers.get((provider, model))
        if breaker is None:
            breaker = CircuitBreaker(
                provider,
                model,
                settings or self.settings,
                clock=self._clock,
                wall=self._wall,
                on_transition=self._on_transition,
            )
            self._breakers[(provider, model)] = breaker
        return breaker

    def snapshot(self) -> list[BreakerSnapshot]:
        """Every breaker's snapshot, sorted by provider and model."""
        return [self._breakers[key].snapshot() for key in sorted(self._breakers)]

    @property
    def shared(self) -> bool:
        """Whether a Redis client was configured."""
        return self._redis is not None

    def sharing_status(self) -> dict[str, Any]:
        """For ``/readyz``: whether sharing is configured, whether the last sync reached Redis
        (``None`` before the first), when the last good one ended (Unix seconds), the last error."""
        return {
            "configured": self._redis is not None,
            "ok": self._remote_ok,
            "last_sync_at": self._last_sync,
            "error": self._remote_error,
        }

    def force_open(self, provider: str, model: str, reason: str) -> None:
        """Reject every call to (provider, model) on every replica until :meth:`reset`."""
        self._operator(provider, model, BreakerState.FORCED_OPEN, reason)

    def disable(self, provider: str, model: str, reason: str) -> None:
        """Let every call through on every replica, recording nothing, until :meth:`reset`."""
        self._operator(provider, model, BreakerState.DISABLED, reason)

    def reset(self, provider: str, model: str, reason: str) -> None:
        """Close the breaker with an empty window on every replica, ending any operator state."""
        self._operator(provider, model, BreakerState.CLOSED, reason)

    async def sync(self) -> bool:
        """Write queued states to Redis and adopt the other replicas' (the background job).

        Returns whether Redis answered; never raises for a Redis failure (it is logged once per
        outage, and the breakers keep their local states meanwhile).
        """
        if self._redis is None:
            return False
        # Imported here: a gateway without Redis does not pay redis-py's import (~0.15 s).
        from redis.exceptions import RedisError

        opens, ops = self._pending_open, self._pending_op
        self._pending_open, self._pending_op = {}, {}
        keys = list(self._breakers)
        try:
            async with asyncio.timeout(self._timeout_s):
                if opens or ops:
                    await self._write(self._redis, opens, ops)
                names = [name for key in keys for name in (self._natural_key(key), self._op_key(key))]
                raw = await self._redis.mget(names) if names else []
        except (RedisError, OSError, TimeoutError) as exc:
            # Keep what could not be written, unless a newer state was queued meanwhile.
            for key, entry in opens.items():
                self._pending_open.setdefault(key, entry)
            for key, entry in ops.items():
                self._pending_op.setdefault(key, entry)
            self._went_down(exc)
            return False
        if self._remote_ok is False:
            _log.info("breaker states are shared through Redis again")
        self._remote_ok, self._remote_error, self._last_sync = True, None, self._wall()
        for i, key in enumerate(keys):
            # An operator change queued while we awaited Redis is newer than what we just read.
            if key not in self._pending_op:
                self._adopt(self._breakers[key], _Entry.decode(raw[2 * i]), _Entry.decode(raw[2 * i + 1]))
        return True

    def _on_transition(self, event: Transition) -> None:
        if event.to_state is BreakerState.OPEN and not event.remote and self._redis is not None:
            self._pending_open[(event.provider, event.model)] = _Entry(
                BreakerState.OPEN, event.at, self.instance_id, event.reason, event.open_until
            )
        if self._callback is not None:
            self._callback(event)

    def _operator(self, provider: str, model: str, state: BreakerState, reason: str) -> None:
        breaker = self.get(provider, model)
        if state is BreakerState.FORCED_OPEN:
            breaker.force_open(reason)
        elif state is BreakerState.DISABLED:
            breaker.disable(reason)
        else:
            breaker.reset(reason)
        if self._redis is not None:
            at = breaker.since if breaker.since is not None else self._wall()
            self._pending_op[(provider, model)] = _Entry(state, at, self.instance_id, reason)

    async def _write(self, redis: Redis, opens: dict[_Key, _Entry], ops: dict[_Key, _Entry]) -> None:
        now = self._wall()
        async with redis.pipeline(transaction=False) as pipe:
            for key, entry in opens.items():
                left_ms = int(((entry.until or now) - now) * 1000)
                if left_ms > 0:  # an opening queued during an outage may be over already
                    pipe.set(self._natural_key(key), entry.encode(), px=left_ms + _OPEN_MARGIN_MS)
            for key, entry in ops.items():
                if entry.state is BreakerState.CLOSED:
                    pipe.delete(self._natural_key(key))
                    pipe.set(self._op_key(key), entry.encode(), px=_RESET_TTL_MS)
                else:
                    pipe.set(self._op_key(key), entry.encode())
            await pipe.execute()

    def _adopt(self, breaker: CircuitBreaker, natural: _Entry | None, op: _Entry | None) -> None:
        state = breaker.state
        if op is not None and op.state in _OPERATOR_STATES:
            if state is not op.state:
                breaker.adopt(op.state, f"{op.state.value} by {op.by}: {op.reason}")
            return
        if state in _OPERATOR_STATES:
            breaker.adopt(BreakerState.CLOSED, "the operator's override was lifted on another replica")
            state = BreakerState.CLOSED
        newest = breaker.since or 0.0
        if op is not None and op.state is BreakerState.CLOSED and op.by != self.instance_id:
            if op.at > newest and state is not BreakerState.CLOSED:
                breaker.adopt(BreakerState.CLOSED, f"reset by {op.by}: {op.reason}")
                state = BreakerState.CLOSED
            # An opening older than the reset is over, whatever this replica saw of either.
            newest = max(newest, op.at)
        if (
            natural is not None
            and natural.state is BreakerState.OPEN
            and natural.by != self.instance_id
            and natural.until is not None
            and natural.until > self._wall()
            and natural.at > newest
            and state in (BreakerState.CLOSED, BreakerState.HALF_OPEN)
        ):
            breaker.adopt(
                BreakerState.OPEN, f"opened by {natural.by}: {natural.reason}", open_until=natural.until
            )

    def _went_down(self, exc: BaseException) -> None:
        if isinstance(exc, TimeoutError):
            message = f"no answer within {self._timeout_s:g}s"
        else:
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if self._remote_ok is not False:
            _log.warning(
                "cannot share breaker states through Redis (%s); each replica's breakers work on "
                "their own until it answers again",
                message,
            )
        self._remote_ok, self._remote_error = False, message

    def _natural_key(self, key: _Key) -> str:
        return f"{self._prefix}breaker:{key[0]}/{key[1]}"

    def _op_key(self, key: _Key) -> str:
        return f"{self._prefix}breaker-op:{key[0]}/{key[1]}"
