"""The recorder: batching off the request path, flushing, shutdown, and sinks failing alone."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import pytest

from runwell.errors import StoreError
from runwell.store import Store
from runwell.telemetry.metrics import Metrics
from runwell.telemetry.record import RequestRecord
from runwell.telemetry.recorder import BUSY_IN_FLIGHT, MetricsSink, Recorder, StoreSink, in_flight

MakeRecord = Callable[..., RequestRecord]


class SpySink:
    """Keeps every batch it is given."""

    def __init__(self) -> None:
        self.batches: list[list[RequestRecord]] = []
        self.closed = False

    def write(self, batch: list[RequestRecord]) -> None:
        self.batches.append(list(batch))

    def close(self) -> None:
        self.closed = True

    @property
    def records(self) -> list[RequestRecord]:
        return [r for b in self.batches for r in b]


class BrokenSink:
    """Fails every write, like a sink whose backend is down for good."""

    def __init__(self) -> None:
        self.attempts = 0

    def write(self, batch: list[RequestRecord]) -> None:
        self.attempts += 1
        raise ConnectionError("collector unreachable")

    def close(self) -> None:
        pass


class FlakyStore:
    """A real store whose first ``failures`` writes fail, as during a database restart."""

    def __init__(self, store: Store, failures: int) -> None:
        self.store = store
        self.failures = failures

    def write(self, batch: list[RequestRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreError("cannot write: server closed the connection unexpectedly")
        self.store.write_records(batch)

    def close(self) -> None:
        pass


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_records_are_batched_in_order_and_flush_waits_for_them(make_record: MakeRecord) -> None:
    spy = SpySink()
    recorder = Recorder([spy], max_batch=100)
    records = [make_record() for _ in range(1000)]
    for r in records:
        recorder.submit(r)
    assert recorder.flush(timeout=5)
    assert recorder.pending == 0
    assert [r.request_id for r in spy.records] == [r.request_id for r in records]
    assert max(len(b) for b in spy.batches) <= 100
    assert len(spy.batches) < 100  # batched, not one write per record
    assert recorder.running
    recorder.close()
    assert spy.closed and not recorder.running


def test_a_lone_record_is_written_within_the_batching_delay(make_record: MakeRecord) -> None:
    spy = SpySink()
    recorder = Recorder([spy], max_delay_s=0.05)
    try:
        time.sleep(0.05)  # let the writer fall asleep first
        submitted = time.monotonic()
        recorder.submit(make_record())
        assert _wait_for(lambda: len(spy.records) == 1, timeout=2)
        assert time.monotonic() - submitted < 1.0
    finally:
        recorder.close()


def test_in_flight_is_littles_law_over_the_batch(make_record: MakeRecord) -> None:
    # One client, each request sent when the last was answered: one in flight.
    one_by_one = [make_record(started_at=100.0 + 0.1 * i, latency_ms=100.0) for i in range(10)]
    assert in_flight(one_by_one) == pytest.approx(1.0)
    # With gaps between requests, less than one: 1 s of work over 3.25 s.
    gaps = [make_record(started_at=100.0 + i, latency_ms=250.0) for i in range(4)]
    assert in_flight(gaps) == pytest.approx(1.0 / 3.25)
    # 32 clients keeping one request each open (40 ms each, staggered starts): about 32, a little
    # less because a batch's first and last requests overlap fewer others.
    many = [
        make_record(started_at=100.0 + 0.04 * k + 0.00125 * c, latency_ms=40.0)
        for k in range(5)
        for c in range(32)
    ]
    assert 25 <= in_flight(many) <= 32
    # An instant answer still marks when the span begins.
    instant = [
        make_record(started_at=100.0, latency_ms=0.0),
        make_record(started_at=101.0, latency_ms=1000.0),
    ]
    assert in_flight(instant) == pytest.approx(0.5)
    # Records without a latency say nothing; nothing at all is idle.
    assert in_flight([make_record(latency_ms=None)]) == 0.0
    assert in_flight([]) == 0.0


def test_a_busy_gateway_gets_long_batches_a_quiet_one_short(make_record: MakeRecord) -> None:
    """From BUSY_IN_FLIGHT requests in flight the writer waits busy_delay_s for company, else
    max_delay_s; the estimate comes from the batch just written, so it follows the load."""
    spy = SpySink()
    recorder = Recorder([spy], max_delay_s=0.01, busy_delay_s=0.8)
    try:

        def written_after(records: list[RequestRecord]) -> float:
            before = len(spy.records)
            submitted = time.monotonic()
            for record in records:
                recorder.submit(record)
            assert _wait_for(lambda: len(spy.records) == before + len(records), timeout=5)
            return time.monotonic() - submitted

        quiet = [make_record(started_at=100.0, latency_ms=500.0)]
        assert written_after(quiet) < 0.4  # nothing busy seen yet: the short wait
        n = int(BUSY_IN_FLIGHT) * 2  # this many requests, all open at once
        written_after([make_record(started_at=200.0, latency_ms=500.0) for _ in range(n)])
        assert written_after(quiet) >= 0.6  # the last batch was busy: the long wait
        assert written_after(quiet) < 0.4  # ...and that lone record was not: short again
    finally:
        recorder.close()


def test_delays_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="max_delay_s <= busy_delay_s"):
        Recorder([SpySink()], max_delay_s=0.1, busy_delay_s=0.05)


async def test_close_under_load_writes_every_record_to_the_store(
    store: Store, make_record: MakeRecord
) -> None:
    metrics = Metrics()
    recorder = Recorder([StoreSink(store), MetricsSink(metrics)], metrics=metrics)
    records = [make_record(started_at=1000.0 + i) for i in range(10_000)]

    started = time.perf_counter()
    for i, record in enumerate(records):
        recorder.submit(record)  # on the event loop, as the gateway does
        if i % 100 == 0:
            await asyncio.sleep(0)
    submit_s = time.perf_counter() - started

    await asyncio.to_thread(recorder.close, 30.0)
    assert store.count_records() == 10_000
    assert recorder.pending == 0 and recorder.dropped == 0
    body, _ = metrics.render()
    assert (
        b'runwell_requests_total{code="200",feature="support-reply",provider="openai",'
        b'status="ok",variant="champion"} 10000.0' in body
    )
    assert submit_s < 2.0  # 10k submits: well under 200 us each even on a loaded CI box


def test_submit_never_blocks_while_a_sink_is_stuck(make_record: MakeRecord) -> None:
    release = threading.Event()

    class StuckSink(SpySink):
        def write(self, batch: list[RequestRecord]) -> None:
            release.wait(10)
            super().write(batch)

    sink = StuckSink()
    recorder = Recorder([sink], max_batch=10)
    try:
        recorder.submit(make_record())
        time.sleep(0.1)  # the writer is now blocked inside the sink
        started = time.perf_counter()
        for _ in range(5000):
            recorder.submit(make_record())
        assert time.perf_counter() - started < 1.0
        assert recorder.pending == 5001
    finally:
        release.set()
        recorder.close()
    assert len(sink.records) == 5001 and recorder.dropped == 0


def test_a_broken_sink_does_not_cost_the_store_any_record(
    store: Store, make_record: MakeRecord, caplog: pytest.LogCaptureFixture
) -> None:
    broken = BrokenSink()
    recorder = Recorder([broken, StoreSink(store)], retry_initial_s=0.05, retry_max_s=0.1)
    for _ in range(300):
        recorder.submit(make_record())
    assert _wait_for(lambda: store.count_records() == 300)

    assert not recorder.flush(timeout=0.3)  # the broken sink never catches up
    assert recorder.failing_sinks == ["BrokenSink"]
    assert recorder.last_error is not None and "BrokenSink" in recorder.last_error
    assert "collector unreachable" in recorder.last_error
    failures = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert failures and failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], ConnectionError)
    assert broken.attempts > 1  # retried with backoff
    started = time.monotonic()
    recorder.close(timeout=0.2)  # gives up on the broken sink at the deadline
    assert time.monotonic() - started < 2.0
    assert recorder.pending == 0 and recorder.dropped > 0


def test_store_writes_are_retried_until_they_succeed(
    store: Store, make_record: MakeRecord, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder([FlakyStore(store, failures=3)], max_batch=50, retry_initial_s=0.02, retry_max_s=0.05)
    records = [make_record() for _ in range(200)]
    for r in records:
        recorder.submit(r)
    assert recorder.flush(timeout=5)
    assert store.count_records() == 200
    assert {r.request_id for r in store.list_records(limit=500)} == {r.request_id for r in records}
    assert recorder.failing_sinks == []
    assert recorder.last_error is not None and "attempt 3" in recorder.last_error
    assert any("recovered" in r.getMessage() for r in caplog.records)
    recorder.close()
    assert recorder.dropped == 0


def test_a_failing_sink_backlog_is_bounded_and_drops_are_counted(make_record: MakeRecord) -> None:
    metrics = Metrics()
    spy = SpySink()
    recorder = Recorder(
        [BrokenSink(), spy], max_batch=100, max_backlog=1000, retry_initial_s=10, metrics=metrics
    )
    for _ in range(3000):
        recorder.submit(make_record())
    assert _wait_for(lambda: len(spy.records) == 3000)

    dropped = recorder.dropped
    assert 2000 <= dropped < 2100  # all but the newest 901..1000 records (whole batches)
    body, _ = metrics.render()
    assert (
        f'runwell_records_dropped_total{{reason="backlog_full",sink="BrokenSink"}} {float(dropped)}'
    ).encode() in body
    assert recorder.pending == 3000 - dropped
    recorder.close(timeout=0.1)


def test_closing_stops_the_writer_and_later_records_are_counted_not_raised(make_record: MakeRecord) -> None:
    metrics = Metrics()
    spy = SpySink()
    recorder = Recorder([spy], metrics=metrics)
    recorder.submit(make_record())
    recorder.close()
    assert len(spy.records) == 1 and spy.closed and recorder.dropped == 0

    recorder.submit(make_record())
    assert recorder.dropped == 1
    body, _ = metrics.render()
    assert b'runwell_records_dropped_total{reason="closed",sink="queue"} 1.0' in body
    recorder.close()  # idempotent
    assert len(spy.records) == 1


def test_a_full_queue_drops_new_records_instead_of_blocking(make_record: MakeRecord) -> None:
    release = threading.Event()

    class StuckSink(SpySink):
        def write(self, batch: list[RequestRecord]) -> None:
            release.wait(10)
            super().write(batch)

    recorder = Recorder([StuckSink()], max_batch=10, max_queue=100)
    try:
        recorder.submit(make_record())
        time.sleep(0.1)
        for _ in range(150):
            recorder.submit(make_record())
        assert recorder.dropped == 50
    finally:
        release.set()
        recorder.close()


def test_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="max_backlog"):
        Recorder([], max_batch=512, max_backlog=100)


def test_queue_depth_gauge_follows_pending(make_record: MakeRecord) -> None:
    metrics = Metrics()
    recorder = Recorder([SpySink()], metrics=metrics)
    for _ in range(10):
        recorder.submit(make_record())
    assert recorder.flush(5)
    body, _ = metrics.render()
    assert b"runwell_recorder_queue_depth 0.0" in body
    recorder.close()
