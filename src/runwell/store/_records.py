"""The ``requests`` table: one row per request the gateway answered, written in batches.

A batch is one transaction, written :data:`CHUNK` records at a time; on SQLite, when the audit
writer (which holds answers back) waits for the one write lock, the transaction commits after the
chunk in hand and the rest follows in the next, so an answer never waits behind a whole batch
(a part stored and a retry of the batch are harmless: a request id already stored is skipped).
A caller that favours throughput over that wait (the recorder when the gateway is busy, see
``runwell.telemetry.recorder``) passes ``yield_to_audit=False``: one transaction, one commit.
One bad record must never block the others: a record whose content
cannot be serialised (JSON nested deeper than the encoder allows) or that the database refuses (a
NUL character PostgreSQL's text type cannot hold) is written without its prompt and completion,
with a note saying why; if even that is refused it is reported back as rejected, and the rest of
the batch is written regardless.

Records rebuilt from the audit log after an unclean shutdown are marked ``recovered``; when the
real record arrives later (queued in another replica sharing the database), it replaces the stub.

Every transaction that writes records also updates their rollups (``runwell.store._rollups``),
so the console's sums never disagree with the rows they sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any

import orjson

from runwell.errors import ConfigError, StoreDataError, StoreError
from runwell.store._db import Database, Tx
from runwell.store._rollups import lock_for_records, rollup_deltas, stored_counted, write_rollups
from runwell.telemetry.record import RECORD_FIELDS, RequestRecord
from runwell.telemetry.rollup import Key, Tally

__all__ = ["CHUNK", "MIN_PREFIX_LEN", "RecordTable", "WriteReport"]

MIN_PREFIX_LEN = 8
"""Shortest request-id prefix :meth:`RecordTable.get_record` resolves (shorter ones must match exactly)."""
CHUNK = 8
"""Records written between two looks at whether an urgent writer waits (well under a millisecond)."""

_COLUMNS = ", ".join(RECORD_FIELDS)
_UPDATES = ", ".join(f"{name} = excluded.{name}" for name in RECORD_FIELDS if name != "request_id")
# A stored stub (recovered) gives way to the real record; a real record is never overwritten.
_UPSERT = (
    f"INSERT INTO requests ({_COLUMNS}) VALUES ({', '.join('?' for _ in RECORD_FIELDS)}) "
    f"ON CONFLICT (request_id) DO UPDATE SET {_UPDATES} WHERE requests.recovered"
)
_JSON_FIELDS = ("prompt", "tool_calls", "guardrails", "attempts")
_JSON_AT = tuple(RECORD_FIELDS.index(name) for name in _JSON_FIELDS)
_BOOLS = ("stream", "priced", "recovered")
_values = attrgetter(*RECORD_FIELDS)  # one C call for every field: the writer runs it per record


@dataclass(slots=True)
class WriteReport:
    """What :meth:`RecordTable.write_records` did with a batch beyond writing it whole."""

    stripped: list[str] = field(default_factory=list)
    """Request ids written without their prompt and completion (see each record's ``note``)."""
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """``(request id, reason)`` of records the database refused even without content."""


def record_to_row(record: RequestRecord) -> tuple[Any, ...]:
    """The record's values in :data:`RECORD_FIELDS` order, ``prompt`` and ``tool_calls`` as JSON text.

    Raises ``orjson.JSONEncodeError`` when the prompt cannot be serialised.
    """
    values = list(_values(record))
    for at in _JSON_AT:
        if values[at] is not None:
            values[at] = orjson.dumps(values[at]).decode("utf-8")
    return tuple(values)


def record_from_row(row: Sequence[Any]) -> RequestRecord:
    """Inverse of :func:`record_to_row` for a row selected in :data:`RECORD_FIELDS` order."""
    data = dict(zip(RECORD_FIELDS, row, strict=True))
    for name in _BOOLS:  # SQLite has no boolean type and hands back 0/1
        data[name] = bool(data[name])
    for name in _JSON_FIELDS:
        if data[name] is not None:
            data[name] = orjson.loads(data[name])
    return RequestRecord(**data)


def _without_content(record: RequestRecord, reason: str) -> RequestRecord:
    note = f"prompt and completion not stored: {reason}"
    return replace(record, prompt=None, completion=None, tool_calls=None, note=note)


def _insert(
    tx: Tx, records: Sequence[RequestRecord], rows: Sequence[tuple[Any, ...]], deltas: dict[Key, Tally]
) -> None:
    """Insert the rows of ``records`` in ``tx`` and add what they change in the rollups to ``deltas``."""
    lock_for_records(tx, records)
    stored = stored_counted(tx, [r.request_id for r in records])
    tx.executemany(_UPSERT, rows)
    rollup_deltas(records, stored, into=deltas)


def _write(tx: Tx, records: Sequence[RequestRecord], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert the rows of ``records`` and add what they change to the rollups, in ``tx``."""
    deltas: dict[Key, Tally] = {}
    _insert(tx, records, rows, deltas)
    write_rollups(tx, deltas)


class RecordTable:
    """Request records in one :class:`~runwell.store.Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def write_records(self, records: Sequence[RequestRecord], *, yield_to_audit: bool = True) -> WriteReport:
        """Insert ``records``; see the module docstring for what happens to a bad one.

        A request id already stored is skipped (a retried batch never fails on its own earlier,
        half-acknowledged success), unless the stored row is a recovered stub. Raises StoreError
        only for an outage, so the caller retries the whole batch later. ``yield_to_audit``: commit
        after the chunk in hand when the audit writer waits (see the module docstring).
        """
        report = WriteReport()
        if not records:
            return report
        rows: list[tuple[Any, ...]] = []
        for record in records:
            try:
                rows.append(record_to_row(record))
            except (orjson.JSONEncodeError, TypeError) as exc:
                rows.append(record_to_row(_without_content(record, f"not serialisable as JSON ({exc})")))
                report.stripped.append(record.request_id)
        start, total = 0, len(rows)
        while start < total:
            end = start  # records[start:end] are written in the open transaction
            try:
                with self._db.transaction(f"write {total - start} request records") as tx:
                    deltas: dict[Key, Tally] = {}
                    while end < total:
                        step = min(end + CHUNK, total)
                        _insert(tx, records[end:step], rows[end:step], deltas)
                        end = step
                        if yield_to_audit and tx.urgent_waiting():
                            break  # commit what is written; the audit writer goes next
                    write_rollups(tx, deltas)
            except StoreDataError:
                # Some row of records[end:end + CHUNK] is refused, and the transaction rolled back
                # (records[start:end] with it): write all of them one by one, so only that row is lost.
                end = min(end + CHUNK, total)
                for record, row in zip(records[start:end], rows[start:end], strict=True):
                    self._write_one(record, row, report)
            start = end
        return report

    def _write_one(self, record: RequestRecord, row: tuple[Any, ...], report: WriteReport) -> None:
        try:
            with self._db.transaction("write a request record") as tx:
                _write(tx, [record], [row])
            return
        except StoreDataError as exc:
            reason = str(exc)
        if record.request_id not in report.stripped:
            stripped = _without_content(record, f"refused by the database ({reason})")
            try:
                with self._db.transaction("write a request record without its content") as tx:
                    _write(tx, [stripped], [record_to_row(stripped)])
                report.stripped.append(record.request_id)
                return
            except StoreDataError as exc:
                reason = str(exc)
        report.rejected.append((record.request_id, reason))

    def list_records(
        self, *, feature: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[RequestRecord]:
        """The newest ``limit`` records, newest first; optionally of one feature, and only those
        started at or after ``since`` (epoch seconds)."""
        if limit < 1:
            raise ConfigError(f"limit must be at least 1, got {limit}")
        clauses: list[str] = []
        params: list[object] = []
        if feature is not None:
            clauses.append("feature = ?")
            params.append(feature)
        if since is not None:
            clauses.append("started_at >= ?")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        sql = f"SELECT {_COLUMNS} FROM requests {where}ORDER BY started_at DESC, request_id DESC LIMIT ?"
        rows = self._db.query(sql, (*params, limit), action="list request records")
        return [record_from_row(row) for row in rows]

    def get_record(self, request_id: str) -> RequestRecord | None:
        """The record with this id, or with this unique id prefix of at least
        :data:`MIN_PREFIX_LEN` characters; ``None`` when nothing matches. A prefix matching several
        records raises StoreError."""
        with self._db.connection(f"read request {request_id!r}") as tx:
            row = tx.query_one(f"SELECT {_COLUMNS} FROM requests WHERE request_id = ?", (request_id,))
            if row is not None:
                return record_from_row(row)
            if len(request_id) < MIN_PREFIX_LEN or not request_id.isascii():
                return None
            rows = self._prefix_rows(tx, request_id)
        if not rows:
            return None
        if len(rows) > 1:
            raise StoreError(
                f"request id prefix {request_id!r} matches more than one request in {self._db.url}; "
                "give more characters of the id"
            )
        return record_from_row(rows[0])

    def _prefix_rows(self, tx: Tx, prefix: str) -> list[tuple[Any, ...]]:
        if tx.dialect == "sqlite":
            # [prefix, prefix with its last character bumped) is exactly the strings starting with
            # prefix under SQLite's byte-wise BINARY collation, and it uses the primary key.
            upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            sql = f"SELECT {_COLUMNS} FROM requests WHERE request_id >= ? AND request_id < ? LIMIT 2"
            return tx.query(sql, (prefix, upper))
        # PostgreSQL compares text by the database collation; LIKE with text_pattern_ops (an
        # index of migration 1) is the prefix search that uses an index there.
        pattern = prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
        return tx.query(
            f"SELECT {_COLUMNS} FROM requests WHERE request_id LIKE ? ESCAPE '!' LIMIT 2", (pattern,)
        )

    def count_records(self, feature: str | None = None) -> int:
        """How many records are stored (of one feature, when given)."""
        if feature is None:
            row = self._db.query_one("SELECT count(*) FROM requests", action="count request records")
        else:
            row = self._db.query_one(
                "SELECT count(*) FROM requests WHERE feature = ?", (feature,), action="count request records"
            )
        return int(row[0]) if row else 0
