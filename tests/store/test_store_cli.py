"""``runwell requests`` and ``runwell keys``, run as a user would, against a real store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from runwell.cli import keys, requests
from runwell.cli.requests import parse_since
from runwell.store import open_store
from runwell.telemetry.record import RequestRecord

MakeRecord = Callable[..., RequestRecord]
Run = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path) -> Run:
    """Run ``runwell ...`` in a project directory of its own (wide terminal, no RUNWELL_DB)."""
    root = typer.Typer(no_args_is_help=True)
    requests.register(root)
    keys.register(root)
    runner = CliRunner(env={"COLUMNS": "220", "RUNWELL_DB": None})

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(root, [*args, "--dir", str(tmp_path)], env=env)

    return run


@pytest.fixture
def seeded(tmp_path: Path, make_record: MakeRecord) -> list[RequestRecord]:
    now = time.time()
    records = [
        make_record(request_id="aaaa1111bbbb2222cccc3333", started_at=now - 7200),
        make_record(
            request_id="dddd4444eeee5555ffff6666",
            started_at=now - 60,
            feature="triage",
            model="house-llm",
            cost_usd=None,
            priced=False,
        ),
        make_record(
            request_id="dddd4444eeee5555ffff7777",
            started_at=now - 30,
            status="error",
            http_status=504,
            error_class="timeout",
            error_message="no answer in 30s",
            input_tokens=None,
            output_tokens=None,
            cached_tokens=None,
            cost_usd=None,
            priced=False,
            prompt=None,
            completion=None,
        ),
    ]
    store = open_store(None, base_dir=tmp_path)
    store.write_records(records)
    store.close()
    return records


def test_list_shows_a_table_newest_first(cli: Run, seeded: list[RequestRecord]) -> None:
    result = cli("requests", "list")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("dddd4444eeee") < out.index("aaaa1111bbbb")
    assert "support-reply@champion" in out and "openai/gpt-4o-mini" in out
    assert "$0.000047" in out  # priced
    assert "unpriced" in out  # tokens used, model without a price
    assert "error 504 (timeout)" in out
    assert "812 ms" in out and "140 ms" in out and "120/48" in out


def test_list_filters_and_prints_json(cli: Run, seeded: list[RequestRecord]) -> None:
    result = cli("requests", "list", "--since", "15m", "--json")
    rows = json.loads(result.output)
    assert [r["request_id"] for r in rows] == ["dddd4444eeee5555ffff7777", "dddd4444eeee5555ffff6666"]
    result = cli("requests", "list", "--feature", "triage", "--json")
    assert [r["feature"] for r in json.loads(result.output)] == ["triage"]
    result = cli("requests", "list", "--limit", "1", "--json")
    assert len(json.loads(result.output)) == 1


def test_a_bad_since_exits_2_naming_the_accepted_forms(cli: Run) -> None:
    result = cli("requests", "list", "--since", "yesterday")
    assert result.exit_code == 2
    assert "15m" in result.output and "ISO 8601" in result.output


def test_parse_since_accepts_relative_and_iso_times() -> None:
    now = 1_000_000.0
    assert parse_since("15m", now=now) == now - 900
    assert parse_since("2h", now=now) == now - 7200
    assert parse_since("1d", now=now) == now - 86400
    assert parse_since("2026-11-22T09:30:00+00:00", now=now) == 1_795_339_800.0
    assert parse_since("2026-11-22T09:30:00Z", now=now) == 1_795_339_800.0


def test_show_prints_fields_prompt_and_completion_by_prefix(cli: Run, seeded: list[RequestRecord]) -> None:
    result = cli("requests", "show", "aaaa1111")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "aaaa1111bbbb2222cccc3333" in out and seeded[0].trace_id in out
    assert "Be brief." in out and "Où est ma commande ? 📦" in out  # the prompt...
    assert "Elle arrive demain." in out  # ...and its completion, under the same id
    assert out.index("prompt") < out.index("Où est ma commande") < out.index("completion")
    assert "input 120 (cached 64), output 48" in out


def test_show_json_and_content_not_captured(cli: Run, seeded: list[RequestRecord]) -> None:
    result = cli("requests", "show", "dddd4444eeee5555ffff7777", "--json")
    assert json.loads(result.output)["error_class"] == "timeout"
    result = cli("requests", "show", "dddd4444eeee5555ffff7777")
    assert "not captured" in result.output


def test_show_unknown_or_ambiguous_ids_exit_1(cli: Run, seeded: list[RequestRecord]) -> None:
    unknown = cli("requests", "show", "0123456789ab")
    assert unknown.exit_code == 1
    assert "no recorded request has id '0123456789ab'" in unknown.output
    ambiguous = cli("requests", "show", "dddd4444eeee")
    assert ambiguous.exit_code == 1
    assert "more than one request" in ambiguous.output


def test_keys_create_prints_the_secret_once_on_stdout(cli: Run, tmp_path: Path) -> None:
    result = cli("keys", "create", "mobile-app")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("rw-") and len(secret) == 46
    assert "will not be shown again" in result.stderr

    listed = cli("keys", "list")
    assert "mobile-app" in listed.output and secret[:7] + "…" in listed.output
    assert secret not in listed.output
    db = (tmp_path / ".runwell" / "runwell.db").read_bytes()
    assert secret.encode() not in db


def test_keys_revoke_by_name_then_by_id(cli: Run) -> None:
    cli("keys", "create", "ci")
    (key,) = json.loads(cli("keys", "list", "--json").output)
    first = cli("keys", "revoke", "ci")
    assert first.exit_code == 0 and f"Revoked API key {key['id']} (ci)" in first.output
    again = cli("keys", "revoke", key["id"])
    assert "already revoked" in again.output
    (listed,) = json.loads(cli("keys", "list", "--json").output)
    assert listed["active"] is False
    unknown = cli("keys", "revoke", "nope")
    assert unknown.exit_code == 1 and "no API key" in unknown.output


def test_db_comes_from_runwell_db_and_a_bad_url_exits_2(
    cli: Run, tmp_path: Path, make_record: MakeRecord
) -> None:
    other = tmp_path / "elsewhere.db"
    store = open_store(str(other), base_dir=tmp_path)
    store.write_records([make_record(request_id="ffff0000ffff0000ffff0000")])
    store.close()
    result = cli("requests", "list", "--json", env={"RUNWELL_DB": str(other)})
    assert [r["request_id"] for r in json.loads(result.output)] == ["ffff0000ffff0000ffff0000"]

    bad = cli("requests", "list", env={"RUNWELL_DB": "mongodb://x/y"})
    assert bad.exit_code == 2 and "unknown store URL scheme 'mongodb'" in bad.output


def _piped(*args: str, cwd: Path) -> str:
    """Run the real ``runwell`` with stdout a pipe and no COLUMNS, as ``| grep`` or a CI log would."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "RUNWELL_DB"}}
    done = subprocess.run(
        [sys.executable, "-m", "runwell", *args, "--dir", str(cwd)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_piped_tables_keep_whole_ids_and_names(tmp_path: Path, seeded: list[RequestRecord]) -> None:
    store = open_store(None, base_dir=tmp_path)
    key, _ = store.create_key("payments-reconciliation-nightly-batch-service")
    store.close()
    listed = _piped("keys", "list", cwd=tmp_path)
    row = next(line for line in listed.splitlines() if key.id in line)
    assert "payments-reconciliation-nightly-batch-service" in row and "…" not in row.replace(key.prefix, "")
    requests_out = _piped("requests", "list", cwd=tmp_path)
    for record in seeded:
        assert record.request_id in requests_out  # whole 24-character ids, copyable into `show`


def test_list_commands_offer_format_json(tmp_path: Path, seeded: list[RequestRecord]) -> None:
    store = open_store(None, base_dir=tmp_path)
    key, _ = store.create_key("ci")
    store.close()
    keys_json = json.loads(_piped("keys", "list", "--format", "json", cwd=tmp_path))
    assert [k["id"] for k in keys_json] == [key.id]
    records = json.loads(_piped("requests", "list", "--format", "json", cwd=tmp_path))
    assert {r["request_id"] for r in records} == {r.request_id for r in seeded}
    one = json.loads(_piped("requests", "show", seeded[0].request_id, "--format", "json", cwd=tmp_path))
    assert one["request_id"] == seeded[0].request_id


def test_rebuild_rollups_counts_records_written_behind_the_writers_back(
    cli: Run, tmp_path: Path, seeded: list[RequestRecord]
) -> None:
    store = open_store(None, base_dir=tmp_path)
    try:
        # As an older replica or a manual import would: rows without their rollups.
        with store.db.transaction("write behind the rollups' back") as tx:
            tx.execute("DELETE FROM request_rollups")
        assert store.db.query_one("SELECT count(*) FROM request_rollups", (), action="count")[0] == 0
    finally:
        store.close()
    result = cli("requests", "rebuild-rollups")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("rebuilt ") and "rollup rows from the stored records" in result.output
    store = open_store(None, base_dir=tmp_path)
    try:
        requests_counted = store.db.query_one(
            "SELECT sum(requests) FROM request_rollups WHERE grain = 60", (), action="sum"
        )[0]
        assert requests_counted == len(seeded)
    finally:
        store.close()
