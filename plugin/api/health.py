"""``/health`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from plugin.api.deps import ConnDep
from plugin.api.problems import UNAVAILABLE_RESPONSES
from plugin.metrics import database_metrics

router = APIRouter(tags=["health"], responses=UNAVAILABLE_RESPONSES)


@router.get("/health")
def health(conn: ConnDep) -> dict[str, str]:
    """Liveness and database reachability."""
    conn.execute("SELECT 1")
    return {"status": "ok", "database": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics(conn: ConnDep) -> Response:
    """Prometheus metrics: this process's instruments and the database's gauges."""
    body = generate_latest() + database_metrics(conn)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
