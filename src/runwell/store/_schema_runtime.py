"""The SQL of the run-time layers' migrations (10 and later): experiments, operations, eval
history. :mod:`runwell.store.migrations` numbers and applies them; this
module only holds their text, so the migration list stays readable.
"""

from __future__ import annotations

__all__ = [
    "M10_EXPERIMENTS",
    "M11_OPERATE",
    "M12_EVALS_HISTORY",
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
