"""The gateway's side of the audit log: one durable decision entry per model call.

The handler awaits :meth:`AuditTrail.decision` before it sends the last bytes of a response, so
every answer a client received has an entry on disk, even if the process is killed a moment
later. Appends run on a small thread pool; the log's leader/follower group commit batches
concurrent requests into one transaction, so the wait is one commit, not one per request.
Digests and canonical JSON are computed on those threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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
    """Appends decision entries and keeps checkpoints signed on time."""

    def __init__(self, handle: AuditHandle, *, threads: int = 8, signer_interval_s: float = 1.0) -> None:
        self.handle = handle
        self._log = handle.log
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="runwell-audit")
        self._interval = signer_interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the signer loop (checkpoints every N entries or T seconds even when idle)."""
        self._task = asyncio.create_task(self._signer(), name="runwell-audit-signer")

    async def _signer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._interval)
            try:
                await loop.run_in_executor(self._pool, self._log.maybe_checkpoint)
            except Exception:  # keep signing later; the entries themselves are durable
                _log.exception("audit checkpoint failed; will retry")

    async def stop(self) -> None:
        """Stop the loop, sign a final checkpoint covering every entry, close the log."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        loop = asyncio.get_running_loop()
        try:
            if self._log.size:
                await loop.run_in_executor(self._pool, self._log.checkpoint_now)
        finally:
            self._pool.shutdown(wait=True)
            self.handle.close()

    async def decision(self, *, request_id: str, started_at: float, feature: str, variant: str,
                       provider: str, model: str, spec_version: str, prompt_version: str,
                       user: str | None, hash_user: bool, guardrails: Mapping[str, str],
                       outcome: str, http_status: int, prompt: Sequence[Mapping[str, Any]],
                       completion: str | None) -> int:
        """Append one decision; returns its index once durable, or raises AuditUnavailable."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool, self._append, request_id, started_at, feature, variant, provider,
                model, spec_version, prompt_version, user, hash_user, guardrails, outcome,
                http_status, prompt, completion)
        except Exception as exc:
            _log.exception("audit append failed for request %s", request_id)
            raise AuditUnavailable(
                f"the audit log could not record this decision ({type(exc).__name__}: {exc}); "
                "runwell withholds answers it cannot audit") from exc

    def _append(self, request_id: str, started_at: float, feature: str, variant: str,
                provider: str, model: str, spec_version: str, prompt_version: str,
                user: str | None, hash_user: bool, guardrails: Mapping[str, str], outcome: str,
                http_status: int, prompt: Sequence[Mapping[str, Any]],
                completion: str | None) -> int:
        if user is not None and hash_user:
            user = pseudonymize_user(user, self.handle.user_hash_key)
        entry = DecisionEntry(
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
        return self._log.append(entry)
