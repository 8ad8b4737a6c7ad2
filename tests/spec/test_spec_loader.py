"""load_spec: a valid spec loads; each mistake is one problem at its exact line and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runwell.errors import SpecError
from runwell.spec import LoadedSpec, load_spec

WriteSpec = Callable[..., Path]
Problems = Callable[[Path], list[str]]


def test_valid_spec_loads_with_everything_resolved(write_spec: WriteSpec) -> None:
    path = write_spec()
    loaded = load_spec(path)
    assert isinstance(loaded, LoadedSpec)
    assert loaded.name == "ticket-summary"
    assert loaded.default_variant == "champion"
    assert loaded.path == path.resolve()
    assert loaded.base_dir == path.resolve().parent
    assert set(loaded.prompts) == {"champion", "challenger"}
    assert loaded.prompts["champion"].variables_used == {"audience"}
    assert loaded.prompt_versions["champion"].startswith("1+")
    assert loaded.prompt_versions["challenger"].startswith("2+")  # `version: 2` reads as "2"
    assert loaded.version.endswith("+" + loaded.version.rsplit("+", 1)[1])
    assert loaded.variant("champion").params.to_request() == {"temperature": 0.2, "max_tokens": 96}
    assert loaded.spec.timeouts.request_s == 60 and loaded.spec.timeouts.connect_s == 10
    assert loaded.spec.capture.content is True and loaded.spec.user_id.hash is False


def test_a_directory_means_its_runwell_yaml(write_spec: WriteSpec) -> None:
    path = write_spec()
    assert load_spec(path.parent).path == path.resolve()


def test_single_variant_is_the_default(write_spec: WriteSpec) -> None:
    text = "".join(
        line
        for n, line in enumerate(write_spec().read_text().splitlines(keepends=True), 1)
        if n < 17  # drop the challenger (lines 17-20) and default_variant (line 21)
    )
    assert load_spec(write_spec(text=text)).default_variant == "champion"


# --- one problem, one line --------------------------------------------------------------------


def test_bad_yaml_reports_line_and_column(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("    model: sim-small", "    model: [sim-small")])
    [problem] = problems(path)
    assert problem.startswith(f"{path}:20: <yaml>: invalid YAML: ")
    assert "(line 20, column " in problem


def test_tab_indentation_is_bad_yaml(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(text="spec_version: 1\nfeature:\n\tname: x\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:3: <yaml>: invalid YAML: found character '\\t'")


def test_duplicate_key_is_reported_at_the_second_occurrence(
    write_spec: WriteSpec, problems: Problems
) -> None:
    path = write_spec(append="default_variant: challenger\n")
    assert problems(path) == [
        f"{path}:22: default_variant: duplicate key 'default_variant' (first at line 21); "
        "YAML keeps only the last one, so merge the two or remove one"
    ]


def test_duplicate_nested_key_does_not_leave_stale_lines(write_spec: WriteSpec, problems: Problems) -> None:
    # The second `champion` wins and lacks `model`; the line must point into it, not the first.
    path = write_spec(
        append="variants:\n  champion:\n    provider: smol\n"
        "    prompt: {file: prompts/summary.v1.md, version: '1'}\n"
    )
    found = problems(path)
    assert f"{path}:22: variants: duplicate key 'variants' (first at line 11); " in found[0]
    assert f"{path}:23: variants.champion.model: required field 'model' is missing" in found[1]


def test_unknown_key_suggests_the_closest_allowed_key(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("{temperature: 0.2,", "{temprature: 0.2,")])
    assert problems(path) == [
        f"{path}:16: variants.champion.params.temprature: unknown key 'temprature'; "
        "did you mean 'temperature'?"
    ]


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(
    write_spec: WriteSpec, problems: Problems
) -> None:
    path = write_spec(append="capture: {zzz: true}\n")
    assert problems(path) == [f"{path}:22: capture.zzz: unknown key 'zzz'; allowed keys: content"]


def test_unknown_key_inside_a_provider_uses_that_kinds_keys(
    write_spec: WriteSpec, problems: Problems
) -> None:
    path = write_spec([("{kind: local}", "{kind: local, n_cxt: 4096}")])
    assert problems(path) == [f"{path}:9: providers.smol.n_cxt: unknown key 'n_cxt'; did you mean 'n_ctx'?"]


def test_top_level_typo_suggests_the_section(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(append="guardrail: {pii_redaction: true}\n")
    assert problems(path) == [f"{path}:22: guardrail: unknown key 'guardrail'; did you mean 'guardrails'?"]


@pytest.mark.parametrize(
    ("edit", "line", "field", "message"),
    [
        (
            ("max_tokens: 96", "max_tokens: lots"),
            16,
            "variants.champion.params.max_tokens",
            "expected an integer, got string 'lots'",
        ),
        (
            ("temperature: 0.2", 'temperature: "0.2"'),
            16,
            "variants.champion.params.temperature",
            "expected a number, got string '0.2'",
        ),
        (
            ("default_variant: champion", "default_variant: 7"),
            21,
            "default_variant",
            "expected a string, got number 7",
        ),
        (
            ("{temperature: 0.2, max_tokens: 96}", "[0.2, 96]"),
            16,
            "variants.champion.params",
            "expected a mapping (key: value lines), got a list",
        ),
    ],
)
def test_wrong_type_says_expected_and_got(
    write_spec: WriteSpec,
    problems: Problems,
    edit: tuple[str, str],
    line: int,
    field: str,
    message: str,
) -> None:
    path = write_spec([edit])
    assert problems(path) == [f"{path}:{line}: {field}: {message}"]


def test_yes_is_not_a_number(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(append="budgets: {daily_usd: yes}\n")
    assert problems(path) == [f"{path}:22: budgets.daily_usd: expected a number, got boolean true"]


def test_section_left_empty_is_a_wrong_type(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(append="guardrails:\n")
    assert problems(path) == [
        f"{path}:22: guardrails: expected a mapping (key: value lines), got an empty value"
    ]


def test_missing_required_field_points_at_its_parent(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("  purpose: Summarise support tickets for agents\n", "")])
    assert problems(path) == [
        f"{path}:2: feature.purpose: required field 'purpose' is missing; add it under feature"
    ]


def test_missing_top_level_section(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("spec_version: 1\n", "# no version\n")])
    assert problems(path) == [
        f"{path}:1: spec_version: required field 'spec_version' is missing; add it under the top level"
    ]


def test_float_prompt_version_must_be_quoted(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("version: 2}", "version: 2.10}")])
    assert problems(path) == [
        f"{path}:20: variants.challenger.prompt.version: YAML reads this as the number 2.1; "
        'quote it: version: "..."'
    ]


def test_unsupported_spec_version(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("spec_version: 1", "spec_version: 2")])
    assert problems(path) == [f"{path}:1: spec_version: this runwell reads spec_version 1, got 2"]


def test_missing_prompt_file_names_the_resolved_path(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("prompts/summary.v1.md", "prompts/nope.md")])
    resolved = path.resolve().parent / "prompts" / "nope.md"
    assert problems(path) == [
        f"{path}:15: variants.champion.prompt.file: prompt file not found: {resolved} "
        f"(paths are relative to the spec's directory, {path.resolve().parent}); "
        "create it or fix the path"
    ]


def test_unknown_provider_reference_lists_known_providers(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("provider: backup", "provider: backpu")])
    assert problems(path) == [
        f"{path}:18: variants.challenger.provider: unknown provider 'backpu'; "
        "did you mean 'backup'? known providers: smol, backup; "
        "add it under providers: or fix the name"
    ]


def test_unknown_provider_kind_lists_known_kinds(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("{kind: local}", "{kind: llama}")])
    assert problems(path) == [
        f"{path}:9: providers.smol.kind: unknown kind 'llama'; "
        "known kinds: 'openai', 'anthropic', 'local', 'sim'"
    ]


def test_provider_without_kind(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("{kind: local}", "{n_ctx: 512}")])
    assert problems(path) == [
        f"{path}:9: providers.smol.kind: missing 'kind'; "
        "set it to one of 'openai', 'anthropic', 'local', 'sim'"
    ]


def test_invalid_provider_name(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("  backup: {kind", "  Back Up: {kind"), ("provider: backup", "provider: smol")])
    assert problems(path) == [
        f"{path}:10: providers.Back Up: invalid provider name 'Back Up': "
        "use lowercase letters, digits, '_' and '-', starting with a letter or digit"
    ]


def test_invalid_feature_name(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("name: ticket-summary", "name: ticket@summary")])
    assert problems(path) == [
        f"{path}:3: feature.name: 'ticket@summary' is not valid here: use lowercase letters, "
        "digits and '-', starting with a letter or digit, at most 63 characters"
    ]


def test_api_key_literal_is_flagged_without_echoing_it(write_spec: WriteSpec, problems: Problems) -> None:
    secret = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    path = write_spec([("{kind: sim, mode: echo}", f"{{kind: openai, api_key: {secret}}}")])
    [problem] = problems(path)
    assert problem.startswith(f"{path}:10: providers.backup.api_key: looks like a secret")
    assert "api_key_env" in problem and "rotate" in problem
    assert secret not in problem


def test_secret_in_api_key_env_is_one_problem(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(
        [("{kind: sim, mode: echo}", "{kind: openai, api_key_env: sk-abcdefghijklmnopqrstuvwx}")]
    )
    [problem] = problems(path)
    assert problem.startswith(f"{path}:10: providers.backup.api_key_env: looks like a secret")


def test_api_key_set_to_a_variable_name_suggests_api_key_env(
    write_spec: WriteSpec, problems: Problems
) -> None:
    path = write_spec([("{kind: sim, mode: echo}", "{kind: openai, api_key: OPENAI_API_KEY}")])
    assert problems(path) == [
        f"{path}:10: providers.backup.api_key: unknown key 'api_key'; did you mean 'api_key_env'?"
    ]


# --- whole-file problems ----------------------------------------------------------------------


def test_empty_file(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(text="# nothing yet\n")
    assert problems(path) == [f"{path}:1: <file>: the spec is empty; start from `runwell init NAME`"]


def test_top_level_list(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(text="- spec_version: 1\n")
    assert problems(path) == [
        f"{path}:1: <root>: the spec must be a mapping of sections (spec_version:, feature:, ...), got a list"
    ]


def test_missing_file(tmp_path: Path, problems: Problems) -> None:
    path = tmp_path / "nope.yaml"
    assert problems(path) == [
        f"{path}:1: <file>: spec file not found: {path.resolve()}; pass the right path "
        "or create one with `runwell init NAME`"
    ]


def test_python_tags_are_refused(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(append="prices: !!python/object/apply:os.system ['true']\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:22: <yaml>: invalid YAML: could not determine a constructor")


# --- cross-references and files ---------------------------------------------------------------


def test_default_variant_must_exist(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("default_variant: champion", "default_variant: champ")])
    assert problems(path) == [
        f"{path}:21: default_variant: unknown variant 'champ'; did you mean 'champion'? "
        "known variants: champion, challenger"
    ]


def test_default_variant_required_with_two_variants(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec([("default_variant: champion\n", "")])
    assert problems(path) == [
        f"{path}:1: default_variant: required when there is more than one variant; "
        "add 'default_variant: champion' (one of champion, challenger)"
    ]


def test_fallback_chain_and_rollout_candidate_must_name_variants(
    write_spec: WriteSpec, problems: Problems
) -> None:
    path = write_spec(
        append="fallbacks:\n  chain: [challenger, backup]\n"
        "rollout: {strategy: canary, candidate: challengr, steps: [5, 50]}\n"
    )
    assert problems(path) == [
        f"{path}:23: fallbacks.chain.1: unknown variant 'backup'; known variants: champion, challenger",
        f"{path}:24: rollout.candidate: unknown variant 'challengr'; did you mean 'challenger'? "
        "known variants: champion, challenger",
    ]


def test_rollout_candidate_cannot_be_the_default(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(append="rollout: {strategy: shadow, candidate: champion}\n")
    assert problems(path) == [
        f"{path}:22: rollout.candidate: 'champion' is already the default variant; "
        "the candidate must be another variant"
    ]


def test_runbooks_and_datasets_must_exist(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(
        append="runbooks: [runbooks/outage.md, runbooks/missing.md]\n"
        "failure_modes:\n"
        "  - name: outage\n"
        "    detection: errors\n"
        "    mitigation: fall back\n"
        "    runbook: runbooks/gone.md\n"
        "evals:\n"
        "  suites:\n"
        "    - name: core\n"
        "      dataset: evals/core.jsonl\n"
        "      scorers: [{type: exact}]\n",
        files={"runbooks/outage.md": "# Outage\n"},
    )
    base = path.resolve().parent
    found = problems(path)
    assert [p.split(": ", 2)[:2] for p in found] == [
        [f"{path}:22", "runbooks.1"],
        [f"{path}:27", "failure_modes.0.runbook"],
        [f"{path}:31", "evals.suites.0.dataset"],
    ]
    assert f"runbook not found: {base / 'runbooks' / 'missing.md'}" in found[0]
    assert f"eval dataset not found: {base / 'evals' / 'core.jsonl'}" in found[2]


def test_prompt_template_problems_point_into_the_template(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(files={"prompts/summary.v1.md": "Line one.\nFor {{ the audience }}.\n"})
    template = path.parent / "prompts" / "summary.v1.md"
    assert problems(path) == [
        f"{template}:2: system: '{{{{' does not open a valid placeholder: "
        "'{{ the audience }}.'; "
        "write '{{ name }}' with a name made of letters, digits and '_'"
    ]


def test_every_problem_is_reported_at_once(write_spec: WriteSpec, problems: Problems) -> None:
    path = write_spec(
        [
            ("name: ticket-summary", "name: Ticket"),
            ("{temperature: 0.2,", "{temperature: 9,"),
            ("provider: backup", "provider: nope"),
            ("prompts/chat.v2.yaml", "prompts/missing.yaml"),
        ],
        append="budgets: {alert_at_fraction: 2}\n",
    )
    assert [p.split(": ", 2)[:2] for p in problems(path)] == [
        [f"{path}:3", "feature.name"],
        [f"{path}:16", "variants.champion.params.temperature"],
        [f"{path}:18", "variants.challenger.provider"],
        [f"{path}:20", "variants.challenger.prompt.file"],
        [f"{path}:22", "budgets.alert_at_fraction"],
    ]


def test_spec_error_message_is_the_problem_lines(write_spec: WriteSpec) -> None:
    path = write_spec([("spec_version: 1", "spec_version: 3")])
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == f"{path}:1: spec_version: this runwell reads spec_version 1, got 3"


def test_gate_floor_and_tolerance_are_scores_between_0_and_1(
    write_spec: WriteSpec, problems: Problems
) -> None:
    path = write_spec(append="evals:\n  gate: {floor: 7, tolerance: 3}\n")
    found = problems(path)
    assert len(found) == 2, found
    assert found[0].startswith(f"{path}:23: evals.gate.floor: ") and "less than or equal to 1" in found[0]
    assert found[1].startswith(f"{path}:23: evals.gate.tolerance: ") and "less than or equal to 1" in found[1]


def test_an_alert_names_a_declared_failure_mode_and_a_drill_a_declared_variant(
    write_spec: WriteSpec, problems: Problems, tmp_path: Path
) -> None:
    path = write_spec(
        append="failure_modes:\n"
        "  - {name: provider-outage, detection: error rate, mitigation: fallback, runbook: r.md,\n"
        "     drill: {scenario: outage, variant: champino}}\n"
        "alerts:\n"
        "  - {name: errors, metric: error_rate, op: '>', threshold: 0.05, failure_mode: provider-outag}\n"
    )
    (path.parent / "r.md").write_text("# runbook\n")
    assert problems(path) == [
        f"{path}:24: failure_modes.0.drill.variant: unknown variant 'champino'; did you mean 'champion'? "
        "known variants: champion, challenger",
        f"{path}:26: alerts.0.failure_mode: unknown failure mode 'provider-outag'; did you mean "
        "'provider-outage'? known failure_modes: provider-outage",
    ]
