"""The API's access log, and the last resort for bugs.

One line per request on the logger ``plugin.api.access``: method, path, status,
duration and actor (as the audit log names it), at INFO for ``/api/`` (admin and
search requests) and DEBUG for the rest (``/health``, ``/metrics``, the page), WARNING
for a 5xx. uvicorn's own access log is off: it writes the whole query string.

No patient data: the path is the route's template with only DICOM UIDs and job ids
filled in (``/api/v1/admin/cases/{case_id}``, ``/api/v1/studies/1.2.3/search``), and
the query string shows its parameters' names, with values only for those that cannot
carry a patient's name or ID (``k``, ``limit``, ...); ``exclude_patient``,
``metadata``, ``diagnosis`` and the rest show as ``name=~``. A path that matches no
route is logged as ``(no route)``.

An exception that no handler answered (a bug) becomes a 500 problem detail here, and
is logged with the frames of its traceback but not its message, which may quote data.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plugin.api.problems import problem_response
from plugin.dicom.uids import is_dicom_uid

__all__ = ["AccessLog"]

log = logging.getLogger("plugin.api.access")

#: Path parameters whose value is logged (when it is a DICOM UID or a number).
LOGGED_PATH_PARAMETERS = frozenset({"study_instance_uid", "job_id"})
#: Query parameters whose value is logged; the others show as ``name=~``.
LOGGED_QUERY_PARAMETERS = frozenset(
    {"k", "per_diagnosis", "limit", "offset", "images", "use_given_mask", "sequence"}
    | {"exclude_own_patient"}
)
_MAX_QUERY = 200


def logged_path(scope: Scope) -> str:
    """The request's path as it may be logged: its route's template, with only DICOM
    UIDs and job ids filled in; ``(no route)`` when none matched."""
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    if not isinstance(template, str):
        return "(no route)"
    params: dict[str, Any] = scope.get("path_params") or {}
    for name, value in params.items():
        if name in LOGGED_PATH_PARAMETERS and is_dicom_uid(str(value)):
            template = template.replace("{" + name + "}", str(value))
    return template


def logged_query(scope: Scope) -> str:
    """The query string with only the values of :data:`LOGGED_QUERY_PARAMETERS`."""
    raw = bytes(scope.get("query_string") or b"").decode("latin-1")
    shown = [
        f"{name}={value}" if name in LOGGED_QUERY_PARAMETERS and value.isalnum() else f"{name}=~"
        for name, value in parse_qsl(raw, keep_blank_values=True)
        if name.isidentifier()
    ]
    text = "&".join(shown)
    return ("?" + text[:_MAX_QUERY]) if text else ""


def _actor(scope: Scope) -> str:
    state = scope.get("state")
    actor = state.get("actor") if isinstance(state, dict) else None
    return str(actor) if actor else "-"


def _log_bug(scope: Scope, exc: BaseException) -> None:
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    log.error(
        "unexpected %s answering %s %s (a bug; the message is not logged: it may quote"
        " data)\nTraceback (most recent call last):\n%s",
        type(exc).__name__,
        scope.get("method", "?"),
        logged_path(scope),
        frames.rstrip("\n"),
    )


class AccessLog:
    """ASGI middleware: the access log line of every HTTP request, and a 500 problem
    detail for an exception nothing else answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except Exception as exc:
            _log_bug(scope, exc)
            if status:  # the answer had begun: nothing more can be said to the client
                raise
            response = problem_response(500, "internal error; it is logged on the server")
            await response(scope, receive, recording_send)
        finally:
            self._line(scope, status[0] if status else 500, time.perf_counter() - started)

    @staticmethod
    def _line(scope: Scope, status: int, seconds: float) -> None:
        path = str(scope.get("path", ""))
        level = logging.INFO if path.startswith("/api/") else logging.DEBUG
        if status >= 500:
            level = logging.WARNING
        if log.isEnabledFor(level):
            log.log(
                level,
                "%s %s%s %d %.0f ms actor=%s",
                scope.get("method", "?"),
                logged_path(scope),
                logged_query(scope),
                status,
                seconds * 1000,
                _actor(scope),
            )
