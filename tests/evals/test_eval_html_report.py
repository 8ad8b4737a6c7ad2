"""``runwell eval report``: one self-contained HTML page with plots; everything from the model is escaped."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner, Result

from runwell.cli import eval as eval_cli
from runwell.evals import compare_runs
from runwell.evals.html_report import ReportPage, render_html
from runwell.evals.runstore import EvalRun
from tests.evals.builders import build_run

from .conftest import QUESTIONS, MakeProject

Cli = Callable[..., Result]
HOSTILE = '<script>alert("x")</script><img src="https://evil.example/p.png">'


class _Tags(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parsed(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def assert_self_contained(page: str) -> None:
    tags = parsed(page)
    names = {t for t, _ in tags}
    assert "script" not in names and "img" not in names and "link" not in names and "iframe" not in names
    for _tag, attrs in tags:
        assert "src" not in attrs and "href" not in attrs
        assert not any(k.startswith("on") for k in attrs), "no event handlers"
        # The only URL in markup is the SVG namespace, which browsers never fetch.
        assert all("://" not in (v or "") for k, v in attrs.items() if k != "xmlns")
    assert "@import" not in page and "url(" not in page


@pytest.fixture
def cli() -> Cli:
    root = typer.Typer(no_args_is_help=True)
    eval_cli.register(root)
    runner = CliRunner(env={"COLUMNS": "200", "RUNWELL_DB": None, "GITHUB_STEP_SUMMARY": None})
    return lambda *args: runner.invoke(root, ["eval", *args])


def test_the_report_draws_its_plots_inline_and_escapes_model_output(
    cli: Cli, make_project: MakeProject, tmp_path: Path
) -> None:
    hostile_answers = {q: HOSTILE for q in list(QUESTIONS)[:5]}
    spec = make_project(
        providers={"good": {}, "hostile": {"answers": {**QUESTIONS, **hostile_answers}}},
        variants={"champion": "good", "challenger": "hostile"},
    )
    runs = {}
    for variant in ("champion", "challenger"):
        result = cli("run", "--spec", str(spec), "--variant", variant, "--json")
        runs[variant] = orjson.loads(result.stdout)["run"]["run_id"]
    assert cli("promote", runs["champion"], "--dir", str(spec.parent)).exit_code == 0
    out = tmp_path / "reports" / "r.html"
    result = cli("report", runs["challenger"], "--out", str(out), "--spec", str(spec))
    assert result.exit_code == 0, result.output
    assert f"against champion ({runs['champion']})" in result.stdout
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert page.count("<svg") == 3  # scores, paired differences, trend (lang:xx tags are not groups)
    for title in ("Per-case score distribution", "Paired differences", "Mean score of promoted runs"):
        assert title in page
    assert "Gate against baseline champion" in page and "sudden_degradation" in page
    # Without a baseline (the champion itself is the last promoted run): no paired plot, no gate.
    alone = tmp_path / "alone.html"
    assert cli("report", runs["champion"], "--out", str(alone), "--spec", str(spec)).exit_code == 0
    text = alone.read_text(encoding="utf-8")
    assert "Paired differences" not in text and "Gate checks" not in text and "<svg" in text


def test_groups_and_safety_get_their_plots() -> None:
    tags = [["group:lang=en", "attack"]] * 20 + [["group:lang=fr", "benign"]] * 20
    run = build_run([True] * 30 + [False] * 10, tags=tags)
    record = EvalRun("abcd1234", "qa", "v", "sim", "m", "1", "1", "core", "qa", "h" * 64, 40, 1, [], 0.0)
    page = render_html(
        ReportPage(run=record, result=run, comparison=compare_runs(run, run)), generated_at=0.0
    )
    assert_self_contained(page)
    assert "Mean score per group" in page and "group:lang=fr" in page
    assert "Safety (lower is better)" in page and "over-refusal" in page
    assert "1970-01-01 00:00 UTC" in page
