"""``/health`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from plugin.api.deps import ConnDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(conn: ConnDep) -> dict[str, str]:
    """Liveness and database reachability."""
    conn.execute("SELECT 1")
    return {"status": "ok", "database": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
