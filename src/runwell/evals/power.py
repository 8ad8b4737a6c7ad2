"""Statistical power of the paired pass/fail comparison: the smallest drop a dataset can detect.

The gate's pass/fail test is the exact two-sided McNemar test at level alpha. On a small dataset
it cannot see a real drop: with 10 cases and alpha 0.05 the candidate must break at least six
cases (and fix none) before ``p < alpha``, whatever the truth. So the compare report states the
**minimum detectable effect** (MDE):

    the smallest drop in pass rate, delta (a fraction of the paired cases), that the exact
    McNemar test at level alpha detects with probability ``power`` (80 % by default), when each
    case is independently broken by the candidate with probability ``delta + f`` and fixed with
    probability ``f``.

``f`` is the background flip rate, the noise that makes verdicts change between two equal
variants; :func:`minimum_detectable_drop` takes it from the comparison (cases the candidate
fixed / paired cases), so flaky suites honestly need a larger drop. With ``f = 0`` the MDE is a
lower bound: no dataset of that size can do better.

Power is the sum over the number of discordant cases ``m`` of ``P(M = m) * P(C >= c*(m) | m)``,
``c*(m)`` the exact test's critical count. The weights ``P(M = m)`` are exact binomial terms; the
critical count is exact up to :data:`EXACT_LIMIT` discordant cases and the conditional tail up to
:data:`EXACT_TAIL`, normal approximations with continuity correction beyond (they then agree with
the exact values to about 1e-3), so a 100,000-case suite costs milliseconds.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import NormalDist

from runwell.errors import ConfigError

__all__ = [
    "DEFAULT_POWER",
    "EXACT_LIMIT",
    "EXACT_TAIL",
    "PowerAnalysis",
    "cases_needed",
    "mcnemar_power",
    "minimum_detectable_drop",
]

DEFAULT_POWER = 0.8
"""The conventional probability of detecting a real effect of the stated size."""
EXACT_LIMIT = 1000
"""Up to this many discordant cases the exact test's critical count is computed exactly."""
EXACT_TAIL = 300
"""Up to this many discordant cases the binomial tail is summed exactly."""
_SPAN = 9.0


@dataclass(frozen=True, slots=True)
class PowerAnalysis:
    """What the comparison could have seen: the MDE at ``alpha`` and ``power``, and what a target needs.

    ``mde`` is ``None`` when no drop, however large, reaches the power (a tiny dataset).
    ``target`` is the drop the gate was asked to catch; ``cases_for_target`` how many paired
    cases that would take (``None`` when more than :data:`_MAX_CASES`).
    """

    n: int
    alpha: float
    power: float
    flip_rate: float
    mde: float | None
    target: float | None
    cases_for_target: int | None

    @property
    def underpowered(self) -> bool:
        """Whether the dataset cannot reliably see a drop of ``target`` (no target: never)."""
        return self.target is not None and (self.mde is None or self.mde > self.target)

    def summary(self) -> str:
        """One sentence: the smallest drop in pass rate this comparison could see."""
        level = f"alpha {self.alpha:g}, {self.power:.0%} power"
        if self.mde is None:
            return f"No drop in pass rate is detectable with {self.n} paired cases ({level})."
        noise = f", background flip rate {self.flip_rate:.1%}" if self.flip_rate else ""
        return (
            f"The smallest drop in pass rate this suite detects is {self.mde:.1%} "
            f"({self.n} paired cases, {level}{noise})."
        )

    def message(self) -> str:
        """What the suite can see, and when it is too small, a warning that says how many cases it needs.

        The warning does not start with "WARNING": each report marks it its own way.
        """
        if not self.underpowered:
            return self.summary()
        assert self.target is not None
        need = (
            f"about {self.cases_for_target} paired cases are needed"
            if self.cases_for_target is not None
            else f"more than {_MAX_CASES} cases are needed"
        )
        seen = self.summary()
        return (
            f"the suite is too small for the drop the gate should catch ({self.target:.1%}): "
            f"{seen[0].lower()}{seen[1:-1]}; {need}. A drop smaller than that can pass unnoticed."
        )


_MAX_CASES = 100_000


def _log_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


@functools.lru_cache(maxsize=4096)
def _critical(m: int, alpha: float) -> int | None:
    """The smallest count c of broken cases out of m discordant with two-sided exact p < alpha."""
    if m > EXACT_LIMIT:
        # p ~ 2 * Phi(-(2c - m - 1) / sqrt(m)) with continuity correction: p < alpha past this c.
        z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
        return min(m, math.floor((m + 1 + z * math.sqrt(m)) / 2.0) + 1)
    # Two-sided p for c broken of m is 2 * P(Bin(m, 1/2) <= m - c); it falls as c grows. Walk the
    # lower tail up from P(X = 0) = 2^-m (no underflow for m <= 1000) while it stays below alpha / 2.
    term, tail = 0.5**m, 0.0
    for j in range(0, (m + 1) // 2):
        tail += term
        if 2.0 * tail >= alpha:
            return m - j + 1 if j > 0 else None
        term *= (m - j) / (j + 1)
    return m // 2 + 1 if m else None


def _sf(c: int, m: int, q: float) -> float:
    """P(Bin(m, q) >= c)."""
    if c <= 0:
        return 1.0
    if c > m:
        return 0.0
    if q >= 1.0:
        return 1.0
    if q <= 0.0:
        return 0.0
    if m > EXACT_TAIL:
        spread = math.sqrt(m * q * (1.0 - q))
        return 1.0 - NormalDist().cdf((c - 0.5 - m * q) / spread)
    # pmf(k + 1) = pmf(k) * (m - k) / (k + 1) * q / (1 - q): one exp, then products.
    term, odds, total = math.exp(_log_pmf(c, m, q)), q / (1.0 - q), 0.0
    for k in range(c, m + 1):
        total += term
        term *= (m - k) / (k + 1) * odds
    return min(1.0, total)


def mcnemar_power(n: int, drop: float, *, alpha: float = 0.05, flip_rate: float = 0.0) -> float:
    """Probability that the exact two-sided McNemar test at ``alpha`` finds a drop of ``drop``.

    The model (see the module doc): each of ``n`` cases is broken with probability
    ``drop + flip_rate``, fixed with probability ``flip_rate``, otherwise unchanged; the test
    rejects when ``p < alpha`` and more cases broke than were fixed.
    """
    if n < 1:
        raise ConfigError(f"power needs at least one paired case, got {n}")
    if not 0.0 < alpha < 1.0 or not 0.0 <= flip_rate < 0.5:
        raise ConfigError(f"need 0 < alpha < 1 and 0 <= flip_rate < 0.5, got {alpha}, {flip_rate}")
    if drop <= 0.0:
        return 0.0
    psi = min(1.0, drop + 2.0 * flip_rate)
    q = (drop + flip_rate) / psi
    centre, spread = n * psi, math.sqrt(n * psi * (1.0 - psi))
    lo, hi = max(0, math.floor(centre - _SPAN * spread - 1)), min(n, math.ceil(centre + _SPAN * spread + 1))
    total = 0.0
    for m in range(lo, hi + 1):
        c = _critical(m, alpha)
        if c is not None:
            total += math.exp(_log_pmf(m, n, psi)) * _sf(c, m, q)
    return min(1.0, total)


def _smallest_drop(n: int, alpha: float, power: float, flip_rate: float) -> float | None:
    top = 1.0 - 2.0 * flip_rate
    if mcnemar_power(n, top, alpha=alpha, flip_rate=flip_rate) < power:
        return None
    lo, hi = 0.0, top
    for _ in range(32):  # 2^-32: far below any difference worth printing
        mid = (lo + hi) / 2.0
        if mcnemar_power(n, mid, alpha=alpha, flip_rate=flip_rate) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def cases_needed(
    drop: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER, flip_rate: float = 0.0
) -> int | None:
    """About how many paired cases detect ``drop`` with ``power`` (``None``: more than 100,000)."""
    if not 0.0 < drop <= 1.0 - 2.0 * flip_rate:
        raise ConfigError(f"the drop must be in (0, {1.0 - 2.0 * flip_rate:g}], got {drop}")
    if mcnemar_power(_MAX_CASES, drop, alpha=alpha, flip_rate=flip_rate) < power:
        return None
    lo, hi = 1, _MAX_CASES
    while lo < hi:  # power grows with n up to the exact test's small saw-teeth: the first n is enough
        mid = (lo + hi) // 2
        if mcnemar_power(mid, drop, alpha=alpha, flip_rate=flip_rate) >= power:
            hi = mid
        else:
            lo = mid + 1
    return lo


def minimum_detectable_drop(
    n: int,
    *,
    alpha: float,
    power: float = DEFAULT_POWER,
    flip_rate: float = 0.0,
    target: float | None = None,
) -> PowerAnalysis:
    """The MDE of a comparison of ``n`` paired cases, and whether it is small enough for ``target``."""
    if not 0.0 < power < 1.0:
        raise ConfigError(f"power must be in (0, 1), got {power}")
    flip_rate = min(max(flip_rate, 0.0), 0.45)
    mde = _smallest_drop(n, alpha, power, flip_rate)
    needed = None
    if target is not None and (mde is None or mde > target):
        usable = min(target, 1.0 - 2.0 * flip_rate)
        needed = cases_needed(usable, alpha=alpha, power=power, flip_rate=flip_rate) if usable > 0 else None
    return PowerAnalysis(n, alpha, power, flip_rate, mde, target, needed)
