"""Raw history: every record a feed received, as received, with its lineage.

A batch's records stay in the Parquet file they landed in (text cells under the source's own header
labels, or the JSON an API or database sent, with each record's source row and URI): at its load the
file is linked (or, on another filesystem, copied) to $IOC_RAW_DATA/<feed>/<batch>.parquet (by default
$IOC_HOME/raw; on a DuckLake, a path every worker mounts beside the lake's data), so keeping history costs
no rewrite and no JSON encode per row. The view raw.<feed> shows them as one table (a record as JSON,
built when it is read), joined to ops.batches: a file whose batch never committed (a crash before the
commit) is not history, and the batch's next load links it again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.declarations.models import Feed
from pipelines.extract.landing import LINE, RAW, SOURCE_ROW, SOURCE_URI, LandedBatch, records_file
from pipelines.settings import paths
from pipelines.warehouse import is_view, literal, quote, table_exists, view_sql
from pipelines.warehouse.connection import is_object_storage

LEGACY = "_before_parquet"  # raw history kept in a warehouse table before it moved to Parquet files


def raw_view(feed: Feed) -> str:
    return f"raw.{quote(feed.id)}"


def raw_file(feed: Feed, batch_id: str) -> str:
    return f"{paths().raw(feed.id)}/{batch_id}.parquet"


def record_sql(columns: list[str], alias: str = "") -> str:
    """SQL for a record as JSON: the JSON an API or database sent, else a file's cells by header label
    (a malformed line's record carries its text in _line)."""
    prefix = f"{alias}." if alias else ""
    labels = [c for c in columns if not c.startswith("_")]
    cells = ", ".join(f"{literal(c)}, {prefix}{quote(c)}" for c in labels)
    branches = []
    if RAW in columns:
        branches.append(f"WHEN {prefix}{quote(RAW)} IS NOT NULL THEN {prefix}{quote(RAW)}::JSON")
    if LINE in columns:
        branches.append(
            f"WHEN {prefix}{quote(LINE)} IS NOT NULL THEN "
            f"json_object({cells + ', ' if cells else ''}'_line', {prefix}{quote(LINE)})"
        )
    whole = f"json_object({cells})" if cells else "NULL::JSON"
    return f"CASE {' '.join(branches)} ELSE {whole} END" if branches else whole


def parquet_columns(con, file: str | Path) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            f"SELECT name FROM parquet_schema({literal(str(file))}) WHERE num_children IS NULL"
        ).fetchall()
    ]


def keep_raw(con, feed: Feed, batch: LandedBatch) -> None:
    """Inside the load's transaction: link the batch's landed file into raw history and make raw.<feed>
    cover the columns it brought. Linking again (a load retried after a crash) replaces the link."""
    landed = records_file(batch)
    assert landed is not None  # load_batch keeps only batches with records (it records the others as failed)
    target = raw_file(feed, batch.batch_id)
    if not is_object_storage(target):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    _migrate_table(con, feed)
    if is_object_storage(target):  # an object is written whole or not at all
        con.execute(f"COPY (SELECT * FROM read_parquet({literal(str(landed))})) TO {literal(target)} (FORMAT parquet)")
    else:
        file = Path(target)
        tmp = file.with_name(f".{file.name}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            os.link(landed, tmp)
        except OSError:  # another filesystem: copy instead
            shutil.copyfile(landed, tmp)
        os.replace(tmp, file)
    # The view is made again only when it would change (a replaced view is a catalog change, on DuckLake a
    # commit of its own: 0.1–0.25 s of a small load, measured): new columns, or raw history elsewhere.
    if _record_columns(con, feed, parquet_columns(con, target)) or not _view_reads(con, feed, _files(feed)):
        _create_view(con, feed)


def _record_columns(con, feed: Feed, columns: list[str]) -> int:
    """Remember the columns a feed's raw files hold (each once: the warehouse has no unique constraints); how
    many were new."""
    added = con.execute(
        "INSERT INTO ops.raw_columns (feed, name) SELECT DISTINCT $feed, name "
        "FROM (SELECT unnest($names::VARCHAR[]) AS name) "
        "WHERE name NOT IN (SELECT name FROM ops.raw_columns WHERE feed = $feed)",
        {"feed": feed.id, "names": columns},
    ).fetchall()
    return int(added[0][0]) if added else 0


def _files(feed: Feed) -> str:
    return literal(f"{paths().raw(feed.id)}/*.parquet")


def _view_reads(con, feed: Feed, files: str) -> bool:
    """Whether raw.<feed> is a view over these files."""
    sql = view_sql(con, "raw", feed.id)
    return sql is not None and files in sql


def _create_view(con, feed: Feed) -> None:
    columns = [
        name
        for (name,) in con.execute(
            "SELECT name FROM ops.raw_columns WHERE feed = ? ORDER BY name", [feed.id]
        ).fetchall()
    ]
    files = _files(feed)
    batch_id = "parse_filename(r.filename, true)"
    if LEGACY in columns:
        batch_id = f"coalesce(r.{quote(LEGACY)}, {batch_id})"
    con.execute(f"""
        CREATE OR REPLACE VIEW {raw_view(feed)} AS
        SELECT b.batch_id, b.feed, r.{quote(SOURCE_URI)} AS source_uri, b.checksum, b.received_at,
               r.{quote(SOURCE_ROW)} AS source_row, {record_sql([c for c in columns if c != LEGACY], "r")} AS record,
               x.first_batch_id AS repeat_of
        FROM read_parquet({files}, filename = true, union_by_name = true) AS r
        JOIN ops.batches AS b ON b.batch_id = {batch_id}
        LEFT JOIN ops.repeated_records AS x ON x.batch_id = b.batch_id AND x.source_uri = r.{quote(SOURCE_URI)}
                                               AND x.source_row = r.{quote(SOURCE_ROW)}
        WHERE b.feed = {literal(feed.id)}""")


def _migrate_table(con, feed: Feed) -> None:
    """A warehouse from before raw history moved to Parquet keeps it: the table's rows go to one file."""
    if not table_exists(con, "raw", feed.id) or is_view(con, "raw", feed.id):
        return
    target = f"{paths().raw(feed.id)}/{LEGACY}.parquet"
    con.execute(f"""
        COPY (SELECT batch_id AS {quote(LEGACY)}, source_uri AS {quote(SOURCE_URI)},
                     source_row AS {quote(SOURCE_ROW)}, record::VARCHAR AS {quote(RAW)}
              FROM raw.{quote(feed.id)}) TO {literal(str(target))} (FORMAT parquet)""")
    con.execute(f"DROP TABLE raw.{quote(feed.id)}")
    _record_columns(con, feed, [LEGACY, SOURCE_URI, SOURCE_ROW, RAW])
