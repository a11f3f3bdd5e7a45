"""The wall's JSON API (`/api/…`), read from the published wall snapshot, never from the warehouse:
it answers while a load holds the warehouse. The page at `/` is built only on these endpoints. The one
exception, for auditors, reads a DuckLake snapshot of the past (read-only: it never waits on a writer).

    GET /api/summary                  counts for the header: KPI statuses, late reports, overdue tasks, stale feeds
    GET /api/units                    the organisation units (code, kind, parent, vi/en name, active)
    GET /api/kpis?unit=HP             one tile per KPI for a unit: its latest complete period (value, target, status,
                                      change, sparkline) and the period still running, to date and not judged
    GET /api/kpis/{kpi}?unit=HP       drill-down: the KPI for a unit and for each unit under it, worst first
    GET /api/reports                  expected reports, unit × period: on time, late (working days), missing…
    GET /api/tasks?state=&unit=       open directive tasks overdue (most late first) or due soon: the first 200
                                      (each unit's worst 50 of each), and how many there are
    GET /api/feeds                    per feed: freshness, latest batch, failing checks, quarantine reasons
    GET /api/kpis/{kpi}/as-of?at=2026-11-20&unit=HP
                                      the KPI's latest values as reported at that moment (a date: its end,
                                      Vietnam time), from the warehouse's snapshot then (DuckLake only)
    GET /api/wording                  the wording the pages show, per language and message id (pipelines/wording)
"""

from __future__ import annotations

import io
import tempfile
import threading
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from prometheus_client import CollectorRegistry

from pipelines.briefing.content import latest_complete_month, monthly
from pipelines.declarations.loading import catalog
from pipelines.kpi.explain import MAX_PAGE_SIZE, explain, write_csv
from pipelines.kpi.present import STATUS_ORDER, as_of_moment, latest
from pipelines.kpi.tree import upward
from pipelines.serve.auth import bearer
from pipelines.serve.submissions import Guard, may_read, outcome, receive
from pipelines.snapshots.files import read_wall, seconds_since, wall_file
from pipelines.warehouse import NoTimeTravel, WarehouseBusy, connect, table_exists
from pipelines.wording import DEFAULT, LANGUAGES, catalogue

NO_SNAPSHOT = (
    "no wall snapshot has been published yet ({file}): it is written after every load, deadline "
    "refresh and KPI run — run `make demo`, or `ioc ingest <feed>` then `ioc kpi compute`"
)


EXPLAIN_WAIT_SECONDS = 20  # how long an explain request waits for a load that holds the DuckDB file
EXPLAIN_MAX_PAGE = 1_000_000  # far beyond any value's records; keeps the page's SQL OFFSET a BIGINT


class WallView:
    """One version of the published wall, with its lookups (built once per version)."""

    def __init__(self, data: dict):
        self.data = data
        self.kpis = {k["id"]: k for k in data["kpis"]}
        self.units = {u["code"]: u for u in data["units"]}

    def kpi(self, kpi_id: str) -> dict:
        if kpi_id not in self.kpis:
            raise HTTPException(404, f"unknown KPI {kpi_id!r}; known: {', '.join(sorted(self.kpis))}")
        return self.kpis[kpi_id]

    def unit(self, code: str) -> dict:
        if code not in self.units:
            raise HTTPException(404, f"unknown organisation unit {code!r} (see /api/units)")
        return self.units[code]

    def parent(self, code: str) -> str | None:
        return self.units[code]["parent"] if code in self.units else None


class WallSnapshot:
    """The published wall data, re-read only when the file changes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._mtime = -1.0
        self._view: WallView | None = None

    def get(self) -> WallView:
        try:
            mtime = wall_file().stat().st_mtime
        except FileNotFoundError:
            raise HTTPException(503, NO_SNAPSHOT.format(file=wall_file())) from None
        with self._lock:
            if mtime != self._mtime:
                data = read_wall()
                if data is None:
                    raise HTTPException(503, NO_SNAPSHOT.format(file=wall_file()))
                self._mtime, self._view = mtime, WallView(data)
            assert self._view is not None  # read above the first time (no file's mtime is -1.0)
            return self._view


TASKS_SHOWN = 200  # tasks one answer lists (worst first); its counts give the totals


def _task_count(wall: dict, state: str, unit: str | None = None) -> int:
    """Tasks in that state (of one unit), from the snapshot's counts (or its list, in an older snapshot)."""
    counts = wall.get("task_counts")
    if counts is None:
        return sum(1 for t in wall["tasks"] if t["state"] == state and unit in (None, t["unit"]))
    return counts["units"].get(unit, {}).get(state, 0) if unit else counts[state]


def _stamp(wall: dict) -> dict:
    age = seconds_since(wall["generated_at"])
    assert age is not None  # every snapshot says when it was generated (collect_wall)
    return {
        "generated_at": wall["generated_at"],
        "age_seconds": round(age, 1),
        "timezone": wall["timezone"],
    }


def _definition(kpi: dict) -> dict:
    return {k: v for k, v in kpi.items() if k != "units"}


def _reading(kpi: dict, series: list[dict] | None) -> dict:
    """A unit's reading of a KPI: `current`, the period shown by default (the KPI's latest complete one), with
    what changed since the previous period and its sparkline (`history`, up to the period shown); and `running`,
    the period still running after it, if any — its value to date (`to_date`), not judged unless the KPI may be
    (status `running`)."""
    if not series:
        return {"current": None, "running": None, "change": None, "history": []}
    shown, pending = kpi.get("latest_period"), kpi.get("running_period")
    current = next((p for p in series if p["period"] == shown), None) if shown else series[-1]
    running = next((p for p in series if p["period"] == pending), None) if pending else None
    change = None
    if current and current["value"] is not None and current["previous_value"] is not None:
        change = current["value"] - current["previous_value"]
    return {
        "current": current,
        "running": running,
        "change": change,
        "history": [
            {"period": p["period"], "value": p["value"], "status": p["status"]}
            for p in series
            if current is None or p["period"] <= current["period"]
        ],
    }


def _status(reading: dict) -> str:
    return (reading["current"] or {}).get("status") or "no_data"


def _worst_first(kpi: dict):
    sign = 1 if kpi["direction"] == "higher_is_better" else -1

    def key(row: dict):
        current = row["current"] or {}
        value = current.get("value")
        return (
            STATUS_ORDER.get(current.get("status") or "no_data", 2),
            value is None,
            sign * value if value is not None else 0,
            row["unit"],
        )

    return key


def create_router(snapshot: WallSnapshot | None = None, registry: CollectorRegistry | None = None) -> APIRouter:
    snapshot = snapshot or WallSnapshot()
    guard = Guard(registry or CollectorRegistry(auto_describe=False))
    router = APIRouter(prefix="/api")

    @router.get("/summary")
    def summary() -> dict:
        view = snapshot.get()
        wall, province = view.data, view.data["province"]
        statuses = {s: 0 for s in STATUS_ORDER}
        for kpi in wall["kpis"]:  # each in the period shown: its latest complete one
            statuses[_status(_reading(kpi, kpi["units"].get(province)))] += 1
        cells = [(u["unit"], c["status"]) for r in wall["reports"] for u in r["units"] for c in u["cells"].values()]
        feeds = _feeds_now(wall)
        return {
            **_stamp(wall),
            "province": view.unit(province),
            "kpis": statuses,
            "reports": {
                "missing": sum(1 for _, s in cells if s == "missing"),
                "late": sum(1 for _, s in cells if s == "late"),
                "units_missing": sorted({u for u, s in cells if s == "missing"}),
            },
            "tasks": {state: _task_count(wall, state) for state in ("overdue", "due_soon")},
            "feeds": {
                "total": len(feeds),
                "stale": [f["id"] for f in feeds if f["stale"]],
                "failing": [f["id"] for f in feeds if f["latest_batch"] and f["latest_batch"]["status"] == "failed"],
            },
        }

    @router.get("/units")
    def units() -> dict:
        wall = snapshot.get().data
        return {**_stamp(wall), "province": wall["province"], "units": wall["units"]}

    @router.get("/kpis")
    def kpis(unit: str | None = Query(None, description="organisation unit code; the province by default")) -> dict:
        view = snapshot.get()
        code = unit or view.data["province"]
        scope = view.unit(code)
        tiles = []
        for kpi in view.data["kpis"]:
            children = [u for u in kpi["units"] if view.parent(u) == code]
            counts = {s: 0 for s in STATUS_ORDER}
            for child in children:
                counts[_status(_reading(kpi, kpi["units"][child]))] += 1
            tiles.append(
                {
                    **_definition(kpi),
                    **_reading(kpi, kpi["units"].get(code)),
                    "children": len(children),
                    "children_status": counts,
                }
            )
        return {**_stamp(view.data), "unit": scope, "path": _path(view, code), "kpis": tiles}

    @router.get("/kpis/{kpi_id}")
    def kpi_drill(kpi_id: str, unit: str | None = Query(None, description="the unit to drill into")) -> dict:
        view = snapshot.get()
        kpi = view.kpi(kpi_id)
        code = unit or view.data["province"]
        scope = view.unit(code)
        parents = {view.parent(u) for u in kpi["units"]}
        children = [
            {
                "unit": child,
                "name": view.units[child]["name"],
                "kind": view.units[child]["kind"],
                "has_children": child in parents,
                **_reading(kpi, series),
            }
            for child, series in kpi["units"].items()
            if view.parent(child) == code
        ]
        children.sort(key=_worst_first(kpi))
        return {
            **_stamp(view.data),
            "kpi": _definition(kpi),
            "unit": scope,
            "path": _path(view, code),
            **_reading(kpi, kpi["units"].get(code)),
            "children": children,
        }

    @router.get("/kpis/{kpi_id}/explain", response_model=None)
    def kpi_explain(
        kpi_id: str,
        unit: str | None = Query(None, description="organisation unit code; the province by default"),
        period: str | None = Query(None, description="a period key (2026-11); the latest by default"),
        page: int = Query(1, ge=1, le=EXPLAIN_MAX_PAGE),
        page_size: int = Query(50, ge=1, le=1000),
        format: Literal["json", "csv"] = Query("json", description="csv: every record, for a department"),
    ):
        """The records behind a KPI value, those that keep it off target first, with their lineage."""

        view = snapshot.get()
        kpi = view.kpi(kpi_id)  # an unknown KPI is a 404, as elsewhere
        code = unit or view.data["province"]
        view.unit(code)
        try:
            with connect(timeout=EXPLAIN_WAIT_SECONDS) as con:
                e = explain(con, catalog(), kpi_id, code, period, page, MAX_PAGE_SIZE if format == "csv" else page_size)
        except WarehouseBusy:
            raise HTTPException(
                503, "the warehouse is busy with a load: try again in a minute", headers={"Retry-After": "30"}
            ) from None
        except LookupError as exc:
            raise HTTPException(404, str(exc.args[0] if exc.args else exc)) from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        if format == "csv":
            out = io.StringIO()
            write_csv(e, out)
            name = f"{kpi_id}_{code}_{e.period}.csv"
            return Response(
                "\ufeff" + out.getvalue(),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        answer = {"kpi": _definition(kpi), "path": _path(view, code), **e.to_dict()}
        for role, part in e.inputs.items():  # a ratio of two KPIs: what each input is
            answer["inputs"][role]["kpi"] = _definition(view.kpi(part.kpi_id))
        return answer

    @router.get("/briefings/monthly", response_model=None)
    def briefing_monthly(
        period: str | None = Query(None, description="the month (2026-11); by default the latest month that has ended"),
        format: Literal["pdf", "xlsx"] = Query("pdf"),
    ):
        """The month's briefing for the leaders (as `ioc report monthly` writes it), to download."""

        from pipelines.briefing.files import write_files  # lazy: fpdf (1.5 s) only when a briefing is asked

        snapshot.get()  # 503 before anything is published, as elsewhere
        try:
            with connect(timeout=EXPLAIN_WAIT_SECONDS) as con:
                briefing = monthly(con, catalog(), period or latest_complete_month())
        except WarehouseBusy:
            raise HTTPException(
                503, "the warehouse is busy with a load: try again in a minute", headers={"Retry-After": "30"}
            ) from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        with tempfile.TemporaryDirectory() as folder:
            written = write_files(briefing, Path(folder))[format]
            body = written.read_bytes()
        media = (
            "application/pdf"
            if format == "pdf"
            else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        return Response(
            body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{written.name}"'}
        )

    @router.post(
        "/submissions/{feed_id}",
        status_code=202,
        response_model=None,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    }
                },
            }
        },
    )
    async def submission(
        feed_id: str,
        request: Request,
        authorization: str | None = Header(None, description="Bearer <the department's token>"),
    ):
        """A department sends its report file (multipart field `file`): accepted into the inbox, or refused
        with why, in Vietnamese and English. The feed, the token and the declared size are checked from the
        headers before the body is read; the body goes to disk as it arrives, cut at the feed's max_bytes.
        Failed authentications are throttled; both outcomes are recorded in ops.submissions."""
        return await receive(feed_id, request, authorization, guard)

    @router.get("/submissions/{submission_id}")
    def submission_outcome(
        submission_id: str,
        authorization: str | None = Header(
            None, description="Bearer <the token it was sent with, or the centre's operator token>"
        ),
    ):
        """What became of a submission (for the unit that sent it, or the centre's operator): refused (why),
        waiting in the inbox, or its batch's outcome. No token: 401; another unit's submission: 404."""

        allowed, unit = may_read(catalog(), bearer(authorization))
        if not allowed:
            raise HTTPException(
                401,
                "send 'Authorization: Bearer <token>': the token the submission was sent with, "
                "or the centre's operator token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            with connect(timeout=EXPLAIN_WAIT_SECONDS) as con:
                found = outcome(con, catalog(), submission_id, unit)
        except WarehouseBusy:
            raise HTTPException(
                503, "the warehouse is busy with a load: try again in a minute", headers={"Retry-After": "30"}
            ) from None
        if found is None:
            raise HTTPException(404, f"unknown submission {submission_id!r}")
        return found

    @router.get("/kpis/{kpi_id}/as-of")
    def kpi_as_of(
        kpi_id: str,
        at: str = Query(..., description="a date (its end, Vietnam time) or an ISO date and time"),
        unit: str | None = Query(None, description="one unit; every unit by default"),
    ) -> dict:

        snapshot.get().kpi(kpi_id)  # an unknown KPI is a 404, as elsewhere
        try:
            moment = as_of_moment(at)
        except ValueError as exc:
            raise HTTPException(400, f"at={at!r}: {exc}") from None
        try:
            with connect(as_of=moment) as con:
                computed = table_exists(con, "marts", "kpi_values")
                rows = latest(con, kpi_id, unit).to_dicts() if computed else []
        except NoTimeTravel as exc:
            raise HTTPException(409, str(exc)) from None
        return {"kpi_id": kpi_id, "as_of": moment.isoformat(), "unit": unit, "values": rows}

    @router.get("/reports")
    def reports() -> dict:
        wall = snapshot.get().data
        return {**_stamp(wall), "feeds": wall["reports"]}

    @router.get("/tasks")
    def tasks(state: Literal["overdue", "due_soon"] | None = None, unit: str | None = None) -> dict:
        view = snapshot.get()
        if unit is not None:
            view.unit(unit)
        rows = [
            t
            for t in view.data["tasks"]
            if (state is None or t["state"] == state) and (unit is None or t["unit"] == unit)
        ]
        counts = {s: _task_count(view.data, s, unit) for s in ("overdue", "due_soon") if state in (None, s)}
        return {**_stamp(view.data), "tasks": rows[:TASKS_SHOWN], "counts": counts}

    @router.get("/feeds")
    def feeds() -> dict:
        wall = snapshot.get().data
        return {**_stamp(wall), "feeds": _feeds_now(wall), "checks": wall["checks"]}

    @router.get("/wording")
    def wording(response: Response) -> dict:
        """The platform's wording in every language (pipelines/wording's catalogues), by message id: the words
        the wall's pages show. A message with plural forms in a language that has them is the list of its forms
        (English: one, other). It changes only with a release: the browser revalidates it (no-cache)."""
        response.headers["Cache-Control"] = "no-cache"
        return {
            "default": DEFAULT,
            "languages": list(LANGUAGES),
            "messages": {lang: catalogue(lang) for lang in LANGUAGES},
        }

    return router


def _feeds_now(wall: dict) -> list[dict]:
    """Each feed with its freshness as of now (the snapshot may be a minute old)."""
    rows = []
    for feed in wall["feeds"]:
        age = seconds_since(feed["last_success_at"])
        limit = feed["stale_after_seconds"]
        rows.append(
            {
                **feed,
                "success_age_seconds": round(age) if age is not None else None,
                "stale": limit is not None and (age is None or age > limit),
            }
        )
    return rows


def _path(view: WallView, code: str) -> list[dict]:
    """The unit and its ancestors up to the unit the centre watches, that one first (the drill-down's
    breadcrumb): a province centre's wall starts at its province, not at the nation above it."""
    above = set(upward(view.data["province"], view.parent)[1:])  # the nation, for a province centre
    return [
        {"code": u["code"], "name": u["name"], "kind": u["kind"]}
        for u in map(view.unit, upward(code, view.parent))
        if u["code"] not in above
    ][::-1]
