"""The HTTP app of `ioc serve`: the operations-centre wall at `/` (static page on the JSON API under
`/api/`), the departments' upload page at `/submit`, /metrics for Prometheus, and /healthz for liveness
checks. The wall's views and /metrics never open the warehouse: they are read from the snapshots its
writers publish. Explaining a value, the monthly briefing and submissions do, waiting for a running load."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from fastapi import FastAPI, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from pipelines.declarations.loading import catalog
from pipelines.metrics.exporter import StateCollector, subtree
from pipelines.serve.api import create_router
from pipelines.serve.body_limit import BodyLimit
from pipelines.serve.submissions import submission_rules
from pipelines.serve.upload import PART_OVERHEAD

STATIC = Path(__file__).with_name("static")


def body_limit() -> int:
    """The largest body any route takes: the largest file a feed accepts as a submission, with its form's parts
    (1 MiB without any: the other routes take no body)."""

    sizes = [rules.max_bytes for f in catalog().feeds.values() if (rules := submission_rules(f)) is not None]
    return max(sizes, default=0) + max(PART_OVERHEAD, 1 << 20)


class Background(Protocol):
    """Work that runs beside the app while it serves (the command line gives the snapshots' refresher)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_app(
    airflow_health_url: str | None = None, units: str | None = None, beside: Sequence[Background] = ()
) -> FastAPI:
    """The wall, its API and /metrics; with `units` (a unit's code), /metrics serves that unit's subtree only.
    What runs `beside` is started with the app and stopped with it."""
    registry = CollectorRegistry(auto_describe=False)
    collector = StateCollector(airflow_health_url, subtree(units) if units else None)
    registry.register(collector)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        for work in beside:
            work.start()
        yield
        for work in beside:
            work.stop()

    app = FastAPI(
        title="IOC wall and exporter", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json", lifespan=lifespan
    )
    app.include_router(create_router(registry=registry))
    app.add_middleware(BodyLimit, max_bytes=body_limit())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def wall() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/submit", include_in_schema=False)
    def submit_page() -> FileResponse:
        return FileResponse(STATIC / "submit.html", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> dict:
        state = collector.state()
        age = time.time() - state["generated_at"] if state else None
        return {
            "status": "ok",
            "state": "published" if state else "none yet",
            "state_age_seconds": round(age, 1) if age is not None else None,
        }

    return app
