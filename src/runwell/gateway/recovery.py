"""Rebuild request records lost in an unclean shutdown from the audit log.

Request records are written in batches off the request path, so a ``kill -9`` can lose the last
few tens of milliseconds of them; the audit entry of every answered decision, however, is durable
before the answer finishes. At start-up the gateway walks the audit log's tail back to a little
before the newest stored record and writes a record for every decision that has none: what the
entry knows (ids, feature, variant, provider, model, versions, user, outcome, status), with the
timings, tokens and content marked lost rather than invented, and the record marked ``recovered``.

Several replicas may share one PostgreSQL: a decision whose real record still waits in another
replica's queue can look lost from here. The rebuilt record is a stub that the real one replaces
when it lands (``RecordTable.write_records``), so a real record always wins.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from runwell.audit.entries import parse_leaf
from runwell.audit.log import AuditLog
from runwell.telemetry.record import RequestRecord

__all__ = ["RECOVERED_MESSAGE", "recover_lost_records"]

_log = logging.getLogger("runwell.gateway")
RECOVERED_MESSAGE = (
    "record rebuilt from the audit log after an unclean shutdown; latency, "
    "tokens, cost and content were not saved"
)
_CHUNK = 1000


class _Records(Protocol):
    def list_records(
        self, *, feature: str | None = ..., since: float | None = ..., limit: int = ...
    ) -> list[RequestRecord]: ...
    def get_record(self, request_id: str) -> RequestRecord | None: ...
    def write_records(self, records: Sequence[RequestRecord]) -> object: ...


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def _record(entry: dict[str, Any]) -> RequestRecord:
    outcome = entry["outcome"]
    status = entry["http_status"]
    # A fallback or a degradation answered the client too: the status decides, the outcome says how.
    served = status < 400 if isinstance(status, int) else outcome in ("served", "fallback", "degraded")
    return RequestRecord(
        request_id=entry["request_id"],
        trace_id=os.urandom(16).hex(),
        started_at=_epoch(entry["time"]),
        feature=entry["feature"],
        variant=entry["variant"],
        provider=entry["provider"],
        provider_kind=None,
        model=entry["model"],
        spec_version=entry["spec_version"],
        prompt_version=entry["prompt_version"],
        user_id=entry["user"],
        api_key_id=None,
        status="ok" if served else "error",
        http_status=status or (200 if served else 502),
        error_class=None if served else "upstream_error",
        outcome=outcome,
        recovered=True,
        note=RECOVERED_MESSAGE,
    )


def recover_lost_records(
    log: AuditLog, records: _Records, *, margin_s: float = 60.0, max_entries: int = 100_000
) -> int:
    """Write records for audited decisions that have none; returns how many were rebuilt.

    Looks at entries newer than the newest stored record minus ``margin_s`` (batches can land
    out of order), and at most ``max_entries`` back from the end of the log.
    """
    newest = records.list_records(limit=1)
    cutoff = newest[0].started_at - margin_s if newest else float("-inf")
    end = log.refresh()
    floor = max(0, end - max_entries)
    lost: list[RequestRecord] = []
    while end > floor:
        start = max(floor, end - _CHUNK)
        reached_cutoff = False
        for leaf in reversed(log.leaves(start, end)):
            entry = parse_leaf(leaf)
            if entry.get("type") != "decision":
                continue
            if _epoch(entry["time"]) < cutoff:
                reached_cutoff = True
                break
            if records.get_record(entry["request_id"]) is None:
                lost.append(_record(entry))
        if reached_cutoff:
            break
        end = start
    if lost:
        records.write_records(lost)
        _log.warning("rebuilt %d request records from the audit log (lost in an unclean shutdown)", len(lost))
    return len(lost)
