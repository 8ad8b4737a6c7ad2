"""runwell.store: the one database layer (SQLite by default, PostgreSQL at scale) and its tables.

:class:`Database` owns URLs, dialects, pooled connections, transactions, error mapping and
migrations; request records and API keys (:class:`Store`), the audit log, eval runs and the
run-time state are table code on top of it. Open the project's store with :func:`open_store`.
"""

from runwell.store._db import Database, Tx
from runwell.store._keys import ApiKey, hash_secret, new_key
from runwell.store._records import MIN_PREFIX_LEN, WriteReport, record_from_row, record_to_row
from runwell.store._rollups import rebuild_rollups
from runwell.store._store import RecordStore, Store, open_store
from runwell.store._url import DEFAULT_DB, DatabaseURL, mask_url, parse_url, resolve_sqlite_path
from runwell.store.migrations import MIGRATIONS, Migration

__all__ = [
    "DEFAULT_DB",
    "MIGRATIONS",
    "MIN_PREFIX_LEN",
    "ApiKey",
    "Database",
    "DatabaseURL",
    "Migration",
    "RecordStore",
    "Store",
    "Tx",
    "WriteReport",
    "hash_secret",
    "mask_url",
    "new_key",
    "open_store",
    "parse_url",
    "rebuild_rollups",
    "record_from_row",
    "record_to_row",
    "resolve_sqlite_path",
]
