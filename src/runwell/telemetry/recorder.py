"""Get request records off the request path: queue them, batch them, hand them to every sink.

``Recorder.submit`` runs on the event loop once per request, so it only appends to a deque and,
when the writer is asleep or a batch is full, sets an event: O(1), no lock held by I/O, no I/O.
One daemon writer thread drains the queue in batches (up to ``max_batch`` records, the first
waiting at most ``max_delay_s``, or ``busy_delay_s`` under load, for company) and gives each batch
to every sink in turn.

The wait depends on how busy the gateway is. The writer's work shares the GIL and the cores
with the event loop, so a request that overlaps a batch waits for about as long as the batch
takes: at ~900 requests/s one batch per 50 ms held ~45 records and slowed the request it overlapped
by ~2.5 ms, every 50 ms (2-3 % of requests: the whole of the gateway's p99 at concurrency 1). So
while few requests are in flight the wait is short (``max_delay_s``, 10 ms: ~9 records a batch
there, added p99 3.3 -> 2.3 ms in paired rounds, `docs/design/gateway.md`), and the store lets the
audit writer go first every few records. Short batches cost commits, though: at concurrency 32
they were ~13 us of CPU per request, and cutting a batch for the audit writer (which always waits
there) ~17 us more. So from :data:`BUSY_IN_FLIGHT` requests in flight, estimated from the last
batch itself (:func:`in_flight`, Little's law), the writer waits ``busy_delay_s`` (50 ms) and
writes a batch in one transaction: under load no single request's tail is the bottleneck, the
CPU is.

Sinks fail independently. A batch a sink could not take stays in that sink's backlog and is
retried, in order, with exponential backoff, while the other sinks carry on. The backlog is
bounded (``max_backlog`` records per sink, 50 000 by default: ~100 MB at a generous 2 KB per
record with content capture on); past the bound the oldest batches are dropped and counted in
``runwell_records_dropped_total{sink, reason="backlog_full"}``. The queue itself is bounded by
``max_queue`` (``reason="queue_full"``), which only fills if the writer is stuck in a sink call
for a long time. Nothing is dropped silently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from runwell._threads import name_os_thread
from runwell.store import RecordStore
from runwell.telemetry.metrics import Metrics
from runwell.telemetry.record import RequestRecord

__all__ = ["BUSY_IN_FLIGHT", "MetricsSink", "Recorder", "Sink", "StoreSink", "busy", "in_flight"]

_log = logging.getLogger(__name__)

RECORDER_THREAD = "runwell-records"
"""The writer thread's name, for Python and (15 bytes at most) for the kernel: ``top -H`` shows it."""

BUSY_IN_FLIGHT = 8.0
"""Requests in flight from which the writer favours throughput over single requests' tails (see
the module docstring): batches wait ``busy_delay_s`` and are written in one transaction."""


def in_flight(batch: Sequence[RequestRecord]) -> float:
    """How many requests the gateway served at once, on average, while ``batch``'s were served.

    Little's law over the batch itself: the requests' summed latency divided by the time from the
    first one's start to the last one's end. One request at a time gives at most 1; 32 clients
    that send again as soon as they are answered give about 32. Records without a latency (none
    the gateway writes) are left out; a batch with none gives 0.
    """
    busy = 0.0
    first, last = float("inf"), float("-inf")
    for record in batch:
        latency_ms = record.latency_ms
        if latency_ms is None:
            continue
        start, seconds = record.started_at, latency_ms / 1000.0
        first, last = min(first, start), max(last, start + seconds)
        busy += seconds
    span = last - first
    return busy / span if span > 0 else 0.0


def busy(batch: Sequence[RequestRecord]) -> bool:
    """Whether ``batch`` came from a gateway serving :data:`BUSY_IN_FLIGHT` or more requests at
    once: the one rule both the writer's wait and the store's transactions follow."""
    return in_flight(batch) >= BUSY_IN_FLIGHT


class Sink(Protocol):
    """Somewhere request records go. Called only from the recorder's writer thread."""

    def write(self, batch: list[RequestRecord]) -> None:
        """Take a batch, or raise to have the recorder retry the same batch later.

        A sink that can see the same batch twice (a retry after a partial failure) should be
        idempotent by ``request_id``, as the store is.
        """
        ...

    def close(self) -> None:
        """Release what the sink owns; called once, after its last write."""
        ...


class StoreSink:
    """Writes batches to a record store (which it borrows: closing the sink leaves the store open).

    A record the store refuses even without its content (see ``RecordTable.write_records``) is
    counted as dropped (``reason="unwritable"``) and logged with its id; it never holds up the
    records behind it.
    """

    def __init__(self, store: RecordStore, *, metrics: Metrics | None = None) -> None:
        self.store = store
        self._metrics = metrics

    def write(self, batch: list[RequestRecord]) -> None:
        """One transaction per batch (cut for the audit writer unless the gateway is busy); request
        ids already stored are skipped."""
        report = self.store.write_records(batch, yield_to_audit=not busy(batch))
        if report.stripped:
            _log.warning(
                "stored %d request records without their content (see their note): %s",
                len(report.stripped),
                ", ".join(report.stripped[:10]),
            )
        if report.rejected:
            for request_id, reason in report.rejected:
                _log.error("request record %s could not be stored and was dropped: %s", request_id, reason)
            if self._metrics is not None:
                self._metrics.record_dropped(len(report.rejected), sink="StoreSink", reason="unwritable")

    def close(self) -> None:
        """Nothing to do: whoever opened the store closes it (the gateway also uses it for keys)."""

    def __repr__(self) -> str:
        return f"StoreSink({self.store!r})"


class MetricsSink:
    """Updates the Prometheus series from each batch."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def write(self, batch: list[RequestRecord]) -> None:
        """Count the batch."""
        self.metrics.observe(batch)

    def close(self) -> None:
        """Nothing to do: the registry lives as long as the gateway serves ``/metrics``."""


@dataclass(eq=False)
class _SinkState:
    """One sink's progress: what it has taken, and what waits for a retry."""

    sink: Sink
    name: str
    backlog: deque[tuple[int, list[RequestRecord]]] = field(default_factory=deque)
    backlog_records: int = 0
    written_through: int = 0  # every record with a sequence number <= this is written or dropped
    failures: int = 0  # consecutive
    retry_at: float = 0.0
    failing_since: float | None = None  # monotonic time of the first of the current failures


class Recorder:
    """Batches request records to sinks on one background thread; see the module docstring.

    The writer thread starts in the constructor. Call :meth:`close` on shutdown: it writes out
    everything submitted before returning (within its timeout).
    """

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        max_batch: int = 512,
        max_delay_s: float = 0.01,
        busy_delay_s: float = 0.05,
        max_queue: int = 100_000,
        max_backlog: int = 50_000,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        metrics: Metrics | None = None,
    ) -> None:
        if max_batch < 1 or max_queue < max_batch or max_backlog < max_batch:
            raise ValueError(
                "need max_batch >= 1 and max_queue, max_backlog >= max_batch; got "
                f"max_batch={max_batch}, max_queue={max_queue}, max_backlog={max_backlog}"
            )
        if not 0 <= max_delay_s <= busy_delay_s:
            raise ValueError(
                f"need 0 <= max_delay_s <= busy_delay_s; got max_delay_s={max_delay_s}, "
                f"busy_delay_s={busy_delay_s}"
            )
        names = _sink_names(sinks)
        self._states = [_SinkState(sink, name) for sink, name in zip(sinks, names, strict=True)]
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._busy_delay_s = busy_delay_s
        self._max_queue = max_queue
        self._max_backlog = max_backlog
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._metrics = metrics

        self._queue: deque[RequestRecord] = deque()
        self._wake = threading.Event()
        self._idle = False  # the writer is asleep with nothing queued: the next submit wakes it
        self._busy = False  # the last batch came from a busy gateway (writer thread only)
        self._flushers = 0  # flush() callers waiting: skip the batching delay for them
        self._stopping = False
        self._deadline = float("inf")  # when close() stops retrying failed sinks
        self._closed = False
        # Guards sequence numbers, progress and counters; never held during a sink call.
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._popped = 0  # sequence number of the last record taken off the queue
        self._dropped = 0
        self._dropped_logged = 0
        self._last_error: str | None = None

        if metrics is not None:
            # Create the drop series at 0 so dashboards and alerts see them before any drop.
            for state in self._states:
                metrics.record_dropped(0, sink=state.name, reason="backlog_full")
            metrics.record_dropped(0, sink="queue", reason="queue_full")
            metrics.watch_queue_depth(lambda: self.pending)

        self._thread = threading.Thread(target=self._run, name=RECORDER_THREAD, daemon=True)
        self._thread.start()

    # -- the request path -------------------------------------------------------------------

    def submit(self, record: RequestRecord) -> None:
        """Queue one record. O(1), never blocks, never does I/O; safe from any thread."""
        if self._closed:
            self._count_drop(1, sink="queue", reason="closed")
            return
        queue = self._queue
        if len(queue) >= self._max_queue:
            self._count_drop(1, sink="queue", reason="queue_full")
            return
        queue.append(record)
        # Append first, then look at _idle: the writer sets _idle before its last look at the
        # queue, so one of the two always sees the other and no wake-up is lost.
        if self._idle or len(queue) >= self._max_batch:
            self._wake.set()

    # -- state, for readiness ---------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records submitted but not yet written to (or dropped by) every sink."""
        with self._lock:
            return self._popped + len(self._queue) - self._done_locked()

    @property
    def dropped(self) -> int:
        """Records dropped since start (queue full, backlog full, closed, or shutdown)."""
        with self._lock:
            return self._dropped

    @property
    def last_error(self) -> str | None:
        """The latest sink failure, as a sentence naming the sink; kept after recovery."""
        with self._lock:
            return self._last_error

    @property
    def failing_sinks(self) -> list[str]:
        """Sinks whose last write failed and that hold batches for a retry (empty when healthy)."""
        return [s.name for s in self._states if s.failures]

    def failing_for(self) -> float:
        """Seconds the longest-failing sink has been failing (0.0 when every sink is healthy)."""
        since = [s.failing_since for s in self._states if s.failing_since is not None]
        return time.monotonic() - min(since) if since else 0.0

    @property
    def running(self) -> bool:
        """``True`` while the writer thread is alive (``False`` after close, or if it crashed)."""
        return self._thread.is_alive()

    # -- flushing and shutdown --------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record submitted before this call is written to every sink.

        Returns ``False`` if that did not happen within ``timeout`` seconds (a sink is failing,
        or the writer has stopped). Blocks: from async code, run it in a thread.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._popped + len(self._queue)
            self._flushers += 1
        self._wake.set()
        try:
            with self._progress:
                while self._done_locked() < target:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._thread.is_alive():
                        return False
                    self._progress.wait(min(remaining, 0.5))
                return True
        finally:
            with self._lock:
                self._flushers -= 1

    def close(self, timeout: float = 10.0) -> None:
        """Write out everything queued, stop the writer and close the sinks.

        Failing sinks are retried until ``timeout``; what they still hold then is dropped and
        logged. Afterwards ``pending == 0 and dropped == 0`` means every submitted record reached
        every sink. Idempotent; blocks, so async code runs it in a thread.
        """
        if self._closed:
            return
        self._deadline = time.monotonic() + timeout
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout + 1.0)
        self._closed = True
        if self._thread.is_alive():
            _log.error(
                "the recorder's writer is still inside a sink call %.0fs after close(); "
                "%d records may not be written, and the sinks are left open",
                timeout,
                self.pending,
            )
            return
        if self._queue:  # submitted after the writer's last look: too late to write
            self._count_drop(len(self._queue), sink="queue", reason="closed")
            self._queue.clear()
        for state in self._states:
            try:
                state.sink.close()
            except Exception:
                _log.exception("closing recorder sink %s failed", state.name)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        name_os_thread(RECORDER_THREAD)
        try:
            self._write_until_closed()
        except BaseException as exc:
            # Only a bug in the recorder itself gets here (sink errors are caught per sink).
            with self._lock:
                self._last_error = f"the recorder's writer crashed: {type(exc).__name__}: {exc}"
            _log.critical("the recorder's writer thread crashed; records are no longer written", exc_info=exc)
            raise

    def _write_until_closed(self) -> None:
        while True:
            self._wait_for_work()
            with self._lock:
                count = min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(count)]
                self._popped += count
                last_seq = self._popped
            if batch:
                self._busy = busy(batch)
            for state in self._states:
                if batch:
                    self._enqueue(state, last_seq, batch)
                self._drain(state)
            with self._progress:
                self._progress.notify_all()
            self._log_new_drops()
            if self._stopping and not self._queue:
                if not any(s.backlog for s in self._states):
                    return
                if time.monotonic() >= self._deadline:
                    self._give_up()
                    return

    def _wait_for_work(self) -> None:
        if not self._queue:
            self._idle = True
            if not self._queue:
                if not self._stopping:
                    self._wake.wait(self._until_next_retry())  # None: until the next submit
                elif any(s.backlog for s in self._states):
                    # Closing with failed batches: sleep until the next retry is due, not spin.
                    self._wake.wait(self._until_next_retry())
            self._idle = False
            self._wake.clear()
        if self._queue and len(self._queue) < self._max_batch and not self._stopping and not self._flushers:
            # The first record of a batch waits for company (longer when the gateway is busy);
            # a full batch, a flush or a close cuts the wait short.
            self._wake.wait(self._busy_delay_s if self._busy else self._max_delay_s)
            self._wake.clear()

    def _until_next_retry(self) -> float | None:
        due = [s.retry_at for s in self._states if s.backlog]
        if not due:
            return None
        until = min(due) - time.monotonic()
        if self._stopping:
            until = min(until, self._deadline - time.monotonic())
        return max(until, 0.0)

    def _enqueue(self, state: _SinkState, last_seq: int, batch: list[RequestRecord]) -> None:
        state.backlog.append((last_seq, batch))
        state.backlog_records += len(batch)
        while state.backlog_records > self._max_backlog and len(state.backlog) > 1:
            old_seq, old = state.backlog.popleft()
            state.backlog_records -= len(old)
            with self._lock:
                state.written_through = old_seq
            self._count_drop(len(old), sink=state.name, reason="backlog_full")

    def _drain(self, state: _SinkState) -> None:
        if not state.backlog or time.monotonic() < state.retry_at:
            return
        while state.backlog:
            last_seq, batch = state.backlog[0]
            try:
                state.sink.write(batch)
            except Exception as exc:  # any sink bug or outage: keep the batch, retry later
                state.failures += 1
                if state.failing_since is None:
                    state.failing_since = time.monotonic()
                delay = min(self._retry_max_s, self._retry_initial_s * 2 ** (state.failures - 1))
                state.retry_at = time.monotonic() + delay
                message = (
                    f"sink {state.name} failed to write {len(batch)} records "
                    f"({state.backlog_records} waiting; attempt {state.failures}, "
                    f"next in {delay:.1f}s): {type(exc).__name__}: {exc}"
                )
                with self._lock:
                    self._last_error = message
                _log.error("recorder %s", message, exc_info=exc)
                return
            state.backlog.popleft()
            state.backlog_records -= len(batch)
            with self._lock:
                state.written_through = last_seq
            if state.failures:
                _log.warning(
                    "recorder sink %s recovered after %d failed attempts", state.name, state.failures
                )
                state.failures = 0
                state.failing_since = None

    def _give_up(self) -> None:
        for state in self._states:
            if state.backlog_records:
                _log.error(
                    "recorder closing: sink %s still failing, dropping %d records it never took",
                    state.name,
                    state.backlog_records,
                )
                self._count_drop(state.backlog_records, sink=state.name, reason="shutdown")
                with self._lock:
                    state.written_through = state.backlog[-1][0]
                state.backlog.clear()
                state.backlog_records = 0
        with self._progress:
            self._progress.notify_all()

    # -- bookkeeping ------------------------------------------------------------------------

    def _done_locked(self) -> int:
        if not self._states:
            return self._popped
        return min(s.written_through for s in self._states)

    def _count_drop(self, count: int, *, sink: str, reason: str) -> None:
        with self._lock:
            self._dropped += count
        if self._metrics is not None:
            self._metrics.record_dropped(count, sink=sink, reason=reason)

    def _log_new_drops(self) -> None:
        # Drops in submit() are logged here, by the writer: submit() must not do I/O.
        with self._lock:
            new = self._dropped - self._dropped_logged
            self._dropped_logged = self._dropped
        if new:
            _log.warning("recorder dropped %d request records (see runwell_records_dropped_total)", new)


def _sink_names(sinks: Sequence[Sink]) -> list[str]:
    """Class names, numbered only where two sinks share one (for logs and metric labels)."""
    names = [type(sink).__name__ for sink in sinks]
    return [f"{n}#{i}" if names.count(n) > 1 else n for i, n in enumerate(names)]
