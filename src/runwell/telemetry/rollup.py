"""The arithmetic of request rollups: what one slot of time sums, and its latency histograms.

A rollup row sums the request records of one feature, variant and aligned slot of time (a minute,
5 minutes, 30 minutes or 3 hours: :data:`GRAINS`, one per overview bucket width) into the columns
the console's overview shows: counts, errors, outcomes, tokens, cost, and the latency and
time-to-first-token histograms its percentiles come from. Shadow calls served nobody, so they only
add to the spend columns (budgets count them; the overview does not).

Histograms use fixed, log-spaced bins (DDSketch's mapping): bin ``i`` holds the values in
``(γ^(i-1), γ^i]`` milliseconds with ``γ = (1 + α) / (1 - α) = 21/19``, and reports
``2γ^i / (γ + 1)``, which is within ``α`` = :data:`RELATIVE_ERROR` (5 %) of every value in the bin.
A percentile read from a merged histogram is therefore within 5 % of the exact nearest-rank
percentile of the same values, however many histograms were merged. Values are clamped to bins
:data:`BIN_LO` .. :data:`BIN_HI` (about 1 µs to 5 days); outside that range the bound does not hold.
A histogram is stored as text, ``"bin:count,bin:count"`` (any order; a bin may repeat), which
the migration that backfills the table can build in SQL too.

Pure functions and plain objects, no I/O: the store's writer (``runwell.store._rollups``) and the
console's reader share them, so both count a record the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BIN_HI",
    "BIN_LO",
    "COMPACT_AT",
    "COUNTED_COLUMNS",
    "GAMMA",
    "GRAINS",
    "OUTCOMES",
    "RELATIVE_ERROR",
    "TALLY_COLUMNS",
    "Key",
    "Tally",
    "append_hist",
    "bin_of",
    "bin_value",
    "cover",
    "format_hist",
    "hist_percentile",
    "minute_of",
    "parse_hist",
    "tally_rows",
]

GRAINS: tuple[int, ...] = (60, 300, 1800, 10800)
"""Slot lengths in seconds; each divides the next, and each is one overview window's bucket width."""

RELATIVE_ERROR = 0.05
"""The most a percentile read from the histograms differs from the exact one, relative to it."""

GAMMA = 21 / 19
"""The ratio of a bin's upper bound to its lower one: ``(1 + α) / (1 - α)`` for α = 0.05."""
_LN_GAMMA = math.log(GAMMA)
BIN_LO = -70
"""Lowest bin: every value at or below ``γ^-70`` ms (about 0.9 µs) lands here."""
BIN_HI = 200
"""Highest bin: every value above ``γ^199`` ms (about 4.4 × 10⁸ ms, 5 days) lands here."""

OUTCOMES: tuple[str, ...] = ("served", "fallback", "degraded", "blocked", "error")
"""Outcomes the overview counts, in the order of their columns (``error`` is stored as ``failed``)."""

COUNTED_COLUMNS: tuple[str, ...] = (
    "feature",
    "variant",
    "started_at",
    "status",
    "outcome",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)
"""The ``requests`` columns a rollup sums, in the order :func:`tally_rows` reads them."""

TALLY_COLUMNS: tuple[str, ...] = (
    "requests",
    "errors",
    "served",
    "fallback",
    "degraded",
    "blocked",
    "failed",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced",
    "shadow_cost_usd",
    "shadow_tokens",
    "latency_hist",
    "ttft_hist",
)
"""The ``request_rollups`` columns after the key, in the order :meth:`Tally.merge_row` reads them."""

_SPLIT = re.compile("[:,]")


def bin_of(ms: float) -> int:
    """The histogram bin of a duration in milliseconds."""
    if ms <= 0.0:
        return BIN_LO
    return min(max(math.ceil(math.log(ms) / _LN_GAMMA), BIN_LO), BIN_HI)


def bin_value(index: int) -> float:
    """The value bin ``index`` reports: within :data:`RELATIVE_ERROR` of every value in it."""
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


def parse_hist(text: str | None, into: dict[int, int], sign: int = 1) -> None:
    """Add (``sign`` 1) or subtract (-1) a stored histogram's counts into ``into``."""
    if not text:
        return
    numbers = list(map(int, _SPLIT.split(text)))
    bins, counts = numbers[::2], numbers[1::2]
    if not into and sign == 1:
        into.update(zip(bins, counts, strict=True))
        if len(into) == len(bins):
            return
        into.clear()  # a bin repeats: add them up below
    for index, n in zip(bins, counts, strict=True):
        into[index] = into.get(index, 0) + sign * n


def format_hist(hist: Mapping[int, int]) -> str | None:
    """A histogram as stored text (bins with a count of 0 left out); ``None`` when empty."""
    text = ",".join(f"{b}:{n}" for b, n in sorted(hist.items()) if n)
    return text or None


COMPACT_AT = 1024
"""Stored histogram text longer than this is rewritten with each bin once (:func:`append_hist`).

Small enough that a rollup row stays within one SQLite page and under PostgreSQL's TOAST
threshold (a longer row costs overflow pages or compression on every update). A typical latency
histogram holds a few dozen bins (a few hundred characters), so most writes only append; one
wider than the bound is compacted on every write, which is what every write cost before.
"""


def append_hist(text: str | None, hist: Mapping[int, int]) -> str | None:
    """Stored histogram ``text`` with the counts of ``hist`` added (negative counts subtract).

    The new counts are appended (a bin may repeat: :func:`parse_hist` adds repeats up), which
    costs the length of the addition, not of the stored text. Past :data:`COMPACT_AT` characters
    the text is parsed and written with each bin once, so it never grows without bound.
    """
    added = format_hist(hist)
    if added is None:
        return text
    if not text:
        return added
    joined = f"{text},{added}"
    if len(joined) <= COMPACT_AT:
        return joined
    merged: dict[int, int] = {}
    parse_hist(joined, merged)
    return format_hist(merged)


def hist_percentile(hist: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (0..1), nearest-rank, of a histogram's values; ``None`` when empty."""
    total = sum(hist.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(hist):
        seen += hist[index]
        if seen >= rank:
            return bin_value(index)
    return bin_value(max(hist))  # unreachable with non-negative counts


def minute_of(started_at: float) -> int:
    """The start of the UTC minute holding ``started_at`` (exact, also a hair below a boundary)."""
    minute = int(started_at // 60) * 60
    return minute - 60 if minute > started_at else minute


def cover(start: int, end: int, max_grain: int) -> list[tuple[int, int]]:
    """The fewest aligned slots ``(grain, slot start)`` of grains up to ``max_grain`` that tile
    ``[start, end)``; both ends must be whole minutes."""
    if start % 60 or end % 60:
        raise ValueError(f"cover needs whole minutes, got [{start}, {end})")
    grains = [g for g in reversed(GRAINS) if g <= max_grain]
    pieces: list[tuple[int, int]] = []
    at = start
    while at < end:
        grain = next(g for g in grains if at % g == 0 and at + g <= end)
        pieces.append((grain, at))
        at += grain
    return pieces


@dataclass(slots=True)
class Tally:
    """What one rollup row sums (or what a set of raw rows sums, aggregated the same way)."""

    requests: int = 0
    errors: int = 0
    served: int = 0
    fallback: int = 0
    degraded: int = 0
    blocked: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0
    shadow_cost_usd: float = 0.0
    shadow_tokens: int = 0
    latency: dict[int, int] = field(default_factory=dict)
    ttft: dict[int, int] = field(default_factory=dict)

    def add(
        self,
        status: str,
        outcome: str | None,
        latency_ms: float | None,
        ttft_ms: float | None,
        input_tokens: int | None,
        output_tokens: int | None,
        cost_usd: float | None,
        sign: int = 1,
    ) -> None:
        """Count one request (``sign`` -1 takes one back out), as the overview counts it."""
        self.add_many(((status, outcome, latency_ms, ttft_ms, input_tokens, output_tokens, cost_usd),), sign)

    def add_many(self, rows: Iterable[tuple[Any, ...]], sign: int = 1) -> None:
        """Count requests given as ``(status, outcome, latency, ttft, tokens in, tokens out, cost)``.

        The one place that says how a request is counted; written as one loop over local sums,
        because the record writer runs it for every record it stores.
        """
        requests = errors = unpriced = tokens_in = tokens_out = shadow_tokens = 0
        cost = shadow_cost = 0.0
        outcomes: dict[str | None, int] = {}
        latency, ttft = self.latency, self.ttft
        for status, outcome, latency_ms, ttft_ms, tin, tout, usd in rows:
            if outcome == "shadow":
                shadow_cost += usd or 0.0
                shadow_tokens += (tin or 0) + (tout or 0)
                continue
            requests += 1
            if status != "ok":
                errors += 1
            elif usd is None:
                unpriced += 1
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            tokens_in += tin or 0
            tokens_out += tout or 0
            if usd is not None:
                cost += usd
            for value, hist in ((latency_ms, latency), (ttft_ms, ttft)):
                if value is not None:
                    index = bin_of(value)
                    hist[index] = hist.get(index, 0) + sign
        self.requests += sign * requests
        self.errors += sign * errors
        self.unpriced += sign * unpriced
        self.served += sign * outcomes.get("served", 0)
        self.fallback += sign * outcomes.get("fallback", 0)
        self.degraded += sign * outcomes.get("degraded", 0)
        self.blocked += sign * outcomes.get("blocked", 0)
        self.failed += sign * outcomes.get("error", 0)
        self.input_tokens += sign * tokens_in
        self.output_tokens += sign * tokens_out
        self.cost_usd += sign * cost
        self.shadow_cost_usd += sign * shadow_cost
        self.shadow_tokens += sign * shadow_tokens

    def merge(self, other: Tally, sign: int = 1) -> None:
        """Add (or with ``sign`` -1 subtract) another tally."""
        self.requests += sign * other.requests
        self.errors += sign * other.errors
        self.served += sign * other.served
        self.fallback += sign * other.fallback
        self.degraded += sign * other.degraded
        self.blocked += sign * other.blocked
        self.failed += sign * other.failed
        self.input_tokens += sign * other.input_tokens
        self.output_tokens += sign * other.output_tokens
        self.cost_usd += sign * other.cost_usd
        self.unpriced += sign * other.unpriced
        self.shadow_cost_usd += sign * other.shadow_cost_usd
        self.shadow_tokens += sign * other.shadow_tokens
        for mine, theirs in ((self.latency, other.latency), (self.ttft, other.ttft)):
            for index, n in theirs.items():
                mine[index] = mine.get(index, 0) + sign * n

    def merge_row(self, row: tuple[Any, ...]) -> None:
        """Add a stored row's :data:`TALLY_COLUMNS` values."""
        self._add_scalars(row)
        parse_hist(row[13], self.latency)
        parse_hist(row[14], self.ttft)

    def _add_scalars(self, row: tuple[Any, ...]) -> None:
        (req, err, served, fallback, degraded, blocked, failed, tin, tout, cost, unpriced, s_cost, s_tok) = (
            row[:13]
        )
        self.requests += int(req)
        self.errors += int(err)
        self.served += int(served)
        self.fallback += int(fallback)
        self.degraded += int(degraded)
        self.blocked += int(blocked)
        self.failed += int(failed)
        self.input_tokens += int(tin)
        self.output_tokens += int(tout)
        self.cost_usd += float(cost)
        self.unpriced += int(unpriced)
        self.shadow_cost_usd += float(s_cost)
        self.shadow_tokens += int(s_tok)

    def added_to_row(self, row: tuple[Any, ...] | None) -> tuple[Any, ...]:
        """The :data:`TALLY_COLUMNS` values of a stored row (``None``: none yet) plus this tally.

        The histograms are appended to the stored text (see :func:`append_hist`), not parsed and
        written out again: the record writer does this for every rollup row each transaction
        touches, and parsing and formatting long-lived rows' histograms was most of that work.
        """
        if row is None:
            return self.as_row()
        stored = Tally()
        stored._add_scalars(row)
        summed = (a + b for a, b in zip(stored.scalars(), self.scalars(), strict=True))
        return (*summed, append_hist(row[13], self.latency), append_hist(row[14], self.ttft))

    def scalars(self) -> tuple[int | float, ...]:
        """The 13 summed :data:`TALLY_COLUMNS` values (all but the histograms)."""
        return (
            self.requests,
            self.errors,
            self.served,
            self.fallback,
            self.degraded,
            self.blocked,
            self.failed,
            self.input_tokens,
            self.output_tokens,
            self.cost_usd,
            self.unpriced,
            self.shadow_cost_usd,
            self.shadow_tokens,
        )

    def as_row(self) -> tuple[Any, ...]:
        """The :data:`TALLY_COLUMNS` values to store."""
        return (*self.scalars(), format_hist(self.latency), format_hist(self.ttft))

    def is_zero(self) -> bool:
        """``True`` when adding this tally would change nothing."""
        return not any(self.scalars()) and not any(self.latency.values()) and not any(self.ttft.values())

    @property
    def outcomes(self) -> dict[str, int]:
        """Counts per outcome name (those the overview shows), zeros left out."""
        counts = (self.served, self.fallback, self.degraded, self.blocked, self.failed)
        return {name: n for name, n in zip(OUTCOMES, counts, strict=True) if n}


Key = tuple[str, int, int, str]
"""``(feature, grain, slot start, variant)``: one rollup row; a missing variant is ``""``."""


def tally_rows(
    rows: Iterable[tuple[Any, ...]], sign: int = 1, into: dict[Key, Tally] | None = None
) -> dict[Key, Tally]:
    """Sum rows of :data:`COUNTED_COLUMNS` into every grain's slots (rows without a feature skipped).

    Rows are first summed per minute, and the minutes then into the longer slots, so a batch of
    records costs one dictionary update each, not one per grain.
    """
    groups: dict[tuple[str, str, int], list[tuple[Any, ...]]] = {}
    for row in rows:
        feature, started_at = row[0], row[2]
        if feature is None:
            continue
        minute = int(started_at // 60) * 60
        if minute > started_at:  # see minute_of
            minute -= 60
        key = (feature, row[1] or "", minute)
        group = groups.get(key)
        if group is None:
            groups[key] = [row[3:]]
        else:
            group.append(row[3:])
    out: dict[Key, Tally] = {} if into is None else into
    for (feature, variant, minute), group in groups.items():
        tally = Tally()
        tally.add_many(group, sign)
        for grain in GRAINS:
            slot_key: Key = (feature, grain, minute - minute % grain, variant)
            slot = out.get(slot_key)
            if slot is None:
                slot = out[slot_key] = Tally()
            slot.merge(tally)
    return out
