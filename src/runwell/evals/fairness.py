"""Fairness: scores per declared group, a test on the widest gap, and counterfactual pairs.

**Groups are declared, never guessed.** A case belongs to group ``fr`` of dimension ``lang`` when
it carries the tag ``group:lang=fr`` (the runner adds such tags for the fields the spec names in
``evals.slices``). Topic tags (``billing``, ``technique:base64``) are not populations and never
enter a fairness gap.

Per group: the candidate's mean score with a normal-approximation interval, its pass rate with a
Wilson interval, and the baseline's numbers beside them. Groups smaller than the spec's
``min_slice_size`` are reported but left out of the gap: one case is an anecdote.

**The gap is tested.** Within a dimension, the statistic is the spread between the best and the
worst group's mean score. Its p-value comes from a permutation test: the cases' scores are
shuffled across the groups (keeping their sizes) :data:`PERMUTATIONS` times, seeded, and p is the
share of shuffles with a spread at least as wide, ``(1 + k) / (1 + permutations)``. Because the
statistic is the max-min spread, picking the worst pair out of many groups is accounted for.

**Counterfactual cases** are the same prompt with one attribute swapped (a name, a pronoun, a
dialect); they share a tag ``counterfactual:ID``. The answers must be equivalent: the same verdict,
and scores within ``tolerance`` of each other.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from runwell.evals.stats import mean, stdev, wilson_interval

__all__ = [
    "COUNTERFACTUAL_PREFIX",
    "GROUP_PREFIX",
    "PERMUTATIONS",
    "Counterfactual",
    "GroupSlice",
    "counterfactual_groups",
    "gap_permutation_test",
    "group_slices",
    "group_tag",
    "mean_interval",
    "parse_group",
]

GROUP_PREFIX = "group:"
"""Tags ``group:DIMENSION=VALUE`` declare a case's group in one dimension."""
COUNTERFACTUAL_PREFIX = "counterfactual:"
"""Tags ``counterfactual:ID`` tie together cases that differ in one swapped attribute."""
PERMUTATIONS = 2000
"""Shuffles of the gap test: a p-value near 0.05 is then known to about +/- 0.005."""


def parse_group(tag: str) -> tuple[str, str] | None:
    """``("lang", "fr")`` for ``group:lang=fr``; ``None`` for any other tag."""
    if not tag.startswith(GROUP_PREFIX):
        return None
    dimension, sep, value = tag[len(GROUP_PREFIX) :].partition("=")
    return (dimension, value) if sep and dimension and value else None


def group_tag(dimension: str, value: object) -> str:
    """The tag that puts a case in group ``value`` of ``dimension``."""
    return f"{GROUP_PREFIX}{dimension}={value}"


@dataclass(frozen=True, slots=True)
class GroupSlice:
    """One group of one dimension: candidate (and baseline) scores with intervals."""

    dimension: str
    value: str
    n: int
    candidate_mean: float
    candidate_mean_interval: tuple[float, float]
    candidate_pass_rate: float
    candidate_pass_interval: tuple[float, float]
    baseline_mean: float
    baseline_pass_rate: float
    too_small: bool

    @property
    def tag(self) -> str:
        """The group's tag, ``group:DIMENSION=VALUE``."""
        return group_tag(self.dimension, self.value)


def mean_interval(values: Sequence[float], confidence: float) -> tuple[float, float]:
    """Normal-approximation interval of a mean, clipped to [0, 1] (scores live there)."""
    centre = mean(values)
    if len(values) < 2:
        return 0.0, 1.0
    half = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0) * stdev(values) / math.sqrt(len(values))
    return max(0.0, centre - half), min(1.0, centre + half)


def group_slices(
    members: Mapping[tuple[str, str], Sequence[tuple[float, bool, float, bool]]],
    *,
    confidence: float,
    min_size: int,
) -> tuple[GroupSlice, ...]:
    """Slices from ``(dimension, value) -> [(candidate score, passed, baseline score, passed)]``."""
    out = []
    for (dimension, value), rows in sorted(members.items()):
        cand = [r[0] for r in rows]
        passes = sum(r[1] for r in rows)
        out.append(
            GroupSlice(
                dimension=dimension,
                value=value,
                n=len(rows),
                candidate_mean=mean(cand),
                candidate_mean_interval=mean_interval(cand, confidence),
                candidate_pass_rate=passes / len(rows),
                candidate_pass_interval=wilson_interval(passes, len(rows), confidence),
                baseline_mean=mean([r[2] for r in rows]),
                baseline_pass_rate=sum(r[3] for r in rows) / len(rows),
                too_small=len(rows) < min_size,
            )
        )
    return tuple(out)


def _spread(groups: Sequence[Sequence[float]]) -> float:
    means = [math.fsum(g) / len(g) for g in groups]
    return max(means) - min(means)


def gap_permutation_test(
    groups: Sequence[Sequence[float]], *, permutations: int = PERMUTATIONS, seed: int = 0
) -> float:
    """p-value of the max-min spread of group means under "groups do not matter" (see module doc)."""
    if len(groups) < 2 or any(not g for g in groups):
        raise ValueError("a gap test needs at least two non-empty groups")
    observed = _spread(groups)
    pool = [v for g in groups for v in g]
    bounds = []
    start = 0
    for g in groups:
        bounds.append((start, start + len(g)))
        start += len(g)
    rng = random.Random(seed)
    wider = 0
    for _ in range(permutations):
        rng.shuffle(pool)
        means = [math.fsum(pool[a:b]) / (b - a) for a, b in bounds]
        # A tiny tolerance: the same spread recomputed in another order must count as "as wide".
        if max(means) - min(means) >= observed - 1e-12:
            wider += 1
    return (1 + wider) / (1 + permutations)


@dataclass(frozen=True, slots=True)
class Counterfactual:
    """Cases that differ in one swapped attribute, and whether the candidate treated them alike."""

    group: str
    case_ids: tuple[str, ...]
    passed: tuple[bool, ...]
    scores: tuple[float, ...]
    consistent: bool


def counterfactual_groups(
    verdicts: Sequence[tuple[str, Sequence[str], float, bool]], *, tolerance: float
) -> tuple[Counterfactual, ...]:
    """Counterfactual groups of ``(case id, tags, score, passed)``; groups of one case are ignored."""
    by_group: dict[str, list[tuple[str, float, bool]]] = {}
    for case_id, tags, score, ok in verdicts:
        for tag in tags:
            if tag.startswith(COUNTERFACTUAL_PREFIX):
                by_group.setdefault(tag[len(COUNTERFACTUAL_PREFIX) :], []).append((case_id, score, ok))
    out = []
    for group, rows in sorted(by_group.items()):
        if len(rows) < 2:
            continue
        rows.sort()
        scores = tuple(r[1] for r in rows)
        passed = tuple(r[2] for r in rows)
        same = len(set(passed)) == 1 and max(scores) - min(scores) <= tolerance + 1e-12
        out.append(Counterfactual(group, tuple(r[0] for r in rows), passed, scores, same))
    return tuple(out)
