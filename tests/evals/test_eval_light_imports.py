"""``runwell eval run`` and ``compare`` with scorers that need no extra load no optional dependency.

The test extras are installed here, so an eager ``import numpy`` would go unnoticed by an import
error: instead each command runs in its own interpreter and reports which heavy modules it loaded.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import MakeProject

HEAVY = ("numpy", "scipy", "onnxruntime", "opentelemetry", "xllamacpp", "tokenizers")

_SCRIPT = textwrap.dedent(
    """
    import atexit, sys
    heavy = set(sys.argv[1].split(","))
    atexit.register(lambda: print("HEAVY=" + ",".join(sorted(
        m for m in sys.modules if m.split(".")[0] in heavy)), file=sys.stderr))
    sys.argv = ["runwell", *sys.argv[2:]]
    from runwell.cli.main import main
    main()
    """
)


def _runwell(cwd: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, ",".join(HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )
    heavy = next(line for line in done.stderr.splitlines() if line.startswith("HEAVY="))
    return done.returncode, heavy.removeprefix("HEAVY=")


@pytest.mark.parametrize("suite", ["core", "builtin:pii-leak"])
def test_run_and_compare_load_no_optional_dependency(make_project: MakeProject, suite: str) -> None:
    spec = make_project(providers={"good": {}, "other": {}}, variants={"champion": "good", "new": "other"})
    cwd = spec.parent
    for variant in ("champion", "new"):
        code, heavy = _runwell(cwd, "eval", "run", "--variant", variant, "--suite", suite)
        assert (code, heavy) == (0, ""), f"eval run {variant} on {suite}"
    code, heavy = _runwell(cwd, "eval", "compare", "champion", "new", "--suite", suite, "--gate")
    assert code in (0, 1) and heavy == ""
