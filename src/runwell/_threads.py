"""Kernel-visible names for runwell's own threads.

Python names a thread only for itself: ``top -H``, ``ps -L``, ``perf`` and ``/proc/PID/task/*/comm``
show every thread of a gateway as ``runwell``. An operator asking which thread burns the CPU (the
event loop, the audit writer or the record writer) needs the kernel to know the name too, and so
does ``bench/gateway.py``, which reports the gateway's CPU per thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys

__all__ = ["name_os_thread"]

_PR_SET_NAME = 15  # prctl(2): name the calling thread
_MAX_BYTES = 15  # the kernel keeps 16 bytes, the last a NUL


def name_os_thread(name: str) -> None:
    """Name the calling thread ``name`` (cut to 15 bytes) for the kernel; a no-op off Linux.

    Call it first thing in the thread's target. Never raises: a name is a convenience.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_NAME, name.encode("utf-8")[:_MAX_BYTES], 0, 0, 0)
