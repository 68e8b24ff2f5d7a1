"""Where the book's files live, and the two notebook helpers every part of :mod:`prunegan.book` uses."""
from __future__ import annotations

from pathlib import Path

from ..core.store import REPO_ROOT

SOURCE = REPO_ROOT / "notebooks"
EXECUTED = REPO_ROOT / "book" / "executed"
#: Independent replicates of a chapter (``-p seed r``), outside the book: ``NN_name_seed<r>.ipynb``.
REPLICATES = REPO_ROOT / "book" / "replicates"
README = REPO_ROOT / "README.md"


def notebooks(source: Path = SOURCE) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` in execution order."""
    return sorted(p for p in source.glob("[0-9][0-9]_*.ipynb"))


def tags(cell) -> list[str]:
    """A notebook cell's tags (an empty list when it has none)."""
    return list(cell.get("metadata", {}).get("tags", []))
