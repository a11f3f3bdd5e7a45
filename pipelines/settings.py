"""Where things live: the repository's declarations and the runtime state under $IOC_HOME."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Paths:
    """Every path the platform reads or writes, derived from $IOC_HOME and $IOC_SCHEMAS."""

    home: Path
    schemas: Path
    # raw history's files: $IOC_RAW_DATA (a directory, or an s3:// URL), shared by every worker of a DuckLake
    # (default $IOC_HOME/raw)
    raw_history: str

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def warehouse_lock(self) -> Path:
        return self.home / "warehouse.duckdb.writer-lock"

    def inbox(self, feed: str) -> Path:
        return self.home / "inbox" / feed

    def archive(self, feed: str) -> Path:
        return self.home / "archive" / feed

    def rejected(self, feed: str) -> Path:
        return self.home / "rejected" / feed

    def landing(self, feed: str) -> Path:
        return self.home / "landing" / feed

    def raw(self, feed: str) -> str:
        """Where a feed's raw history files are: a directory, or an s3:// prefix."""
        return f"{self.raw_history.rstrip('/')}/{feed}"

    def staging(self, feed: str) -> Path:
        return self.home / "staging" / feed

    def cursor(self, feed: str) -> Path:
        return self.home / "state" / "cursors" / f"{feed}.json"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def org_units_file(self) -> Path:
        return self.schemas / "org_units.yaml"


def paths() -> Paths:
    """Paths for the current environment (read at call time, so tests can point elsewhere)."""
    home = Path(os.environ.get("IOC_HOME") or REPO_ROOT / "var").resolve()
    schemas = Path(os.environ.get("IOC_SCHEMAS") or REPO_ROOT / "schemas").resolve()
    raw_history = os.environ.get("IOC_RAW_DATA", "").strip() or str(home / "raw")
    if not raw_history.startswith("s3://"):
        raw_history = str(Path(raw_history).resolve())
    return Paths(home=home, schemas=schemas, raw_history=raw_history)


def validation_socket() -> Path:
    """$IOC_VALIDATION_SOCKET, or the socket of this $IOC_HOME's service, in a directory of the user's own
    under the system's temporary one (a Unix socket's path holds at most 107 bytes, which $IOC_HOME may
    not leave)."""
    if named := os.environ.get("IOC_VALIDATION_SOCKET", "").strip():
        return Path(named)
    digest = hashlib.sha256(str(paths().home).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"ioc-{os.getuid()}" / f"validation-{digest}.sock"
