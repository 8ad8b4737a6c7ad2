"""Turns at SQLite's one write lock, for the writers of one process, with a fast lane.

SQLite lets one transaction write at a time. Inside a process, :class:`WriteTurns` hands the
turns out instead of SQLite's busy handler (which sleeps in steps of milliseconds). Some writers
have someone waiting on them: the audit writer holds back answers until their entries are on
disk. Others do not: the recorder's batches only have to land eventually. An *urgent* writer
goes before every waiting ordinary one, so an answer waits at most for the one transaction
already running, never for a queue of record batches. An ordinary writer waits for the urgent
ones at most ``max_yield_s`` at a time, so a steady stream of urgent writes slows the records
down but can never stall them (their queue is bounded and a full queue would drop records).

Measured with the gateway's stages timed under bench/gateway.py's concurrency-1 load: without
the fast lane, 42 % of the slowest 1 % of requests overlapped a record batch holding the lock
for ~2 ms (up to 12 ms).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["WriteTurns"]


class WriteTurns:
    """A lock handed from writer to writer, urgent ones first; see the module docstring.

    Thread-safe. Uncontended, a turn costs one small lock; a writer that has to wait parks on a
    lock of its own, and the writer ending its turn hands the turn straight to the next one (an
    urgent writer, unless an ordinary one has waited ``max_yield_s`` already), so no writer can be
    overtaken forever by a race to a shared condition.
    """

    def __init__(self, *, max_yield_s: float = 0.05) -> None:
        self._lock = threading.Lock()
        self._busy = False
        self._urgent: deque[threading.Lock] = deque()
        self._ordinary: deque[tuple[float, threading.Lock]] = deque()
        self._max_yield_s = max_yield_s

    @property
    def urgent_waiting(self) -> bool:
        """Whether an urgent writer waits for the turn now (read without the lock: a hint)."""
        return bool(self._urgent)

    @contextmanager
    def turn(self, *, urgent: bool = False) -> Iterator[None]:
        """Hold the write turn for the block."""
        with self._lock:
            if not self._busy:
                self._busy = True
                parked = None
            else:
                parked = threading.Lock()
                parked.acquire()
                if urgent:
                    self._urgent.append(parked)
                else:
                    self._ordinary.append((time.monotonic(), parked))
        if parked is not None:
            parked.acquire()  # released by the writer that hands this one the turn
        try:
            yield
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        with self._lock:
            ordinary = self._ordinary
            if ordinary and (not self._urgent or time.monotonic() - ordinary[0][0] >= self._max_yield_s):
                ordinary.popleft()[1].release()
            elif self._urgent:
                self._urgent.popleft().release()
            else:
                self._busy = False
