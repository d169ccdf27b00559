"""The REST API (FastAPI): health, metrics, admin and search."""

from plugin.api.app import create_app

__all__ = ["create_app"]
