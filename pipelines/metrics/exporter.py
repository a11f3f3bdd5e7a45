"""The Prometheus collector behind `ioc serve`: at each scrape it turns the published state file into
metric families (no warehouse access on the scrape path, so a scrape never waits for a writer), and
adds what only the exporter knows: the state's age and whether Airflow's scheduler is alive."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime

import httpx
import polars as pl
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from pipelines.declarations.loading import catalog
from pipelines.kpi.tree import ancestors
from pipelines.snapshots.files import read_state, state_file

log = logging.getLogger(__name__)
DEFAULT_AIRFLOW_HEALTH = "http://127.0.0.1:8080/api/v2/monitor/health"


class StateCollector(Collector):
    """Metric families from $IOC_HOME/metrics/state.json (re-read only when the file changes). With `units`,
    a series labelled with a unit is served only for those units: an exporter per province serves its own
    subtree, and the national Prometheus federates what it needs from each (one exporter for 34 provinces
    served 127,222 series in 0.9 s per scrape)."""

    def __init__(self, airflow_health_url: str | None = None, units: frozenset[str] | None = None):
        self.units = units
        self._cached: tuple[float, dict | None] = (-1.0, None)
        self._lock = threading.Lock()
        self.airflow = AirflowProbe(
            airflow_health_url or os.environ.get("IOC_AIRFLOW_HEALTH_URL", DEFAULT_AIRFLOW_HEALTH)
        )

    def state(self) -> dict | None:
        try:
            mtime = state_file().stat().st_mtime
        except FileNotFoundError:
            return None
        with self._lock:
            if mtime != self._cached[0]:
                self._cached = (mtime, read_state())
            return self._cached[1]

    def collect(self):
        state = self.state()
        up = GaugeMetricFamily("ioc_state_up", "1 if the exporter has a published state of the warehouse to serve.")
        up.add_metric([], 1.0 if state else 0.0)
        yield up
        if state:
            generated = GaugeMetricFamily(
                "ioc_state_timestamp_seconds", "When the served state was read from the warehouse."
            )
            generated.add_metric([], state["generated_at"])
            yield generated
            for family in state["families"]:
                kind = CounterMetricFamily if family["type"] == "counter" else GaugeMetricFamily
                metric = kind(family["name"], family["help"], labels=family["labels"])
                units = self.units
                at = family["labels"].index("unit") if units is not None and "unit" in family["labels"] else None
                for *labels, value in family["samples"]:
                    if at is None or (units is not None and labels[at] in units):
                        metric.add_metric([str(v) for v in labels], value)
                yield metric
        yield from self.airflow.families()


def subtree(root: str) -> frozenset[str]:
    """The unit and every unit under it, from the declared organisation tree (ValueError if unknown)."""

    units = catalog().org_units
    if units.get(root) is None:
        raise ValueError(f"unknown organisation unit {root!r} (see schemas/org_units.yaml)")
    return frozenset(ancestors(units).filter(pl.col("ancestor") == root)["unit_code"].to_list())


class AirflowProbe:
    """Airflow's scheduler heartbeat from the api-server's health endpoint, cached for 10 s."""

    def __init__(self, url: str):
        self.url, self._at = url, 0.0
        self._value: tuple[float, float | None] = (0.0, None)  # (up, the scheduler's heartbeat)

    def families(self):
        if time.monotonic() - self._at > 10:
            self._value, self._at = self._probe(), time.monotonic()
        up, heartbeat = self._value
        gauge = GaugeMetricFamily("ioc_airflow_up", "1 if Airflow's api-server answered its health check.")
        gauge.add_metric([], up)
        yield gauge
        if heartbeat is not None:
            gauge = GaugeMetricFamily(
                "ioc_airflow_scheduler_heartbeat_timestamp_seconds", "The Airflow scheduler's latest heartbeat."
            )
            gauge.add_metric([], heartbeat)
            yield gauge

    def _probe(self) -> tuple[float, float | None]:
        try:
            body = httpx.get(self.url, timeout=0.5).json()
        except (httpx.HTTPError, ValueError):
            return 0.0, None
        beat = (body.get("scheduler") or {}).get("latest_scheduler_heartbeat")
        return 1.0, datetime.fromisoformat(beat).timestamp() if beat else None
