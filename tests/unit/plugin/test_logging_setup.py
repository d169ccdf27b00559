"""configure_logging: simcase's own loggers at the level asked for, chatty libraries at
WARNING even under ``--verbose`` (their DEBUG lines drown simcase's)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from plugin.logging_setup import configure_logging


@pytest.fixture
def fresh_root() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, root.__dict__.pop("_simcase_configured", None))
    root.handlers.clear()
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        root.__dict__.pop("_simcase_configured", None)
        if saved[2] is not None:
            root._simcase_configured = saved[2]  # type: ignore[attr-defined]


@pytest.mark.usefixtures("fresh_root")
def test_verbose_keeps_library_chatter_at_warning() -> None:
    configure_logging("DEBUG", rich=False)
    assert logging.getLogger("plugin.dicom.listener").getEffectiveLevel() == logging.DEBUG
    for library in ("httpcore", "httpx", "pynetdicom", "procrastinate", "uvicorn.access"):
        assert logging.getLogger(library).getEffectiveLevel() == logging.WARNING, library
