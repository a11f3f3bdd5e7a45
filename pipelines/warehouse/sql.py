"""SQL text helpers: quoted identifiers and literals, and the catalog lookups that write them into their queries."""

from __future__ import annotations


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def columns_of(con, schema: str, table: str, limit: int | None = None) -> list[str]:
    """The columns of schema.table (a table or a view) in the connection's warehouse, in order; none where it does
    not exist. Asked of duckdb_columns() with the names written into the query: information_schema computes every
    table's size over DuckLake (45–170 ms a question), duckdb_tables() too (50–155 ms), and duckdb_columns() with
    the names as parameters filters after listing every column (55 ms on the file, 14 ms on DuckLake) where
    literals are pushed down (5–6 ms; measured, 4 December, a dozen questions per load)."""
    return [
        row[0]
        for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            f"AND schema_name = {literal(schema)} AND table_name = {literal(table)} ORDER BY column_index"
            + (f" LIMIT {int(limit)}" if limit is not None else "")
        ).fetchall()
    ]


def view_sql(con, schema: str, name: str) -> str | None:
    """The SQL of view schema.name (None where there is no such view): duckdb_views(), quick on DuckLake too, with
    the names written into the query (see columns_of())."""
    found = con.execute(
        "SELECT sql FROM duckdb_views() WHERE database_name = current_database() "
        f"AND schema_name = {literal(schema)} AND view_name = {literal(name)}"
    ).fetchall()
    return found[0][0] if found else None
