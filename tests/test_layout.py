"""The package layout and the one-way dependency rule of the design.

``exchange``, ``ledger`` <- ``p2p_env`` <- ``agents`` <- ``experiments``; the CLI
(``p2p_env/cli``) is the composition root and may reach ``agents`` only inside functions.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("exchange", "ledger", "p2p_env", "agents")
FIRST_PARTY = {*PACKAGES, "experiments"}

# Which first-party packages each package may import at module level.
ALLOWED = {
    "exchange": {"exchange"},
    "ledger": {"ledger"},
    "p2p_env": {"p2p_env", "exchange", "ledger"},
    "agents": {"agents", "p2p_env", "exchange", "ledger"},
}


def _imports(path: Path, *, module_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_top_level_layout() -> None:
    for name in (*PACKAGES, "configs", "experiments", "tests", "pyproject.toml", "README.md"):
        assert (ROOT / name).exists(), f"missing {name} at the repository root"
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), f"{package} does not ship py.typed"


@pytest.mark.parametrize("package", PACKAGES)
def test_dependency_direction(package: str) -> None:
    allowed = ALLOWED[package]
    for path in _sources(package):
        is_cli = package == "p2p_env" and "cli" in path.relative_to(ROOT).parts
        # Inside functions anything goes for the CLI; at module level it follows p2p_env's rule.
        used = _imports(path, module_level_only=is_cli) & FIRST_PARTY
        bad = used - allowed
        assert not bad, (
            f"{path.relative_to(ROOT)} imports {sorted(bad)}; {package} may use {sorted(allowed)}"
        )


def test_nothing_imports_the_cli() -> None:
    for package in PACKAGES:
        for path in _sources(package):
            if "cli" in path.relative_to(ROOT).parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            modules = {
                alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
            }
            modules |= {
                n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
            }
            bad = sorted(m for m in modules if m == "p2p_env.cli" or m.startswith("p2p_env.cli."))
            assert not bad, f"{path.relative_to(ROOT)} imports the CLI: {bad}"


@pytest.mark.parametrize("package", ["exchange", "ledger"])
def test_pure_libraries_import_nothing_heavy(package: str) -> None:
    """An auditor can use exchange/ledger without torch, ray, pandas or the RL stack loaded."""
    heavy = [
        "torch",
        "ray",
        "stable_baselines3",
        "gymnasium",
        "pettingzoo",
        "pandas",
        "scipy",
        "pydantic",
        "p2p_env",
        "agents",
        "numba",
    ]
    # The compiled kernels (private modules named ``_*_kernel``) bring numba, which loads
    # scipy; they are imported only when a kernel first runs, and checked below.
    code = (
        f"import sys, importlib, pkgutil; import {package}\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    if not m.name.rpartition('.')[2].endswith('_kernel'):\n"
        "        importlib.import_module(m.name)\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    assert out == "[]", f"importing {package} loaded {out}"


def test_kernels_import_only_numba_and_numpy() -> None:
    """A compiled kernel's module is the one place numba enters the pure libraries."""
    kernels = [p for package in ("exchange", "ledger") for p in _sources(package)]
    kernels = [p for p in kernels if p.stem.startswith("_") and p.stem.endswith("_kernel")]
    assert {p.stem for p in kernels} >= {"_sha_kernel", "_cda_kernel"}
    for path in kernels:
        package = path.relative_to(ROOT).parts[0]
        used = _imports(path, module_level_only=False)
        extra = used - {"__future__", "typing", "numba", "numpy", package}
        assert not extra, f"{path.relative_to(ROOT)} imports {sorted(extra)}"
    for path in (p for package in ("exchange", "ledger") for p in _sources(package)):
        if path in kernels:
            continue
        # Elsewhere numba is never imported at module level (only inside the loaders).
        assert "numba" not in _imports(path, module_level_only=True), path
