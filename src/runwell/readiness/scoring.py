"""The score (ML Test Score style) and the maturity level (after Google's MLOps levels 0-2).

Score: per section, an automated pass is one point and a manual pass half a point; ``n/a`` items
count for nothing either way. Sections hold different numbers of items, so each is read as its share
of the points it could have had, and the feature's score is the weakest section's share: no section
can be skipped to make up for another.
"""

from __future__ import annotations

from collections.abc import Iterable

from runwell.readiness.context import CheckContext
from runwell.readiness.items import SECTIONS, Item, Level

__all__ = ["levels", "section_scores"]


def section_scores(items: Iterable[Item]) -> dict[str, dict[str, float]]:
    """``{section: {points, possible, share, failed}}`` in section order."""
    out: dict[str, dict[str, float]] = {}
    listed = list(items)
    for section in SECTIONS:
        mine = [i for i in listed if i.section == section and i.status != "n/a"]
        points = sum(i.points for i in mine)
        possible = float(len(mine))
        out[section] = {
            "points": points,
            "possible": possible,
            "share": round(points / possible, 4) if possible else 0.0,
            "failed": float(sum(1 for i in mine if i.status == "fail")),
        }
    return out


def _passed(items: dict[str, Item], id_: str) -> tuple[bool, str]:
    item = items.get(id_)
    if item is None:
        return False, f"{id_} not checked"
    return item.status == "pass", f"{id_} {item.status}: {item.evidence}"


def levels(ctx: CheckContext, items: Iterable[Item]) -> tuple[Level, ...]:
    """Levels 0, 1 and 2 with the evidence for each criterion."""
    by_id = {i.id: i for i in items}
    name = ctx.loaded.name
    zero = Level(0, "manual", (("a feature spec that validates", True, str(ctx.path)),))
    one = Level(
        1,
        "automated pipeline",
        (
            ("the spec is versioned with the code", *_passed(by_id, "mon.spec_versioned")),
            ("an eval gate runs in CI on pull requests", *_passed(by_id, "mon.eval_ci")),
            ("the gateway serves the repository's spec", *_passed(by_id, "prod.spec_version")),
            ("records flow from the same pipeline", *_passed(by_id, "prod.records")),
        ),
    )
    gates = ctx.query("SELECT count(*) FROM eval_gates WHERE feature = ?", (name,), "count eval gates")
    judged = ctx.query(
        "SELECT count(*) FROM rollout_events WHERE feature = ?", (name,), "count rollout events"
    )
    n_gates = int(gates[0][0]) if gates else 0
    n_events = int(judged[0][0]) if judged else 0
    critical = [m.name for m in ctx.loaded.spec.rollout.metrics if m.critical]
    two = Level(
        2,
        "automated experimentation and rollback",
        (
            ("eval gates have run and are kept", n_gates > 0, f"{n_gates} gated comparisons stored"),
            (
                "rollouts are judged and rolled back by machine",
                bool(critical) and n_events > 0,
                f"critical metrics {', '.join(critical) or 'none'}; {n_events} rollout events stored",
            ),
            ("recovery is rehearsed by drills", *_passed(by_id, "mon.drill")),
        ),
    )
    return zero, one, two
