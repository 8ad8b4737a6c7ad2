"""Spec and prompt version strings, inside and outside git."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from runwell.spec import load_spec, prompt_version, spec_version


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def short_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def init_repo(root: Path) -> Path:
    """Make ``root`` an empty git repository with a local identity (nothing global is touched)."""
    root.mkdir(exist_ok=True)
    git(root, "init", "-q")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "Test")
    git(root, "config", "commit.gpgsign", "false")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository."""
    return init_repo(tmp_path / "repo")


def test_outside_git(tmp_path: Path) -> None:
    # tmp_path is not inside a work tree (pytest's base temp lives under /tmp).
    path = tmp_path / "runwell.yaml"
    path.write_text("spec_version: 1\n")
    assert spec_version(path) == f"nogit+{short_hash(path)}"


def test_committed_uncommitted_and_dirty(repo: Path) -> None:
    path = repo / "runwell.yaml"
    path.write_text("spec_version: 1\n")
    assert spec_version(path) == f"uncommitted+{short_hash(path)}"

    git(repo, "add", "runwell.yaml")
    git(repo, "commit", "-q", "-m", "spec")
    commit = git(repo, "log", "-1", "--format=%h")
    assert spec_version(path) == f"{commit}+{short_hash(path)}"

    path.write_text("spec_version: 1\n# edited\n")
    assert spec_version(path) == f"{commit}-dirty+{short_hash(path)}"


def test_commit_is_the_last_one_touching_the_spec(repo: Path) -> None:
    path = repo / "runwell.yaml"
    path.write_text("spec_version: 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "spec")
    spec_commit = git(repo, "log", "-1", "--format=%h")
    (repo / "other.txt").write_text("unrelated\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "other")
    assert spec_version(path) == f"{spec_commit}+{short_hash(path)}"


def test_loaded_spec_carries_the_version(write_spec: Callable[..., Path]) -> None:
    spec = write_spec()
    assert load_spec(spec).version == f"nogit+{short_hash(spec)}"
    feature = init_repo(spec.parent)
    git(feature, "add", ".")
    git(feature, "commit", "-q", "-m", "feature")
    commit = git(feature, "log", "-1", "--format=%h")
    assert load_spec(spec).version == f"{commit}+{short_hash(spec)}"


def test_prompt_version() -> None:
    digest = hashlib.sha256(b"template").hexdigest()
    assert prompt_version("3", digest) == f"3+{digest[:12]}"
