"""Turns at SQLite's write lock: an urgent writer (the audit log, which holds answers back) goes
before waiting ordinary ones (record batches), and ordinary writers are never starved."""

from __future__ import annotations

import threading
import time

from runwell.store._turns import WriteTurns


def _wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.001)


def _ordinary_turn(turns: WriteTurns) -> tuple[threading.Thread, threading.Event]:
    """A started thread that takes one ordinary turn, and the event it sets once it has it."""
    got = threading.Event()

    def take() -> None:
        with turns.turn():
            got.set()

    thread = threading.Thread(target=take)
    thread.start()
    return thread, got


def test_an_urgent_writer_goes_before_an_ordinary_one_that_waited_longer() -> None:
    turns = WriteTurns(max_yield_s=30)
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with turns.turn():
            holding.set()
            release.wait()
            order.append("holder")

    def writer(name: str, urgent: bool) -> None:
        with turns.turn(urgent=urgent):
            order.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    holding.wait()
    threads.append(threading.Thread(target=writer, args=("records", False)))
    threads[1].start()
    time.sleep(0.05)  # the record writer queues first
    threads.append(threading.Thread(target=writer, args=("audit", True)))
    threads[2].start()
    _wait_until(lambda: turns.urgent_waiting, "the audit writer waits")
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["holder", "audit", "records"]


def test_a_stream_of_urgent_writers_cannot_starve_an_ordinary_one() -> None:
    turns = WriteTurns(max_yield_s=0.02)
    stop = threading.Event()
    urgent_turns = [0]

    def urgent() -> None:  # two of these: one always waits while the other writes
        while not stop.is_set():
            with turns.turn(urgent=True):
                urgent_turns[0] += 1
                time.sleep(0.001)

    hammers = [threading.Thread(target=urgent) for _ in range(2)]
    for thread in hammers:
        thread.start()
    _wait_until(lambda: urgent_turns[0] > 20, "the urgent writers are going")
    waiter, done = _ordinary_turn(turns)
    got_turn = done.wait(10)
    stop.set()
    for thread in [*hammers, waiter]:
        thread.join(10)
    assert got_turn, "the ordinary writer never got a turn while urgent ones kept coming"


def test_a_turn_is_released_when_the_block_raises() -> None:
    turns = WriteTurns()
    try:
        with turns.turn(urgent=True):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    thread, got = _ordinary_turn(turns)
    thread.join(10)
    assert got.is_set()
