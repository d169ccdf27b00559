"""Who did it, for the audit log: the person when a trusted reverse proxy names them,
else how the request was allowed.

With ``SIMCASE_API__TRUSTED_USER_HEADER`` set (for example ``X-Forwarded-User`` or
``Remote-User``), the value of that header is recorded as the actor of a search, a
reindex, an erasure or a "process again" (for searches the header is also a credential,
see :data:`plugin.api.deps.SearchCredential`; admin actions still need the admin token).
Only set it when every request reaches the API through a proxy that authenticates people
and sets the header itself (removing any copy a client sent); otherwise anyone could write
any name into the audit log. Unset (the
default), or when the header is absent, the actor is ``admin token`` for the admin
endpoints and ``search token`` or ``anonymous (loopback)`` / ``anonymous (remote)`` (no
search credential configured, loopback only) for searches.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from plugin.api.deps import AdminToken, SearchCredential, SettingsDep, admin_actor

__all__ = ["AdminActor", "SearchActor"]


def _admin_actor(_: AdminToken, request: Request, settings: SettingsDep) -> str:
    return admin_actor(request, settings)


#: The actor of an admin action (the bearer token is checked first).
AdminActor = Annotated[str, Depends(_admin_actor)]
#: The actor of a search: the search credential's check names it
#: (:data:`plugin.api.deps.SearchCredential`).
SearchActor = SearchCredential
