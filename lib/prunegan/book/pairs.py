"""Notebook pairs: each ``notebooks/NN_name.py`` (jupytext py:percent text, the source to edit) and
``NN_name.ipynb`` (what papermill runs, committed without outputs) must hold the same cells."""
from __future__ import annotations

from pathlib import Path

from .layout import SOURCE, tags


def cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    """(type, source, tags) of every cell: what the two files of a pair must agree on."""
    return [(c.cell_type, c.source, tuple(tags(c))) for c in nb.cells]


def pair_differences(text: Path, ipynb: Path) -> list[str]:
    """How the notebook ``ipynb`` differs from its text file ``text`` (both read with jupytext):
    missing files, the number of cells, and each cell whose type, source or tags differ. Empty when
    the pair is in step."""
    import jupytext

    missing = [str(p) for p in (text, ipynb) if not p.exists()]
    if missing:
        return [f"missing {m}" for m in missing]
    a, b = cells(jupytext.read(text)), cells(jupytext.read(ipynb))
    out = []
    if len(a) != len(b):
        out.append(f"{text.name} has {len(a)} cells, {ipynb.name} {len(b)}")
    for i, ((type_a, source_a, tags_a), (type_b, source_b, tags_b)) in enumerate(zip(a, b), 1):
        if type_a != type_b:
            out.append(f"cell {i}: type differs ({type_a} / {type_b})")
        if source_a != source_b:
            lines_a, lines_b = source_a.splitlines(), source_b.splitlines()
            first = next((n for n, (p, q) in enumerate(zip(lines_a, lines_b), 1) if p != q),
                         min(len(lines_a), len(lines_b)) + 1)
            out.append(f"cell {i}: source differs (first differing line {first})")
        if tags_a != tags_b:
            out.append(f"cell {i}: tags differ ({list(tags_a)} / {list(tags_b)})")
    return out


def check_pairs(source: Path = SOURCE) -> dict[str, list[str]]:
    """Differences of every pair in ``source`` (a numbered .ipynb or .py without its other half
    counts too), by notebook name; only pairs that differ are listed."""
    names = sorted({p.stem for p in source.glob("[0-9][0-9]_*.ipynb")} |
                   {p.stem for p in source.glob("[0-9][0-9]_*.py")})
    found = {n: pair_differences(source / f"{n}.py", source / f"{n}.ipynb") for n in names}
    return {n: d for n, d in found.items() if d}
