"""Which KPI values the changes recorded in ops.kpi_pending (pipelines/warehouse/pending.py: what each load and
deadline refresh changed) make out of date, through the KPI dependency graph.

A KPI's numbers are recomputed for a period when rows of a table it reads (its measure's `from`, or a feed it
declares as a source) changed for a day within the period — for a snapshot, in any day: a snapshot counts every
row, for the current period. A query measure (it reads what it likes: ops.batches…) is recomputed after any
change. A ratio of two KPIs is recomputed for the periods either input was. The units are not narrowed: every
value rolls up into the watched unit (the province, or the nation), whose value needs every unit's rows of the
period, so a period is computed whole; only the rows that come out different are written (kpi/compute.py store).

A KPI whose inputs changed in any way (a batch of a feed it reads: its status, its quarantined rows, the feed's
freshness) judges its inputs again, for every period, from the numbers stored.
"""

from __future__ import annotations

import polars as pl

from pipelines.calendar.periods import Period
from pipelines.declarations.kpis import Kpi, QueryMeasure, RatioOfKpis, TableMeasure
from pipelines.declarations.loading import Catalog
from pipelines.kpi.trust import read_feeds
from pipelines.warehouse.pending import PENDING, ROWS

PENDING_SCHEMA = {
    "source": pl.String,
    "batch_id": pl.String,
    "what": pl.String,
    "unit_code": pl.String,
    "first_day": pl.Date,
    "last_day": pl.Date,
    "recorded_at": pl.Datetime("us", "UTC"),
}


def read_pending(con) -> pl.DataFrame:
    """ops.kpi_pending as it stands (what the computation will consume)."""
    frame = con.sql(f"SELECT * FROM {PENDING}").pl()
    return frame.with_columns(pl.col("recorded_at").dt.convert_time_zone("UTC")).cast(PENDING_SCHEMA)


def _table_name(name: str) -> str:
    """A measure's `from` as ops.kpi_pending names its source: a feed's id for clean.<feed>, else schema.table."""
    schema, _, table = name.rpartition(".")
    return table if schema in ("", "clean") else name


def number_sources(kpi: Kpi) -> set[str]:
    """The sources whose changed rows change the KPI's own numbers (not a ratio's: its inputs')."""
    m = kpi.measure
    if isinstance(m, TableMeasure):
        return {_table_name(m.from_), *kpi.sources}
    return set(kpi.sources)


def periods_to_recompute(kpi: Kpi, periods: list[Period], pending: pl.DataFrame) -> list[Period]:
    """The KPI's periods (of `periods`) whose numbers the pending changes make out of date."""
    if pending.is_empty() or isinstance(kpi.measure, RatioOfKpis):
        return []
    if isinstance(kpi.measure, QueryMeasure):
        return list(periods)
    rows = pending.filter((pl.col("what") == ROWS) & pl.col("source").is_in(sorted(number_sources(kpi))))
    if rows.is_empty():
        return []
    if kpi.is_snapshot or rows["first_day"].null_count() or rows["last_day"].null_count():
        return list(periods)
    spans = list(zip(rows["first_day"], rows["last_day"], strict=True))
    return [p for p in periods if any(first <= p.end and last >= p.start for first, last in spans)]


def inputs_changed(kpi: Kpi, catalog: Catalog, pending: pl.DataFrame) -> bool:
    """Whether anything pending concerns a feed or table the KPI reads (its inputs' health may differ)."""
    if pending.is_empty():
        return False
    if isinstance(kpi.measure, QueryMeasure):
        return True
    read = number_sources(kpi) | {f.id for f in read_feeds(kpi, catalog)}
    return bool(pending.filter(pl.col("source").is_in(sorted(read))).height)
