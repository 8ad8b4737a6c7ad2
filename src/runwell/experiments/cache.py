"""Each replica's copy of the rollout states, reloaded when a row's version moves.

The request path reads :attr:`RolloutCache.current` (a dict look-up). A background job calls
:meth:`RolloutCache.refresh` every half second in a worker thread: one small read of every
feature's row version, and a reload only of the rows that moved. So a step, a pause or a rollback
made by any replica, the CLI or the admin API reaches every replica sharing the database within
the poll period, the way the levers do (``docs/design/rollouts.md`` says why not Redis).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from runwell.errors import ConfigError
from runwell.experiments.state import FeatureState, load_state, read_versions
from runwell.store import Database

__all__ = ["RolloutCache"]

_log = logging.getLogger("runwell.experiments")


class RolloutCache:
    """The rollout state of the gateway's features, as last read (see the module docstring)."""

    def __init__(self, db: Database, features: Iterable[str]) -> None:
        self._db = db
        self._features = frozenset(features)
        self._versions: dict[str, int] = {}
        self.current: Mapping[str, FeatureState] = MappingProxyType({})

    def refresh(self) -> bool:
        """Reload the rows whose version moved; returns whether anything changed. Blocking."""
        versions = {f: v for f, v in read_versions(self._db).items() if f in self._features}
        if versions == self._versions:
            return False
        states = dict(self.current)
        for feature, version in versions.items():
            if self._versions.get(feature) == version:
                continue
            try:
                states[feature] = load_state(self._db, feature)
            except ConfigError:
                # A row this runwell cannot read (a newer schema): serve without it, say so once.
                _log.exception("cannot read the rollout state of %s; serving its default variant", feature)
                states.pop(feature, None)
        for feature in set(states) - set(versions):
            del states[feature]
        self._versions = versions
        self.current = MappingProxyType(states)
        return True
