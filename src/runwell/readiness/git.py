"""The git facts readiness needs, read with the ``git`` command (never changing anything).

Every function answers ``None`` (or an empty list) when git is missing, the path is not in a work
tree, or git fails: the caller turns that into a failing item naming what is missing.
"""

from __future__ import annotations

from pathlib import Path

from runwell.spec.version import run_git

__all__ = [
    "changed_since",
    "is_tracked",
    "last_change",
    "last_commit",
    "repo_root",
    "run_git",
    "show",
    "status",
    "versions",
]


def repo_root(path: Path) -> Path | None:
    """The work tree ``path`` is in."""
    where = path if path.is_dir() else path.parent
    out = run_git(where, "rev-parse", "--show-toplevel")
    return Path(out.strip()) if out and out.strip() else None


def is_tracked(path: Path) -> bool:
    """git tracks the file."""
    out = run_git(path.parent, "ls-files", "--error-unmatch", "--", path.name)
    return out is not None


def status(path: Path) -> str | None:
    """``git status --porcelain`` of the file: empty when it is clean."""
    out = run_git(path.parent, "status", "--porcelain", "--", path.name)
    return None if out is None else out.strip()


def last_change(path: Path) -> float | None:
    """Unix time of the last commit that touched ``path`` (file or directory)."""
    where = path if path.is_dir() else path.parent
    out = run_git(where, "log", "-1", "--format=%ct", "--", str(path.resolve()))
    return float(out.strip()) if out and out.strip() else None


def last_commit(path: Path) -> str | None:
    """The full hash of the last commit that touched ``path``."""
    out = run_git(path.parent, "log", "-1", "--format=%H", "--", path.name)
    return out.strip() if out and out.strip() else None


def changed_since(paths: list[Path], commit: str, cwd: Path) -> list[tuple[float, str, str]]:
    """Commits after ``commit`` (not in its history) that touched any of ``paths``:
    ``(time, short hash, subject)``."""
    if not paths:
        return []
    out = run_git(
        cwd, "log", "--format=%ct %h %s", f"{commit}..HEAD", "--", *(str(p.resolve()) for p in paths)
    )
    found = []
    for line in (out or "").splitlines():
        parts = line.split(" ", 2)
        if len(parts) >= 2 and parts[0].isdigit():
            found.append((float(parts[0]), parts[1], parts[2] if len(parts) > 2 else ""))
    return found


def versions(path: Path, *, limit: int = 50) -> list[tuple[float, str]]:
    """The commits that changed ``path``, newest first: ``(time, full hash)``."""
    out = run_git(path.parent, "log", f"-{limit}", "--format=%ct %H", "--", path.name)
    found = []
    for line in (out or "").splitlines():
        stamp, _, commit = line.partition(" ")
        if stamp.isdigit() and commit:
            found.append((float(stamp), commit))
    return found


def show(path: Path, commit: str) -> str | None:
    """The file's text at ``commit``."""
    root = repo_root(path)
    if root is None:
        return None
    relative = path.resolve().relative_to(root.resolve()).as_posix()
    return run_git(root, "show", f"{commit}:{relative}")
