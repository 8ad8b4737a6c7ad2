"""Work the gateway does on a timer, off the request path: each job a small task with one job.

Jobs run on the event loop as tasks; a job that does blocking work (the database) hands it to a
worker thread itself. A job that raises is logged and runs again at its next tick: one failure
never stops the loop, and never reaches a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Background", "Job"]

_log = logging.getLogger("runwell.gateway")


@dataclass(frozen=True)
class Job:
    """Run ``tick()`` every ``every_s`` seconds while the gateway serves."""

    name: str
    every_s: float
    tick: Callable[[], Awaitable[None]]


class Background:
    """Starts every job at start-up and cancels them all at shutdown."""

    def __init__(self, jobs: list[Job]) -> None:
        self._jobs = list(jobs)
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, job: Job) -> None:
        """Register a job before :meth:`start`."""
        self._jobs.append(job)

    async def start(self) -> None:
        """Start one task per job."""
        self._tasks = [asyncio.create_task(self._loop(job), name=f"runwell-{job.name}") for job in self._jobs]

    async def stop(self) -> None:
        """Cancel every job and wait for them to end."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    @staticmethod
    async def _loop(job: Job) -> None:
        while True:
            await asyncio.sleep(job.every_s)
            try:
                await job.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("background job %s failed; it runs again in %.1fs", job.name, job.every_s)
