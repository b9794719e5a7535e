"""The shape of the code, checked: no module reaches into another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "accounts",
    "orders",
    "refunds",
    "evidence",
    "disputes",
    "complaints",
    "dashboards",
    "demo",
    "portal",
    "tests",
    "benchmarks",
)


def project_modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def private_imports(path: Path) -> list[str]:
    """``from x import _name`` and ``import x._name`` found in one file."""
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            found += [
                f"{where}:{node.lineno} from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
            if node.module and any(
                part.startswith("_") and not part.startswith("__")
                for part in node.module.split(".")
            ):
                found.append(f"{where}:{node.lineno} from {node.module}")
        elif isinstance(node, ast.Import):
            found += [
                f"{where}:{node.lineno} import {alias.name}"
                for alias in node.names
                if any(p.startswith("_") and not p.startswith("__") for p in alias.name.split("."))
            ]
    return found


def test_the_scan_sees_a_private_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from disputes.services.guard import _hidden\nimport a._b\n")
    assert len(private_imports(sample)) == 2


def test_no_module_imports_another_modules_private_names():
    offenders = [line for path in project_modules() for line in private_imports(path)]
    assert offenders == [], "\n".join(offenders)
