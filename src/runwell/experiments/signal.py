"""With ``--redis``: replicas hear of a rollout change at once, instead of at their next poll.

The rollout state lives in the database, where each transition is written in one transaction with
its history line and its signed audit entry (:mod:`.state`); Redis never holds a state that was not
audited. What Redis adds is the fan-out: the replica that moves a rollout (its judge, the always-on
rule, the admin API) publishes on the channel ``runwell:rollouts``, and every other replica reloads
the rows that moved (:meth:`~runwell.experiments.cache.RolloutCache.refresh`) as soon as it hears.
The half-second poll stays: it covers the CLI (which does not talk to Redis), a message lost while
a replica reconnects, and Redis being down. ``docs/design/rollouts.md`` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["CHANNEL", "RolloutSignal"]

CHANNEL = "runwell:rollouts"
"""The Redis pub/sub channel; a message is the publishing replica's id and the feature."""

_log = logging.getLogger("runwell.experiments")


class RolloutSignal:
    """Publishes this replica's rollout moves and listens for the others' (see the module docstring)."""

    def __init__(
        self, client: Any, on_signal: Callable[[], Awaitable[None]], *, retry_s: float = 1.0
    ) -> None:
        """``client``: a ``redis.asyncio.Redis``; ``on_signal``: reload the cache (another replica moved)."""
        self._client = client
        self._on_signal = on_signal
        self._retry_s = retry_s
        self._me = os.urandom(8).hex()
        self._task: asyncio.Task[None] | None = None
        self._down = False
        self.published = 0
        self.received = 0
        self.errors = 0

    async def publish(self, feature: str) -> None:
        """Tell the other replicas that ``feature``'s rollout moved (never raises)."""
        try:
            await self._client.publish(CHANNEL, f"{self._me} {feature}")
        except Exception as exc:  # the poll still carries the change
            self._failed("publish", exc)
        else:
            self.published += 1
            self._down = False

    async def start(self) -> None:
        """Start listening (a task of its own, until :meth:`close`)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen(), name="runwell-rollout-signal")

    async def _listen(self) -> None:
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                self._down = False
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message.get("data")
                    text = data.decode() if isinstance(data, bytes) else str(data)
                    if text.split(" ", 1)[0] == self._me:
                        continue
                    await self._on_signal()
                    self.received += 1  # counted once the cache is reloaded
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed("listen", exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(self._retry_s)

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        if not self._down:  # once per outage, not once per message
            _log.warning(
                "rollout signal over Redis could not %s (%s); replicas still see changes within the poll "
                "period",
                what,
                exc,
            )
        self._down = True

    def status(self) -> dict[str, Any]:
        """``/readyz``: messages published and received, errors, and whether Redis answers."""
        return {
            "backend": "redis",
            "published": self.published,
            "received": self.received,
            "errors": self.errors,
            "connected": not self._down,
        }

    async def close(self) -> None:
        """Stop listening and close the client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self._client.aclose()
