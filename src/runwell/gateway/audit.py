"""The gateway's side of the audit log: one durable decision entry per model call.

The handler awaits :meth:`AuditTrail.decision` before it sends the last bytes of a response, so
every answer a client received has an entry on disk, even if the process is killed a moment
later. One writer thread batches every queued decision into one transaction, so the wait is
one commit, not one per request. Digests and canonical JSON are computed on that thread, never on
the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from runwell.audit.entries import DecisionEntry, format_time, pseudonymize_user, sha256_hex
from runwell.audit.jcs import canonicalize
from runwell.audit.open import AuditHandle
from runwell.errors import RunwellError

__all__ = ["AuditTrail", "AuditUnavailable", "input_digest"]

_log = logging.getLogger("runwell.audit")


class AuditUnavailable(RunwellError):
    """The decision could not be made durable, so the answer is withheld (503)."""


def input_digest(messages: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of the RFC 8785 canonical JSON of the messages the model saw.

    An auditor recomputes it from the prompt stored with the request record.
    """
    return sha256_hex(canonicalize(orjson.loads(orjson.dumps(messages))))


class AuditTrail:
    """Appends decision entries from one writer thread and keeps checkpoints signed on time.

    The event loop only queues a request's facts with a future (O(1)); the writer thread takes
    everything queued, builds the entries (digests, canonical JSON), appends them in one
    transaction and resolves the whole batch's futures with a single wake-up of the loop. Under
    load many requests share one commit; idle, a request waits for exactly one.
    """

    def __init__(self, handle: AuditHandle, *, signer_interval_s: float = 1.0) -> None:
        self.handle = handle
        self._log = handle.log
        self._interval = signer_interval_s
        self._queue: deque[tuple[tuple[Any, ...], asyncio.Future[int]]] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="runwell-audit", daemon=True)

    async def start(self) -> None:
        """Start the writer thread (it also signs checkpoints when the log is idle)."""
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    async def stop(self) -> None:
        """Write what is queued, sign a final checkpoint covering every entry, close the log."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)
        try:
            if self._log.size:
                await asyncio.to_thread(self._log.checkpoint_now)
        finally:
            self.handle.close()

    async def decision(
        self,
        *,
        request_id: str,
        started_at: float,
        feature: str,
        variant: str,
        provider: str,
        model: str,
        spec_version: str,
        prompt_version: str,
        user: str | None,
        hash_user: bool,
        guardrails: Mapping[str, str],
        outcome: str,
        http_status: int,
        prompt: Sequence[Mapping[str, Any]],
        completion: str | None,
    ) -> int:
        """Append one decision; returns its index once durable, or raises AuditUnavailable."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        facts = (
            request_id,
            started_at,
            feature,
            variant,
            provider,
            model,
            spec_version,
            prompt_version,
            user,
            hash_user,
            guardrails,
            outcome,
            http_status,
            prompt,
            completion,
        )
        with self._cond:
            if self._stopping:
                raise AuditUnavailable("the audit log is shutting down")
            self._queue.append((facts, future))
            self._cond.notify()
        try:
            return await future
        except AuditUnavailable:
            raise
        except Exception as exc:
            raise AuditUnavailable(
                f"the audit log could not record this decision ({type(exc).__name__}: {exc}); "
                "runwell withholds answers it cannot audit"
            ) from exc

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._stopping:
                    self._cond.wait(self._interval)
                batch = list(self._queue)
                self._queue.clear()
                stopping = self._stopping
            if batch:
                self._write(batch)
            else:
                try:
                    self._log.maybe_checkpoint()
                except Exception:  # keep signing later; the entries themselves are durable
                    _log.exception("audit checkpoint failed; will retry")
            if stopping and not batch:
                return

    def _write(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[int]]]) -> None:
        futures = [future for _, future in batch]
        try:
            indices: list[int] | BaseException = self._log.append_many(
                [self._entry(*facts) for facts, _ in batch]
            )
        except Exception as exc:
            _log.exception("audit append failed for %d decisions", len(batch))
            indices = exc
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle, futures, indices)

    def _entry(
        self,
        request_id: str,
        started_at: float,
        feature: str,
        variant: str,
        provider: str,
        model: str,
        spec_version: str,
        prompt_version: str,
        user: str | None,
        hash_user: bool,
        guardrails: Mapping[str, str],
        outcome: str,
        http_status: int,
        prompt: Sequence[Mapping[str, Any]],
        completion: str | None,
    ) -> DecisionEntry:
        if user is not None and hash_user:
            user = pseudonymize_user(user, self.handle.user_hash_key)
        return DecisionEntry(
            time=format_time(started_at),
            request_id=request_id,
            feature=feature,
            variant=variant,
            provider=provider,
            model=model,
            spec_version=spec_version,
            prompt_version=prompt_version,
            outcome=outcome,  # type: ignore[arg-type]
            input_sha256=input_digest(prompt),
            output_sha256=None if completion is None else sha256_hex(completion),
            http_status=http_status,
            user=user,
            guardrails=guardrails,
            flags={},
        )


def _settle(futures: list[asyncio.Future[int]], result: list[int] | BaseException) -> None:
    """Resolve a batch's futures on the event loop (one wake-up per batch)."""
    for i, future in enumerate(futures):
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result[i])
