"""The public API of runwell.store is pinned: it grows only on purpose (the httpx way)."""

from __future__ import annotations

import runwell.store

EXPECTED = {
    "DEFAULT_DB", "MIGRATIONS", "MIN_PREFIX_LEN", "ApiKey", "Database", "DatabaseURL", "Migration",
    "RecordStore", "Store", "Tx", "WriteReport", "hash_secret", "mask_url", "new_key", "open_store",
    "parse_url", "rebuild_rollups", "record_from_row", "record_to_row", "resolve_sqlite_path",
}  # fmt: skip


def test_exported_names_are_exactly_the_public_api() -> None:
    assert set(runwell.store.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(runwell.store, name) is not None


def test_the_implementation_lives_in_private_modules() -> None:
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(runwell.store.__path__)}
    assert {m for m in modules if not m.startswith("_")} == {"migrations"}
