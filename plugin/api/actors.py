"""Who did it, for the audit log: the person when a trusted reverse proxy names them,
else how the request was allowed.

With ``SIMCASE_API__TRUSTED_USER_HEADER`` set (for example ``X-Forwarded-User`` or
``Remote-User``), the value of that header is recorded as the actor of a search, a
reindex, an erasure or a "process again". Only set it when every request reaches the API
through a proxy that authenticates people and sets the header itself (removing any copy a
client sent); otherwise anyone could write any name into the audit log. Unset (the
default), or when the header is absent, the actor is ``admin token`` for the admin
endpoints and ``anonymous (loopback)`` / ``anonymous (remote)`` for searches.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request

from plugin.api.deps import AdminToken, SettingsDep

__all__ = ["MAX_ACTOR_LENGTH", "AdminActor", "SearchActor", "named_person"]

#: Longest person name kept (longer header values are cut).
MAX_ACTOR_LENGTH = 128


def named_person(request: Request, header: str | None) -> str | None:
    """The person the trusted header names (printable characters, at most
    :data:`MAX_ACTOR_LENGTH`), or None when no header is configured or it is empty."""
    if not header:
        return None
    value = request.headers.get(header, "")
    name = "".join(c for c in value if c.isprintable()).strip()[:MAX_ACTOR_LENGTH]
    return name or None


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _admin_actor(_: AdminToken, request: Request, settings: SettingsDep) -> str:
    return named_person(request, settings.api.trusted_user_header) or "admin token"


def _search_actor(request: Request, settings: SettingsDep) -> str:
    person = named_person(request, settings.api.trusted_user_header)
    if person:
        return person
    return "anonymous (loopback)" if _loopback(request) else "anonymous (remote)"


#: The actor of an admin action (the bearer token is checked first).
AdminActor = Annotated[str, Depends(_admin_actor)]
#: The actor of a search.
SearchActor = Annotated[str, Depends(_search_actor)]
