"""The package's layers (``prunegan/__init__.py``): every import of a ``prunegan`` module, at module level
or inside a function, goes to the importer's own layer or one below it, and no two modules import each
other at module level."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "prunegan"
#: Layer of each top-level module or subpackage, lowest first (prunegan/__init__.py's docstring).
LAYERS = {"__init__": 0, "kernels": 0, "core": 0, "data": 1, "models": 1, "train": 1, "pruning": 2,
          "analysis": 3, "runs": 4, "gan": 5, "plots": 6, "cli": 7, "__main__": 7, "chapters": 7, "book": 8}


def _module(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    if top not in LAYERS:
        raise AssertionError(f"{module}: no layer for {top!r}; add it to LAYERS and prunegan/__init__.py")
    return LAYERS[top]


def imports(path: Path) -> list[tuple[str, bool]]:
    """``(prunegan module imported, at module level)`` for every import in ``path``."""
    tree, module = ast.parse(path.read_text()), _module(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    top_level = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names]
            out += [(n if _is_module(n) else target, id(node) in top_level) for n in names]
        elif isinstance(node, ast.Import):
            out += [(a.name, id(node) in top_level) for a in node.names]
    return [(t, top) for t, top in out if t == "prunegan" or t.startswith("prunegan.")]


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (LIB / rel).with_suffix(".py").exists() or (LIB / rel / "__init__.py").exists()


SOURCES = sorted(LIB.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(LIB)))
def test_no_module_imports_from_a_layer_above_its_own(path):
    mine = _layer(_module(path))
    upward = [t for t, _ in imports(path) if _layer(t) > mine]
    assert not upward, f"{_module(path)} (layer {mine}) imports from higher layers: {upward}"


def test_no_two_modules_import_each_other_at_module_level():
    graph = {_module(p): {t for t, top in imports(p) if top} for p in SOURCES}
    cycles = sorted({tuple(sorted((a, b))) for a, deps in graph.items() for b in deps
                     if b != a and a in graph.get(b, ()) and not a.startswith(b + ".")
                     and not b.startswith(a + ".")})
    assert not cycles, cycles


def test_the_layer_rule_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    fake = tmp_path / "prunegan" / "gan"
    fake.mkdir(parents=True)
    (tmp_path / "prunegan" / "plots").mkdir()
    (tmp_path / "prunegan" / "plots" / "__init__.py").write_text("")
    src = fake / "x.py"
    src.write_text("from ..core import counts\n\ndef f():\n    from ..plots import part2\n")
    monkeypatch.setattr(__import__(__name__), "LIB", tmp_path / "prunegan")
    found = imports(src)
    assert ("prunegan.core", True) in found and ("prunegan.plots", False) in found
    assert _layer("prunegan.plots") > _layer("prunegan.gan.x")
