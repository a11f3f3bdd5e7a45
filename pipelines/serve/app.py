"""The HTTP app of `ioc serve`: /metrics for Prometheus and /healthz for liveness checks."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from pipelines.metrics.exporter import Refresher, StateCollector


def create_app(refresh: bool = True, airflow_health_url: str | None = None) -> FastAPI:
    registry = CollectorRegistry(auto_describe=False)
    collector = StateCollector(airflow_health_url)
    registry.register(collector)
    refresher = Refresher() if refresh else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if refresher is not None:
            refresher.start()
        yield
        if refresher is not None:
            refresher.stopping.set()

    app = FastAPI(title="IOC exporter", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> dict:
        state = collector.state()
        age = time.time() - state["generated_at"] if state else None
        return {"status": "ok", "state": "published" if state else "none yet",
                "state_age_seconds": round(age, 1) if age is not None else None}

    return app
