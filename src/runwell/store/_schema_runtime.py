"""The SQL of the run-time layers' migrations (10 and later): experiments, operations, eval
history and the console's indexes. :mod:`runwell.store.migrations` numbers and applies them; this
module only holds their text, so the migration list stays readable.
"""

from __future__ import annotations

__all__ = [
    "M10_EXPERIMENTS",
    "M11_OPERATE",
    "M12_EVALS_HISTORY",
    "M13_CONSOLE_POSTGRES",
    "M13_CONSOLE_SQLITE",
]

# Experiments: each feature's live rollout state (JSON, runwell.rollout.policy) and its history;
# online evaluation scores and user feedback per request; on each request record, the rollout arm
# it was served in and, for a shadow call, the request it shadowed.
M10_EXPERIMENTS = """
CREATE TABLE rollouts (
    feature TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at {real} NOT NULL
);
CREATE TABLE rollout_events (
    id TEXT PRIMARY KEY,
    feature TEXT NOT NULL,
    rollout_id TEXT NOT NULL,
    at {real} NOT NULL,
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT
);
CREATE INDEX rollout_events_feature ON rollout_events (feature, at);
CREATE TABLE scores (
    request_id TEXT NOT NULL,
    scorer TEXT NOT NULL,
    feature TEXT,
    variant TEXT,
    score {real},
    passed {bool},
    detail TEXT,
    created_at {real} NOT NULL,
    PRIMARY KEY (request_id, scorer)
);
CREATE INDEX scores_feature ON scores (feature, created_at);
CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    feature TEXT,
    variant TEXT,
    score {real},
    label TEXT,
    comment TEXT,
    api_key_id TEXT,
    created_at {real} NOT NULL
);
CREATE INDEX feedback_request ON feedback (request_id);
CREATE INDEX feedback_feature ON feedback (feature, created_at);
ALTER TABLE requests ADD COLUMN arm TEXT;
ALTER TABLE requests ADD COLUMN shadow_of TEXT;
CREATE INDEX requests_shadow_of ON requests (shadow_of);
"""

# Operations: leases (one alert evaluator across replicas), alert states, incidents with their
# timelines and pages, the human review queue, drills and saved readiness reports.
M11_OPERATE = """
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until {real} NOT NULL
);
CREATE TABLE alerts (
    feature TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    since {real},
    last_value {real},
    last_eval_at {real},
    incident_id TEXT,
    detail TEXT,
    PRIMARY KEY (feature, name)
);
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    feature TEXT NOT NULL,
    failure_mode TEXT,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    title TEXT NOT NULL,
    runbook TEXT,
    opened_at {real} NOT NULL,
    acked_at {real},
    acked_by TEXT,
    resolved_at {real},
    resolved_by TEXT,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    next_escalation_at {real},
    review_due_at {real},
    review TEXT,
    review_done_at {real},
    scenario TEXT
);
CREATE INDEX incidents_state ON incidents (state, feature);
CREATE TABLE incident_events (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    at {real} NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    detail TEXT
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at);
CREATE TABLE pages (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    level INTEGER NOT NULL,
    target TEXT NOT NULL,
    channel TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    sent_at {real},
    created_at {real} NOT NULL
);
CREATE INDEX pages_incident ON pages (incident_id, created_at);
CREATE TABLE review_items (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    feature TEXT NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL,
    label TEXT,
    correction TEXT,
    reviewer TEXT,
    created_at {real} NOT NULL,
    labelled_at {real},
    exported_at {real}
);
CREATE UNIQUE INDEX review_items_request ON review_items (request_id);
CREATE INDEX review_items_state ON review_items (feature, state, created_at);
CREATE TABLE drills (
    id TEXT PRIMARY KEY,
    feature TEXT NOT NULL,
    scenario TEXT NOT NULL,
    started_at {real} NOT NULL,
    finished_at {real},
    passed {bool},
    result TEXT
);
CREATE INDEX drills_feature ON drills (feature, started_at);
CREATE TABLE readiness_reports (
    id TEXT PRIMARY KEY,
    feature TEXT NOT NULL,
    at {real} NOT NULL,
    score {real},
    level INTEGER,
    report TEXT NOT NULL
);
CREATE INDEX readiness_reports_feature ON readiness_reports (feature, at);
"""

# Eval history (runwell.evals.history): every gated comparison, and the runs promoted to champion
# baseline; the last promoted run is the default baseline and the promoted series feeds the trend test.
M12_EVALS_HISTORY = """
CREATE TABLE eval_gates (
    gate_id TEXT PRIMARY KEY,
    feature TEXT NOT NULL,
    suite TEXT NOT NULL,
    dataset_hash TEXT NOT NULL,
    baseline_run_id TEXT NOT NULL,
    candidate_run_id TEXT NOT NULL REFERENCES eval_runs (run_id) ON DELETE CASCADE,
    passed {bool} NOT NULL,
    candidate_mean {real} NOT NULL,
    candidate_pass_rate {real} NOT NULL,
    failures TEXT NOT NULL,
    checks TEXT NOT NULL,
    created_at {real} NOT NULL
);
CREATE INDEX eval_gates_feature ON eval_gates (feature, dataset_hash, created_at);
CREATE TABLE eval_promotions (
    run_id TEXT PRIMARY KEY REFERENCES eval_runs (run_id) ON DELETE CASCADE,
    feature TEXT NOT NULL,
    variant TEXT NOT NULL,
    dataset_hash TEXT NOT NULL,
    mean_score {real} NOT NULL,
    pass_rate {real} NOT NULL,
    gate_id TEXT,
    reason TEXT NOT NULL,
    promoted_at {real} NOT NULL
);
CREATE INDEX eval_promotions_feature ON eval_promotions (feature, dataset_hash, promoted_at);
"""

# The operator's console (runwell.console): one covering index serves the overview (every column it
# aggregates, so the window is read from the index alone) and the request list of a feature, newest
# first with the request id as tie-break; it supersedes requests_feature_started. A second one serves
# the request list searched by user. PostgreSQL keeps the aggregated columns out of the key (INCLUDE).
M13_CONSOLE_SQLITE = """
CREATE INDEX requests_console_feature ON requests (feature, started_at, request_id, status, outcome, variant,
    latency_ms, ttft_ms, input_tokens, output_tokens, cost_usd);
CREATE INDEX requests_console_user ON requests (user_id, started_at, request_id);
DROP INDEX requests_feature_started;
"""

M13_CONSOLE_POSTGRES = """
CREATE INDEX requests_console_feature ON requests (feature, started_at, request_id)
    INCLUDE (status, outcome, variant, latency_ms, ttft_ms, input_tokens, output_tokens, cost_usd);
CREATE INDEX requests_console_user ON requests (user_id, started_at, request_id);
DROP INDEX requests_feature_started;
"""

# Request rollups (runwell.telemetry.rollup): per feature, aligned slot of time (1, 5, 30 minutes and
# 3 hours: one per overview bucket width) and variant ("" when none), what the console's overview
# shows: counts, errors, outcomes, tokens, cost, the spend of shadow calls, and latency and
# time-to-first-token histograms in log-spaced bins (bin i holds (γ^(i-1), γ^i] ms, γ = 21/19,
# clamped to bins -70..200; text "bin:count,..."). The record writer keeps them in step in the
# transaction that writes the records; the backfill below builds them from the records already
# stored (the same arithmetic in SQL) and is also what runwell.store._rollups rebuilds with.
M14_ROLLUPS_TABLE = """
CREATE TABLE request_rollups (
    feature TEXT NOT NULL,
    grain INTEGER NOT NULL,
    slot_start BIGINT NOT NULL,
    variant TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    served BIGINT NOT NULL DEFAULT 0,
    fallback BIGINT NOT NULL DEFAULT 0,
    degraded BIGINT NOT NULL DEFAULT 0,
    blocked BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd {real} NOT NULL DEFAULT 0,
    unpriced BIGINT NOT NULL DEFAULT 0,
    shadow_cost_usd {real} NOT NULL DEFAULT 0,
    shadow_tokens BIGINT NOT NULL DEFAULT 0,
    latency_hist TEXT,
    ttft_hist TEXT,
    PRIMARY KEY (feature, grain, slot_start, variant)
);
"""

_LIVE = "(outcome IS NULL OR outcome <> 'shadow')"  # a shadow call served nobody: spend only
_SUMS = ", ".join(
    [
        f"sum(CASE WHEN {_LIVE} THEN 1 ELSE 0 END) AS requests",
        f"sum(CASE WHEN {_LIVE} AND status <> 'ok' THEN 1 ELSE 0 END) AS errors",
        *(
            f"sum(CASE WHEN outcome = '{outcome}' THEN 1 ELSE 0 END) AS {column}"
            for outcome, column in (
                ("served", "served"),
                ("fallback", "fallback"),
                ("degraded", "degraded"),
                ("blocked", "blocked"),
                ("error", "failed"),
            )
        ),
        f"sum(CASE WHEN {_LIVE} THEN coalesce(input_tokens, 0) ELSE 0 END) AS input_tokens",
        f"sum(CASE WHEN {_LIVE} THEN coalesce(output_tokens, 0) ELSE 0 END) AS output_tokens",
        f"sum(CASE WHEN {_LIVE} THEN coalesce(cost_usd, 0) ELSE 0 END) AS cost_usd",
        f"sum(CASE WHEN {_LIVE} AND status = 'ok' AND cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced",
        f"sum(CASE WHEN {_LIVE} THEN 0 ELSE coalesce(cost_usd, 0) END) AS shadow_cost_usd",
        f"sum(CASE WHEN {_LIVE} THEN 0 "
        "ELSE coalesce(input_tokens, 0) + coalesce(output_tokens, 0) END) AS shadow_tokens",
    ]
)
_SUMMED = (
    "requests, errors, served, fallback, degraded, blocked, failed, input_tokens, output_tokens, "
    "cost_usd, unpriced, shadow_cost_usd, shadow_tokens"
)
_MINUTE = {
    # The minute's start, also for a time a hair below a boundary whose quotient rounds up.
    "sqlite": "(CAST(started_at / 60 AS INTEGER) * 60 "
    "- CASE WHEN CAST(started_at / 60 AS INTEGER) * 60 > started_at THEN 60 ELSE 0 END)",
    "postgresql": "(CAST(floor(started_at / 60) AS BIGINT) * 60 "
    "- CASE WHEN floor(started_at / 60) * 60 > started_at THEN 60 ELSE 0 END)",
}
_BIN = {
    # SQLite may be built without ln(): look the bin up in a table of bin bounds instead.
    "sqlite": "coalesce((SELECT bin FROM rollup_bins WHERE upper >= {x} ORDER BY upper LIMIT 1), 200)",
    "postgresql": "LEAST(GREATEST(CAST(ceil(ln(GREATEST({x}, 1e-300)) / 0.10008345855698263) AS INTEGER), "
    "-70), 200)",
}
_HIST_AGG = {
    "sqlite": "group_concat(bin || ':' || n, ',')",
    "postgresql": "string_agg(CAST(bin AS TEXT) || ':' || CAST(n AS TEXT), ',')",
}
_BINS_SQLITE = """
CREATE TEMP TABLE rollup_bins AS WITH RECURSIVE b(bin, upper) AS (
    SELECT -70, 0.0009065701919070013
    UNION ALL SELECT bin + 1, upper * 1.105263157894737 FROM b WHERE bin < 200
) SELECT bin, upper FROM b;
CREATE INDEX rollup_bins_upper ON rollup_bins (upper);
"""


def _backfill(dialect: str) -> str:
    minute, agg = _MINUTE[dialect], _HIST_AGG[dialect]
    parts = [_BINS_SQLITE if dialect == "sqlite" else ""]
    parts.append(
        f"CREATE TEMP TABLE rollup_minutes AS SELECT feature, coalesce(variant, '') AS variant, "
        f"{minute} AS minute, {_SUMS} FROM requests WHERE feature IS NOT NULL GROUP BY 1, 2, 3;\n"
    )
    for table, column in (("rollup_latency", "latency_ms"), ("rollup_ttft", "ttft_ms")):
        parts.append(
            f"CREATE TEMP TABLE {table} AS SELECT feature, coalesce(variant, '') AS variant, "
            f"{minute} AS minute, {_BIN[dialect].format(x=column)} AS bin, count(*) AS n FROM requests "
            f"WHERE feature IS NOT NULL AND {_LIVE} AND {column} IS NOT NULL GROUP BY 1, 2, 3, 4;\n"
        )
    sums = ", ".join(f"sum({c}) AS {c}" for c in _SUMMED.split(", "))
    for grain in (60, 300, 1800, 10800):
        hists = [
            f"LEFT JOIN (SELECT feature, variant, slot, {agg} AS hist FROM (SELECT feature, variant, "
            f"minute - minute % {grain} AS slot, bin, sum(n) AS n FROM {table} GROUP BY 1, 2, 3, 4) AS x "
            f"GROUP BY 1, 2, 3) AS {alias} ON {alias}.feature = m.feature AND {alias}.variant = m.variant "
            f"AND {alias}.slot = m.slot"
            for table, alias in (("rollup_latency", "l"), ("rollup_ttft", "t"))
        ]
        parts.append(
            f"INSERT INTO request_rollups (feature, grain, slot_start, variant, {_SUMMED}, latency_hist, "
            f"ttft_hist) SELECT m.feature, {grain}, m.slot, m.variant, "
            + ", ".join(f"m.{c}" for c in _SUMMED.split(", "))
            + f", l.hist, t.hist FROM (SELECT feature, variant, minute - minute % {grain} AS slot, {sums} "
            f"FROM rollup_minutes GROUP BY 1, 2, 3) AS m {' '.join(hists)};\n"
        )
    parts.append("DROP TABLE rollup_minutes;\nDROP TABLE rollup_latency;\nDROP TABLE rollup_ttft;\n")
    if dialect == "sqlite":
        parts.append("DROP TABLE rollup_bins;\n")
    return "".join(parts)


M14_ROLLUPS_BACKFILL_SQLITE = _backfill("sqlite")
M14_ROLLUPS_BACKFILL_POSTGRES = _backfill("postgresql")
M14_ROLLUPS_SQLITE = M14_ROLLUPS_TABLE.format(real="REAL") + M14_ROLLUPS_BACKFILL_SQLITE
M14_ROLLUPS_POSTGRES = M14_ROLLUPS_TABLE.format(real="DOUBLE PRECISION") + M14_ROLLUPS_BACKFILL_POSTGRES

__all__ += [
    "M14_ROLLUPS_BACKFILL_POSTGRES",
    "M14_ROLLUPS_BACKFILL_SQLITE",
    "M14_ROLLUPS_POSTGRES",
    "M14_ROLLUPS_SQLITE",
]

# Migration 10 indexed requests.shadow_of, but no query ever looks a request up by it (the measures
# filter on `shadow_of IS NULL` after the feature and time range, which requests_console_feature
# serves; shadow windows select shadow_of, they do not search it), while every insert paid for it.
M15_DROP_SHADOW_INDEX = "DROP INDEX IF EXISTS requests_shadow_of;\n"

__all__ += ["M15_DROP_SHADOW_INDEX"]
