"""Version strings that tie every request back to the exact spec and prompt that served it.

``spec_version(path)`` is computed once when a spec is loaded (it runs ``git``), never per request:

==============================  ==================================================================
``<commit>+<hash>``             the file is committed and unchanged since ``<commit>``
``<commit>-dirty+<hash>``       the file has changes not yet committed
``uncommitted+<hash>``          inside a git work tree, but no commit contains the file yet
``nogit+<hash>``                not in a git work tree, or ``git`` is not installed
==============================  ==================================================================

``<commit>`` is git's short hash of the last commit that touched the file; ``<hash>`` is the first
12 hex digits of the SHA-256 of the file's bytes, so two files with the same version string have
the same content even when git is not there to say so.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

__all__ = ["content_hash", "prompt_version", "run_git", "spec_version"]

_HASH_CHARS = 12
_GIT_TIMEOUT_S = 10.0


def content_hash(data: bytes) -> str:
    """The first 12 hex digits of the SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()[:_HASH_CHARS]


def prompt_version(declared: str, template_sha256: str) -> str:
    """``"<declared version>+<first 12 hex of the template file's SHA-256>"``."""
    return f"{declared}+{template_sha256[:_HASH_CHARS]}"


def run_git(cwd: Path, *args: str) -> str | None:
    """git's stdout (not stripped); ``None`` when git is missing, fails or hangs."""
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _git(cwd: Path, *args: str) -> str | None:
    out = run_git(cwd, *args)
    return None if out is None else out.strip()


def spec_version(path: str | Path, *, content: bytes | None = None) -> str:
    """The version string of the spec file at ``path`` (see the module docstring).

    ``content`` saves a second read when the caller already holds the file's bytes.
    """
    file = Path(path).resolve()
    digest = content_hash(file.read_bytes() if content is None else content)
    where, name = file.parent, file.name
    if _git(where, "rev-parse", "--is-inside-work-tree") != "true":
        return f"nogit+{digest}"
    commit = _git(where, "log", "-1", "--format=%h", "--", name)
    if not commit:
        return f"uncommitted+{digest}"
    changed = _git(where, "status", "--porcelain", "--untracked-files=no", "--", name)
    # An unreadable status is reported as dirty: claiming "clean" must be earned.
    if changed is None or changed:
        return f"{commit}-dirty+{digest}"
    return f"{commit}+{digest}"
