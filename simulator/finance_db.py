"""The finance department's PostgreSQL database: the `finance.disbursement` table the investment feed reads."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from simulator.world import World

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DBNAME = "ioc_sim_finance"

CREATE_TABLE = """
CREATE SCHEMA IF NOT EXISTS finance;
CREATE TABLE IF NOT EXISTS finance.disbursement (
    project_code text NOT NULL,
    project_name text NOT NULL,
    owner_code text NOT NULL,
    period text NOT NULL,
    plan_vnd bigint NOT NULL,
    disbursed_cum_vnd bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (project_code, period)
);
"""

UPSERT = """
INSERT INTO finance.disbursement
    (project_code, project_name, owner_code, period, plan_vnd, disbursed_cum_vnd, updated_at)
VALUES (%(project_code)s, %(project_name)s, %(owner_code)s, %(period)s,
        %(plan_vnd)s, %(disbursed_cum_vnd)s, %(updated_at)s)
ON CONFLICT (project_code, period) DO UPDATE SET
    project_name = EXCLUDED.project_name,
    owner_code = EXCLUDED.owner_code,
    plan_vnd = EXCLUDED.plan_vnd,
    disbursed_cum_vnd = EXCLUDED.disbursed_cum_vnd,
    updated_at = EXCLUDED.updated_at
"""


def database_dsn(admin_dsn: str, dbname: str) -> str:
    """`admin_dsn` pointed at `dbname` (URL or key=value form kept)."""
    if "://" in admin_dsn:
        return urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{dbname}"))
    return make_conninfo(admin_dsn, dbname=dbname)


def fill_finance_db(world: World, admin_dsn: str = DEFAULT_ADMIN_DSN, dbname: str = DEFAULT_DBNAME) -> str:
    """Create `dbname` if missing and upsert the world's disbursement rows; returns the database's DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    dsn = database_dsn(admin_dsn, dbname)
    with psycopg.connect(dsn) as connection:
        connection.execute(CREATE_TABLE)
        with connection.cursor() as cursor:
            cursor.executemany(UPSERT, world.investment_rows)
    return dsn
