"""The warehouse: where every stage reads and writes, on one of two backends (connection.py), with its
fixed tables (tables.py), its transactions (transaction.py) and SQL helpers (sql.py)."""

from pipelines.warehouse.connection import (
    DEFAULT_TIMEOUT_SECONDS,
    NoTimeTravel,
    WarehouseBusy,
    backend,
    claimed,
    connect,
    exclusive,
    has_clean_table,
    table_exists,
)
from pipelines.warehouse.sql import literal, quote
from pipelines.warehouse.transaction import committed

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "NoTimeTravel",
    "WarehouseBusy",
    "backend",
    "claimed",
    "committed",
    "connect",
    "exclusive",
    "has_clean_table",
    "literal",
    "quote",
    "table_exists",
]
