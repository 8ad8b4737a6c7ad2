"""The ``request_rollups`` table (migration 14): kept in step with ``requests``, in its transactions.

**Writing.** :class:`~runwell.store._records.RecordTable` calls :func:`lock_for_records`,
:func:`stored_counted`, and after its insert :func:`write_rollups`, all in the transaction that
writes the records, so the rollups always sum exactly the rows committed with them. The insert skips
a request id already stored unless the stored row is a recovered stub, which the real record
replaces: the deltas follow the same rule (a stub replaced is subtracted, a skipped duplicate adds
nothing), computed from the rows as they were before the insert. Each touched rollup row is read,
merged with the batch's delta in Python and written back: a handful of rows per batch. The
histogram texts are appended to, not parsed and rewritten (``Tally.added_to_row``): a bin may
repeat in stored text, and a text past ``COMPACT_AT`` (1,024) characters is compacted.

**Concurrency.** SQLite has one writer at a time. On PostgreSQL, replicas write batches at once:
rollup rows are created if missing and then locked (``FOR UPDATE``) in key order, so two batches
never lose each other's counts and never deadlock; and a batch holding a recovered stub takes an
advisory lock other record writers share, so the stored state it read (stub or real record) cannot
change before it commits.

**Rebuilding.** :func:`rebuild_rollups` recomputes the whole table from ``requests`` with the
migration's own backfill, for a store whose records were written without their rollups.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from runwell.store._db import Database, Tx
from runwell.store._schema_runtime import M14_ROLLUPS_BACKFILL_POSTGRES, M14_ROLLUPS_BACKFILL_SQLITE
from runwell.telemetry.record import RequestRecord
from runwell.telemetry.rollup import COUNTED_COLUMNS, TALLY_COLUMNS, Key, Tally, tally_rows

__all__ = [
    "ROLLUP_LOCK_KEY",
    "lock_for_records",
    "rebuild_rollups",
    "rollup_deltas",
    "stored_counted",
    "write_rollups",
]

ROLLUP_LOCK_KEY = int.from_bytes(b"rwrollup", "big")
"""PostgreSQL advisory lock: shared by record writers, exclusive for stubs and rebuilds."""

_KEY = ("feature", "grain", "slot_start", "variant")
_IN_CHUNK = 200
_STORED = f"SELECT request_id, recovered, {', '.join(COUNTED_COLUMNS)} FROM requests WHERE request_id "
_ALL = ", ".join((*_KEY, *TALLY_COLUMNS))
_UPSERT = (
    f"INSERT INTO request_rollups ({_ALL}) VALUES ({', '.join('?' for _ in (*_KEY, *TALLY_COLUMNS))}) "
    f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in TALLY_COLUMNS)
)
_ONE = "(feature = ? AND grain = ? AND slot_start = ? AND variant = ?)"
_UNNEST = "SELECT * FROM unnest(?::text[], ?::integer[], ?::bigint[], ?::text[])"
_ENSURE_PG = (
    f"INSERT INTO request_rollups ({', '.join(_KEY)}) {_UNNEST} ON CONFLICT ({', '.join(_KEY)}) DO NOTHING"
)
_COUNT, _USD = "bigint", "double precision"
# The PostgreSQL type of each of _KEY + TALLY_COLUMNS, for the arrays the update unnests.
_TYPES_PG = ("text", "integer", "bigint", "text", *[_COUNT] * 9, _USD, _COUNT, _USD, _COUNT, "text", "text")
_UPDATE_PG = (
    "UPDATE request_rollups AS r SET "
    + ", ".join(f"{c} = u.{c}" for c in TALLY_COLUMNS)
    + f" FROM unnest({', '.join(f'?::{t}[]' for t in _TYPES_PG)}) AS u({_ALL}) WHERE "
    + " AND ".join(f"r.{c} = u.{c}" for c in _KEY)
)
_LOCK_PG = (
    f"SELECT {_ALL} FROM request_rollups WHERE ({', '.join(_KEY)}) IN ({_UNNEST}) "
    f"ORDER BY {', '.join(_KEY)} FOR UPDATE"
)

Counted = tuple[Any, ...]
"""A record's :data:`~runwell.telemetry.rollup.COUNTED_COLUMNS` values."""
_counted = attrgetter(*COUNTED_COLUMNS)


def lock_for_records(tx: Tx, records: Sequence[RequestRecord]) -> None:
    """On PostgreSQL, take the records lock: shared, or exclusive when a stub is among them."""
    if tx.dialect == "postgresql":
        kind = "" if any(r.recovered for r in records) else "_shared"
        tx.query(f"SELECT pg_advisory_xact_lock{kind}(?)", (ROLLUP_LOCK_KEY,))


def stored_counted(tx: Tx, request_ids: Sequence[str]) -> dict[str, tuple[bool, Counted]]:
    """``{request id: (recovered, counted values)}`` of the ids already stored."""
    unique = list(dict.fromkeys(request_ids))
    if tx.dialect == "postgresql":  # one statement text whatever the batch size: prepared once
        rows = tx.query(_STORED + "= ANY(?)", (unique,))
    else:
        rows = []
        for at in range(0, len(unique), _IN_CHUNK * 2):
            chunk = unique[at : at + _IN_CHUNK * 2]
            rows += tx.query(_STORED + f"IN ({', '.join('?' for _ in chunk)})", chunk)
    return {str(row[0]): (bool(row[1]), tuple(row[2:])) for row in rows}


def rollup_deltas(
    records: Sequence[RequestRecord],
    stored: dict[str, tuple[bool, Counted]],
    into: dict[Key, Tally] | None = None,
) -> dict[Key, Tally]:
    """What writing ``records`` over the ``stored`` rows changes in the rollups (added to ``into``).

    Follows the insert's rule in batch order: a new id adds its record; an id stored as a recovered
    stub is replaced (the stub subtracted, the record added); any other stored id is left alone.
    """
    state = dict(stored)
    added: list[Counted] = []
    removed: list[Counted] = []
    for record in records:
        old = state.get(record.request_id)
        if old is not None:
            if not old[0]:
                continue
            removed.append(old[1])
        counted = _counted(record)
        added.append(counted)
        state[record.request_id] = (record.recovered, counted)
    deltas = tally_rows(added, into=into)
    return tally_rows(removed, sign=-1, into=deltas) if removed else deltas


def write_rollups(tx: Tx, deltas: dict[Key, Tally]) -> None:
    """Add ``deltas`` to the stored rollup rows (creating missing ones), in key order."""
    keys = sorted(k for k, tally in deltas.items() if not tally.is_zero())
    if not keys:
        return
    if tx.dialect == "postgresql":
        # Create the missing rows, then lock them all, in key order: concurrent batches wait for
        # each other row by row and never deadlock. Arrays keep each statement's text constant.
        columns = [list(column) for column in zip(*keys, strict=True)]
        tx.execute(_ENSURE_PG, columns)
        rows = tx.query(_LOCK_PG, columns)
    else:
        rows = []
        for at in range(0, len(keys), _IN_CHUNK):
            chunk = keys[at : at + _IN_CHUNK]
            # OR of whole keys: a primary-key probe per key (a row-value IN scans the table).
            where = " OR ".join(_ONE for _ in chunk)
            rows += tx.query(
                f"SELECT {_ALL} FROM request_rollups WHERE {where}", [v for k in chunk for v in k]
            )
    stored = {(str(row[0]), int(row[1]), int(row[2]), str(row[3])): row[4:] for row in rows}
    merged = [(*key, *deltas[key].added_to_row(stored.get(key))) for key in keys]
    if tx.dialect == "postgresql":
        tx.execute(_UPDATE_PG, [list(column) for column in zip(*merged, strict=True)])
    else:
        tx.executemany(_UPSERT, merged)


def rebuild_rollups(db: Database) -> None:
    """Recompute every rollup row from the stored records (what migration 14 does on upgrade)."""
    backfill = M14_ROLLUPS_BACKFILL_SQLITE if db.dialect == "sqlite" else M14_ROLLUPS_BACKFILL_POSTGRES
    with db.transaction("rebuild the request rollups", lock=ROLLUP_LOCK_KEY) as tx:
        tx.execute("DELETE FROM request_rollups")
        tx.script(backfill)
