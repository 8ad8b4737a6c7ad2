"""CPU time of a process by thread, from /proc: what the benchmarks report per request."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["TICK", "cpu_by_thread"]

TICK = os.sysconf("SC_CLK_TCK")


def cpu_by_thread(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) per thread of ``pid``, by the name the kernel knows: the main
    thread (the event loop) as ``event loop``, runwell's writers by their names (``runwell-audit``,
    ``runwell-records``), every other thread summed as ``other``."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        name = "event loop" if task.name == str(pid) else comm if comm.startswith("runwell-") else "other"
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
    return out
