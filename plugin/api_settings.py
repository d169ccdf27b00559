"""The REST API's settings (:class:`ApiSettings`) and the checks that refuse to serve
it off loopback with a default or short admin token or open search endpoints."""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import BaseModel, Field, field_validator

from plugin.errors import ConfigurationError

__all__ = [
    "DEFAULT_ADMIN_TOKEN",
    "MIN_ADMIN_TOKEN_LENGTH",
    "MIN_SEARCH_TOKEN_LENGTH",
    "ApiSettings",
    "is_loopback_host",
]

DEFAULT_ADMIN_TOKEN = "change-me"

#: The shortest admin token accepted when the API listens off loopback.
MIN_ADMIN_TOKEN_LENGTH = 24
#: The shortest search token accepted when the API listens off loopback.
MIN_SEARCH_TOKEN_LENGTH = 24


class ApiSettings(BaseModel):
    """The REST API (``simcase api``)."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    admin_token: str = DEFAULT_ADMIN_TOKEN
    #: Bearer token of the endpoints that show archive images or patient-derived data
    #: (search, image search, a case's pictures, the archive map). Unset, with no
    #: ``trusted_user_header`` either: those endpoints are open, which only a loopback
    #: address allows.
    search_token: str | None = None
    #: A request header set by the hospital's sign-on reverse proxy (``X-Forwarded-User``,
    #: ``Remote-User``) naming the signed-in user: a request carrying it (not empty) may
    #: search, and the person is recorded as the actor in the audit log (searches and,
    #: beside the admin token, admin actions). Only safe when the API can be reached
    #: through that proxy alone, which strips the header from what clients send. Unset
    #: (default): never read; actors are "admin token", "search token" or "anonymous (...)".
    trusted_user_header: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$"
    )
    #: Largest request body of an upload (``POST /api/v1/search``), enforced while it
    #: streams in: 413 beyond it.
    max_upload_bytes: int = Field(1024 * 1024 * 1024, ge=1024, le=64 * 1024**3)
    #: Largest size an upload may reach once its ``.zip`` and ``.gz`` files are
    #: decompressed, counted as they stream out: 413 beyond it (a zip or gzip bomb).
    max_uncompressed_bytes: int = Field(2 * 1024**3, ge=1024, le=256 * 1024**3)
    #: How long a request waits for a database connection before it is answered 503
    #: (PostgreSQL down or every connection busy).
    database_wait_seconds: float = Field(10.0, gt=0, le=300)

    @field_validator("search_token", "trusted_user_header", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def search_open(self) -> bool:
        """No search credential configured: the search endpoints answer anyone."""
        return self.search_token is None and self.trusted_user_header is None

    def check_safe(self) -> None:
        """Off a loopback address, refuse the default admin token, any admin token
        shorter than :data:`MIN_ADMIN_TOKEN_LENGTH` characters, and search endpoints
        without a credential (a search token of at least :data:`MIN_SEARCH_TOKEN_LENGTH`
        characters, or a trusted reverse-proxy header)."""
        if is_loopback_host(self.host):
            return
        self._check_admin_token()
        self._check_search_credential()

    def _check_admin_token(self) -> None:
        if self.admin_token == DEFAULT_ADMIN_TOKEN:
            raise ConfigurationError(
                f"refusing to serve the API on {self.host} with the default admin token: "
                "set SIMCASE_API__ADMIN_TOKEN to a secret"
            )
        if len(self.admin_token.strip()) < MIN_ADMIN_TOKEN_LENGTH:
            raise ConfigurationError(
                f"refusing to serve the API on {self.host} with an admin token of "
                f"{len(self.admin_token.strip())} characters: set SIMCASE_API__ADMIN_TOKEN "
                f"to a secret of at least {MIN_ADMIN_TOKEN_LENGTH} (openssl rand -hex 24)"
            )

    def _check_search_credential(self) -> None:
        if self.search_open:
            raise ConfigurationError(
                f"refusing to serve the API on {self.host} with open search endpoints (they "
                "show archive images): set SIMCASE_API__SEARCH_TOKEN to a secret "
                "(openssl rand -hex 24) and/or SIMCASE_API__TRUSTED_USER_HEADER to the header "
                "your sign-on proxy sets (X-Forwarded-User)"
            )
        if self.search_token is not None and len(self.search_token.strip()) < (
            MIN_SEARCH_TOKEN_LENGTH
        ):
            raise ConfigurationError(
                f"refusing to serve the API on {self.host} with a search token of "
                f"{len(self.search_token.strip())} characters: set SIMCASE_API__SEARCH_TOKEN "
                f"to a secret of at least {MIN_SEARCH_TOKEN_LENGTH} (openssl rand -hex 24)"
            )


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP address (v4 or v6)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
