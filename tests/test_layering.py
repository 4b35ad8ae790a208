"""Imports point downward only, and only the ort-training backend touches onnxruntime.training.

The layering (cli → federated → runtime → backends → convert → builder → reference/datasets → spec
→ _proto) is what lets another training backend replace ONNX Runtime, or the CLI be skipped
entirely; a test keeps it from eroding one convenient import at a time.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlspec"
ORDER = [
    "cli",
    "federated",
    "runtime",
    "backends",
    "convert",
    "builder",
    "reference",
    "datasets",
    "spec",
    "_proto",
]
ORT_TRAINING = PACKAGE / "backends" / "ort_training"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _layer(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def test_every_subpackage_is_placed_in_the_layering() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(ORDER)


def test_imports_point_downward_only() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(path)
        if layer is None or layer == "_proto":
            continue
        for module in _imports(path):
            parts = module.split(".")
            inside = parts[0] == "mlspec" and len(parts) > 1 and parts[1] in ORDER
            if inside and ORDER.index(parts[1]) < ORDER.index(layer):
                upward.append(f"{path.relative_to(PACKAGE.parent)} imports {module}")
    assert upward == []


def test_only_the_ort_backend_imports_onnxruntime_training() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if ORT_TRAINING not in path.parents
        for module in _imports(path)
        if module.split(".")[:2] == ["onnxruntime", "training"]
    ]
    assert offenders == []
