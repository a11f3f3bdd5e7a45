"""The warehouse: where every stage reads and writes, on one of two backends (backends.py, the one IOC_WAREHOUSE
names picked and called by connection.py), with its fixed tables (tables.py) brought to their latest version by
versioned migrations (migrations.py), its transactions (transaction.py) and SQL helpers (sql.py)."""

from pipelines.warehouse.catalog import CatalogLost, LockLost
from pipelines.warehouse.connection import (
    DEFAULT_TIMEOUT_SECONDS,
    Backend,
    NoTimeTravel,
    WarehouseBusy,
    backend,
    chosen,
    claimed,
    columns_of,
    compact,
    connect,
    exclusive,
    has_clean_table,
    is_view,
    table_exists,
    view_sql,
)
from pipelines.warehouse.sql import literal, quote
from pipelines.warehouse.transaction import committed

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "Backend",
    "CatalogLost",
    "LockLost",
    "NoTimeTravel",
    "WarehouseBusy",
    "backend",
    "chosen",
    "claimed",
    "columns_of",
    "committed",
    "compact",
    "connect",
    "exclusive",
    "has_clean_table",
    "is_view",
    "literal",
    "quote",
    "table_exists",
    "view_sql",
]
