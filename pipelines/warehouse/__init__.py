"""The warehouse: where every stage reads and writes, on one of two backends (connection.py), with its
fixed tables (tables.py) and SQL helpers (sql.py)."""

from pipelines.warehouse.connection import (
    DEFAULT_TIMEOUT_SECONDS,
    WarehouseBusy,
    backend,
    connect,
    has_clean_table,
    table_exists,
)
from pipelines.warehouse.sql import literal, quote

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "WarehouseBusy", "backend", "connect", "has_clean_table", "literal", "quote",
           "table_exists"]
