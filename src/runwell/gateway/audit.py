"""The gateway's side of the audit log: one durable decision entry per model call.

The handler awaits :meth:`AuditTrail.record` before it sends the last bytes of a response, so
every answer a client received has an entry on disk, even if the process is killed a moment
later. One writer thread batches every queued decision into one transaction, so the wait is
one commit, not one per request. Digests and canonical JSON are computed on that thread, never on
the event loop.

One request's bad data never fails another's: each entry is built on its own, and a decision
whose entry cannot be built fails alone (its request gets the 503) while the rest of the batch is
appended. Whether the last append worked is kept for ``/readyz``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time

from runwell._threads import name_os_thread
from runwell.audit.decision import Decision
from runwell.audit.entries import DecisionEntry
from runwell.audit.open import AuditHandle
from runwell.errors import RunwellError

__all__ = ["AuditTrail", "AuditUnavailable"]

_log = logging.getLogger("runwell.audit")

AUDIT_THREAD = "runwell-audit"
"""The audit writer thread's name, for Python and for the kernel (``top -H``, ``perf``)."""

_Item = tuple[Decision, "asyncio.Future[int]"]
_Batch = list[_Item]


class AuditUnavailable(RunwellError):
    """The decision could not be made durable, so the answer is withheld (503)."""


class AuditTrail:
    """Appends decision entries from one writer thread and keeps checkpoints signed on time.

    The event loop only collects a :class:`Decision` with a future (O(1)); once per turn of the
    loop the collected decisions go to the writer thread together, so a busy loop wakes the
    writer once per turn, not once per request (each wake-up is a system call and a trip of the
    GIL between threads). The writer takes everything handed over, builds the entries (digests,
    canonical JSON), appends them in one transaction and resolves the whole batch's futures with
    a single wake-up of the loop. Under load many requests share one commit; idle, a request
    waits for exactly one.
    """

    def __init__(self, handle: AuditHandle, *, signer_interval_s: float = 1.0) -> None:
        self.handle = handle
        self._log = handle.log
        self._interval = signer_interval_s
        # A C-level queue: put() from the event loop wakes the writer without the Python-level
        # Condition a threading.Event goes through (that cost ~10% of the gateway's CPU).
        self._queue: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._collected: _Batch = []  # submitted this turn of the loop, handed over at its end
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name=AUDIT_THREAD, daemon=True)
        self._last_error: str | None = None
        self._failing_since: float | None = None

    @property
    def user_hash_key(self) -> bytes:
        """The key user ids are pseudonymised with (derived from the signing key)."""
        return self.handle.user_hash_key

    @property
    def health(self) -> tuple[bool, str | None]:
        """``(appending works, the latest error)``: false from a failed append until one succeeds."""
        return self._failing_since is None, self._last_error

    async def start(self) -> None:
        """Start the writer thread (it also signs checkpoints when the log is idle)."""
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    async def stop(self) -> None:
        """Write what is queued, sign a final checkpoint covering every entry, close the log."""
        self._stopping = True
        self._hand_over()  # what this turn collected goes before the stop marker
        self._queue.put(None)  # tells the writer to finish after what is queued
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)
        while not self._queue.empty():  # queued after the writer's last look: never left waiting
            for _, future in self._queue.get_nowait() or ():
                if not future.done():
                    future.set_exception(AuditUnavailable("the audit log is shutting down"))
        try:
            if self._log.size:
                await asyncio.to_thread(self._log.checkpoint_now)
        finally:
            self.handle.close()

    async def record(self, decision: Decision) -> int:
        """Append one decision; returns its index once durable, or raises AuditUnavailable."""
        return await self.durable(self.submit(decision))

    def submit(self, decision: Decision) -> asyncio.Future[int]:
        """Queue one decision now; pass the future to :meth:`durable` to wait for it.

        Lets the handler build its answer while the writer commits, instead of after.
        """
        if self._stopping:
            raise AuditUnavailable("the audit log is shutting down")
        loop = self._loop or asyncio.get_running_loop()  # the loop start() ran on serves every request
        future: asyncio.Future[int] = loop.create_future()
        collected = self._collected
        collected.append((decision, future))
        if len(collected) == 1:  # the first of this turn: hand the lot over when the turn ends
            loop.call_soon(self._hand_over)
        return future

    def _hand_over(self) -> None:
        """Give the writer everything collected since the last hand-over (on the event loop)."""
        if self._collected:
            batch, self._collected = self._collected, []
            self._queue.put(batch)

    async def durable(self, future: asyncio.Future[int]) -> int:
        """The decision's index once it is on disk, or AuditUnavailable."""
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
        name_os_thread(AUDIT_THREAD)
        pending = self._queue
        while True:
            try:
                first = pending.get(timeout=self._interval)
            except queue.Empty:
                try:
                    self._log.maybe_checkpoint()
                except Exception:  # keep signing later; the entries themselves are durable
                    _log.exception("audit checkpoint failed; will retry")
                continue
            handed = [first]
            while True:  # take everything handed over meanwhile: one transaction for all of it
                try:
                    handed.append(pending.get_nowait())
                except queue.Empty:
                    break
            batch = [item for items in handed if items is not None for item in items]
            if batch:
                self._write(batch)
            if None in handed:  # the stop marker: what came before it is written
                return

    def _write(self, batch: list[_Item]) -> None:
        entries: list[DecisionEntry] = []
        futures: list[asyncio.Future[int]] = []
        failed: list[tuple[asyncio.Future[int], BaseException]] = []
        for decision, future in batch:
            try:
                entries.append(decision.entry())
                futures.append(future)
            except Exception as exc:  # this request's data only: the others are still appended
                _log.error("audit entry for request %s cannot be built: %s", decision.request_id, exc)
                failed.append((future, exc))
        outcome: list[int] | BaseException = []
        if entries:
            try:
                outcome = self._log.append_many(entries, checkpoint=False)
                self._failing_since = None
            except Exception as exc:
                _log.exception("audit append failed for %d decisions", len(entries))
                outcome = exc
                self._last_error = f"{type(exc).__name__}: {exc}"
                if self._failing_since is None:
                    self._failing_since = time.time()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle, futures, outcome, failed)
        # Signed after the answers are released: no request waits on a signature.
        try:
            self._log.maybe_checkpoint()
        except Exception:  # the entries are durable; the next batch or idle tick retries
            _log.exception("audit checkpoint failed; will retry")


def _settle(
    futures: list[asyncio.Future[int]],
    result: list[int] | BaseException,
    failed: list[tuple[asyncio.Future[int], BaseException]],
) -> None:
    """Resolve a batch's futures on the event loop (one wake-up per batch)."""
    for i, future in enumerate(futures):
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result[i])
    for future, exc in failed:
        if not future.done():
            future.set_exception(exc)
