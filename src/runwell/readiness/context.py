"""What the checks look at: the loaded spec and its file, its git repository, and (when there is one)
the project's store and signed audit log. Passed to every check; nothing is read twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from runwell.readiness import git

if TYPE_CHECKING:
    from runwell.audit.log import AuditLog
    from runwell.readiness.live import LiveFacts
    from runwell.spec.loader import LoadedSpec
    from runwell.store import Database

__all__ = ["CheckContext", "Thresholds", "comment_at"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The windows the checks and the decay report judge by (days unless named otherwise)."""

    drill_days: float = 90.0
    records_window_s: float = 86400.0
    priced_window_days: float = 7.0
    eval_age_warn_days: float = 30.0
    eval_age_bad_days: float = 90.0
    runbook_lag_days: float = 90.0
    overrides_window_days: float = 30.0
    history_days: float = 90.0
    unlike_similarity: float = 0.2
    unlike_share_warn: float = 0.2
    unlike_share_bad: float = 0.4


@dataclass
class CheckContext:
    """The evidence a check reads; ``db`` and ``log`` are ``None`` when there is no store yet."""

    loaded: LoadedSpec
    now: float
    db: Database | None = None
    log: AuditLog | None = None
    store_note: str = ""
    vkey: str | None = None
    live: LiveFacts | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    _text: str | None = None
    _root: Path | bool | None = False

    @property
    def path(self) -> Path:
        """The spec file."""
        return self.loaded.path

    @property
    def base(self) -> Path:
        """The spec's directory."""
        return self.loaded.base_dir

    @property
    def text(self) -> str:
        """The spec file's text."""
        if self._text is None:
            self._text = self.path.read_text(encoding="utf-8")
        return self._text

    @property
    def repo(self) -> Path | None:
        """The git work tree holding the spec, if any."""
        if self._root is False:
            self._root = git.repo_root(self.path)
        return self._root if isinstance(self._root, Path) else None

    def query(self, sql: str, params: tuple[Any, ...], action: str) -> list[tuple[Any, ...]]:
        """Rows from the store (none without a store)."""
        if self.db is None:
            return []
        return [tuple(r) for r in self.db.query(sql, params, action=action)]


def comment_at(text: str, path: tuple[str, ...]) -> str:
    """The comment on the line of the YAML key at ``path`` (``""`` when none or not found)."""
    try:
        node: Any = yaml.compose(text)
    except yaml.YAMLError:
        return ""
    line = None
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            return ""
        for k, v in node.value:
            if k.value == key:
                node, line = v, k.start_mark.line
                break
        else:
            return ""
    if line is None:
        return ""
    source = text.splitlines()[line]
    return source.split("#", 1)[1].strip() if "#" in source else ""
