"""``/``: a small page to upload a study and browse similar cases, and a jobs page."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    """The upload and results page."""
    page = resources.files("plugin.api").joinpath("static/index.html").read_text()
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
