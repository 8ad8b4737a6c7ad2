"""Ground truth slips: the eval set stops looking like the traffic.

- input drift of live traffic against the eval set (the drift package's test: PSI on scalar text
  features, and MMD on embeddings when the ``embeddings`` extra is there and asked for);
- the eval set's age: when its datasets last changed (git), and when it last ran completely;
- the share of live inputs unlike any eval case;
- the online quality score of the last week against the week before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runwell.errors import ConfigError
from runwell.readiness import git
from runwell.readiness.context import Thresholds
from runwell.readiness.decay.model import Signal, SignalStatus, age_status
from runwell.readiness.decay.similarity import unlike_share

if TYPE_CHECKING:
    from runwell.drift import Embed, LiveInput
    from runwell.spec.loader import LoadedSpec
    from runwell.store import Database

__all__ = ["ground_truth"]

_DAY = 86400.0
_M = "ground_truth"


def _drift(loaded: LoadedSpec, reference: list[str], live: list[LiveInput], embed: Embed | None) -> Signal:
    from runwell.drift import DriftSettings, assess

    policy = loaded.spec.rollout.drift
    settings = DriftSettings(
        method=policy.method, p_value=policy.p_value, auc=policy.auc, psi=policy.psi, min_live=policy.min_live
    )
    report = assess(loaded.name, reference, live, settings, embed)
    if report.verdict == "insufficient":
        return Signal(_M, "input drift vs the eval set", "n/a", "; ".join(report.reasons))
    how = "embeddings and scalars" if report.embedding else "scalar text features (no embeddings)"
    if report.drifted:
        return Signal(
            _M,
            "input drift vs the eval set",
            "bad",
            f"{report.live_n} live vs {report.reference_n} eval inputs, {how}: " + "; ".join(report.reasons),
            f"add recent live inputs to the eval set (runwell review export); runwell drift {loaded.name}",
        )
    return Signal(
        _M,
        "input drift vs the eval set",
        "ok",
        f"stable over {report.live_n} live vs {report.reference_n} eval inputs ({how}).",
    )


def _dataset_age(loaded: LoadedSpec, now: float, limits: Thresholds) -> Signal:
    paths = [loaded.base_dir / s.dataset for s in loaded.spec.evals.suites]
    if not paths:
        return Signal(
            _M,
            "eval set age",
            "bad",
            "no eval suites: there is no ground truth at all.",
            "add an eval suite (evals.suites) with cases drawn from real traffic",
        )
    stamps = []
    for path in paths:
        changed = git.last_change(path)
        if changed is None and path.is_file():
            changed = path.stat().st_mtime
        stamps.append((changed, path.name))
    known = [s for s in stamps if s[0] is not None]
    if not known:
        return Signal(
            _M, "eval set age", "bad", "the eval datasets are missing.", "restore the eval datasets"
        )
    newest = max(float(s[0]) for s in known if s[0] is not None)
    days = (now - newest) / _DAY
    status = age_status(days, limits.eval_age_warn_days, limits.eval_age_bad_days)
    names = ", ".join(n for _, n in stamps)
    return Signal(
        _M,
        "eval set age",
        status,
        f"{names} last changed {days:.0f} days ago.",
        "refresh the eval set with recent, labelled live cases",
    )


def _last_run(db: Database, feature: str, now: float, limits: Thresholds) -> Signal:
    row = db.query_one(
        "SELECT max(started_at) FROM eval_runs WHERE feature = ? AND status = 'complete'",
        (feature,),
        action="find the last eval run",
    )
    last = None if row is None or row[0] is None else float(row[0])
    days = None if last is None else (now - last) / _DAY
    status = age_status(days, limits.eval_age_warn_days, limits.eval_age_bad_days)
    detail = "never" if days is None else f"{days:.0f} days ago"
    return Signal(
        _M,
        "last complete eval run",
        status,
        detail,
        "runwell eval run --spec runwell.yaml (and in CI on every pull request)",
    )


def _online_trend(db: Database, feature: str, now: float) -> Signal:
    def mean(since: float, until: float) -> tuple[int, float | None]:
        row = db.query_one(
            "SELECT count(*), avg(score) FROM scores WHERE feature = ? AND created_at >= ? "
            "AND created_at < ? AND score IS NOT NULL",
            (feature, since, until),
            action="average online scores",
        )
        n = int(row[0]) if row else 0
        return n, (float(row[1]) if row and row[1] is not None and n >= 5 else None)

    recent_n, recent = mean(now - 7 * _DAY, now)
    before_n, before = mean(now - 14 * _DAY, now - 7 * _DAY)
    if recent is None or before is None:
        return Signal(
            _M,
            "online score trend",
            "n/a",
            f"{recent_n} scores this week, {before_n} the week before: too few to compare.",
        )
    drop = before - recent
    status: SignalStatus = "bad" if drop > 0.1 else "warn" if drop > 0.03 else "ok"
    return Signal(
        _M,
        "online score trend",
        status,
        f"mean {before:.3f} -> {recent:.3f} over two weeks.",
        "look at the lowest-scored answers (runwell review list) and add them to the eval set",
    )


def ground_truth(
    loaded: LoadedSpec, db: Database, now: float, limits: Thresholds, *, embed: Embed | None = None
) -> list[Signal]:
    """Every ground-truth signal of the feature."""
    from runwell.drift import live_inputs, reference_texts

    out = []
    try:
        reference = reference_texts(loaded)
    except ConfigError as exc:
        reference = []
        out.append(Signal(_M, "input drift vs the eval set", "bad", str(exc), "add an eval suite"))
    policy = loaded.spec.rollout.drift
    live = live_inputs(db, loaded.name, limit=policy.live_sample, since=now - 7 * _DAY)
    if reference:
        out.append(_drift(loaded, reference, live, embed))
        if len(live) < 20:
            out.append(
                Signal(
                    _M,
                    "live inputs unlike any eval case",
                    "n/a",
                    f"{len(live)} live inputs in 7 days (need 20).",
                )
            )
        else:
            share, examples = unlike_share([x.text for x in live], reference, limits.unlike_similarity)
            status: SignalStatus = (
                "bad"
                if share > limits.unlike_share_bad
                else "warn"
                if share > limits.unlike_share_warn
                else "ok"
            )
            sample = "; e.g. " + " | ".join(e[:60] for e in examples) if examples and status != "ok" else ""
            out.append(
                Signal(
                    _M,
                    "live inputs unlike any eval case",
                    status,
                    f"{share:.0%} of {len(live)} live inputs have no close eval case{sample}.",
                    "add cases like them to the eval set",
                )
            )
    out.append(_dataset_age(loaded, now, limits))
    out.append(_last_run(db, loaded.name, now, limits))
    out.append(_online_trend(db, loaded.name, now))
    return out
