"""A local Airflow for the demo and the tests: its home under $IOC_HOME, our DAGs, few workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipelines.settings import REPO_ROOT, paths
from pipelines.warehouse import chosen

WRITER_POOL = "duckdb_writer"  # the warehouse's writers: one slot on the DuckDB file (they queue for its lock)


def airflow_environ(home: Path | None = None) -> dict[str, str]:
    """Environment variables that point Airflow at $IOC_HOME/airflow and this repository's dags/, with its
    metadata in SQLite there or in the database IOC_AIRFLOW_DB_URL names (PostgreSQL through psycopg 3)."""
    home = home or paths().home
    database = {}
    if os.environ.get("IOC_AIRFLOW_DB_URL"):  # e.g. postgresql+psycopg://user@host:5432/airflow (default: SQLite)
        url = os.environ["IOC_AIRFLOW_DB_URL"]
        database = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": url}
    return {
        **database,
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs" / "airflow"),
        "IOC_HOME": str(home),
    }


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def writer_pool() -> tuple[str, str]:
    """The writer pool's slots and description on the warehouse's backend (IOC_WAREHOUSE): one on the DuckDB file,
    more on DuckLake (loads commit side by side)."""
    warehouse = chosen()
    return str(warehouse.writers), warehouse.writers_description


def prepare_airflow(env: dict[str, str], log) -> None:
    """Migrate the metadata database and create the warehouse writer pool (one slot on the DuckDB file)."""
    for args in (["db", "migrate"], ["pools", "set", WRITER_POOL, *writer_pool()]):
        subprocess.run(
            [airflow_bin(), *args], env={**os.environ, **env}, check=True, stdout=log, stderr=subprocess.STDOUT
        )
