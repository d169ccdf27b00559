"""Command-line tools the tests run: a missing one fails the test, it never skips."""

from __future__ import annotations

import shutil

import pytest

__all__ = ["require_tool"]


def require_tool(name: str, install: str) -> str:
    """The path of the tool ``name``; the test fails with how to install it when missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: {install}")
    return path
