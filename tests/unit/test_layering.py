"""The one-way layering: dicom_conversion <- models <- indexer <- plugin."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["dicom_conversion", "models", "indexer", "plugin"]
FORBIDDEN_IN_LOWER = {"fastapi", "pynetdicom", "uvicorn", "starlette", "typer"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def reads_environment(path: Path) -> bool:
    text = path.read_text()
    return "os.environ" in text or "os.getenv" in text or "getenv(" in text


@pytest.mark.parametrize("layer", LAYERS[:3])
def test_lower_layers_import_nothing_above_them(layer: str) -> None:
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    offenders = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in above or top in FORBIDDEN_IN_LOWER:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("layer", LAYERS[:3])
def test_lower_layers_do_not_read_the_environment(layer: str) -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / layer).rglob("*.py"))
        if reads_environment(p)
    ]
    assert not offenders, offenders


def test_every_layer_is_a_typed_package() -> None:
    for layer in LAYERS:
        assert (ROOT / layer / "__init__.py").is_file()
        assert (ROOT / layer / "py.typed").is_file()
