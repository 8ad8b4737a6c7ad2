"""A lease in the database: at most one replica holds a name at a time, until it stops renewing.

The holder renews well before ``until``; when it dies, another replica takes the lease over once
``until`` has passed. Taking and renewing is one compare-and-set ``UPDATE`` (the row changes only
if the caller holds it or it expired), so two replicas asking at the same instant cannot both win,
on SQLite or PostgreSQL.

Replicas' clocks are assumed to agree within a fraction of the lease's length (NTP does much
better); the paging itself is idempotent as well (see :mod:`runwell.operate.incidents`), so even
a brief overlap sends no page twice.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from runwell.store import Database

__all__ = ["Lease", "holder_id"]


def holder_id() -> str:
    """An id for this process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


class Lease:
    """One named lease held (or not) by ``holder``; see the module docstring."""

    def __init__(
        self, db: Database, name: str, holder: str, *, ttl_s: float, clock: Callable[[], float]
    ) -> None:
        self._db = db
        self.name = name
        self.holder = holder
        self.ttl_s = ttl_s
        self._clock = clock

    def acquire(self) -> bool:
        """Take or renew the lease; whether this holder has it now."""
        now = self._clock()
        with self._db.transaction(f"take the {self.name} lease") as tx:
            tx.execute(
                "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (self.name, self.holder, now + self.ttl_s),
            )
            changed = tx.execute(
                "UPDATE leases SET holder = ?, until = ? WHERE name = ? AND (holder = ? OR until < ?)",
                (self.holder, now + self.ttl_s, self.name, self.holder, now),
            )
        return changed == 1

    def release(self) -> None:
        """Give the lease up now (at shutdown), so another replica takes over at once."""
        with self._db.transaction(f"release the {self.name} lease") as tx:
            tx.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (self.name, self.holder))

    def current(self) -> tuple[str, float] | None:
        """``(holder, until)`` as stored, or ``None``."""
        row = self._db.query_one(
            "SELECT holder, until FROM leases WHERE name = ?", (self.name,), action="read a lease"
        )
        return None if row is None else (str(row[0]), float(row[1]))
