"""The book's page for chapter 6's replicate 1 (``book/replicate1.ipynb``, in the table of contents):
a copy of ``book/replicates/06_gan_seed1.ipynb`` (``make replicate``) retitled as the replicate, with
its figure labels made its own; or, when the replicate has not been run, a page that says so and how
to run it. Written by ``python -m prunegan.book execute`` and ``replicate``, so that a fresh clone's
``make book`` builds whether or not ``make replicate`` ran."""
from __future__ import annotations

import re
from pathlib import Path

from ..core.store import REPO_ROOT, atomic_write
from .layout import REPLICATES

PAGE = REPO_ROOT / "book" / "replicate1.ipynb"
SEED = 1
TITLE = f"6 (replicate {SEED}). Chapter 6 with seed {SEED}: other networks, data split and seeds"
INTRO = (f"This is chapter 6 executed again with `seed={SEED}` (`make replicate`): other LeNet-5s, "
         "another split of the images into training, validation and test, and other seeds of every kind "
         "(banks, generators, critics, protocol pairs). Its numbers are an independent replicate of "
         "{doc}`executed/06_gan`; the findings page compares the two replicates' verdicts.")
PREFIX = f"replicate{SEED}-"
_NAME = re.compile(r"^(\s*:?name:\s*)(\S+)", re.M)
_REF = re.compile(r"(\{numref\}|\{ref\})`([^`<>]+)`")


def _relabel(text: str) -> str:
    """``text`` with every figure/target name and every reference to one prefixed by :data:`PREFIX`
    (two pages of the same book cannot share a label)."""
    text = _NAME.sub(lambda m: m.group(1) + PREFIX + m.group(2), text)
    return _REF.sub(lambda m: f"{m.group(1)}`{PREFIX}{m.group(2)}`", text)


def _retitle(text: str) -> str:
    """The first markdown cell with its ``# title`` replaced by :data:`TITLE` and :data:`INTRO`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# "):
            lines[i:i + 1] = [f"# {TITLE}", "", INTRO]
            return "\n".join(lines)
    return f"# {TITLE}\n\n{INTRO}\n\n{text}"


def write_page(replicates: Path = REPLICATES, page: Path = PAGE) -> Path:
    """Write :data:`PAGE` from ``replicates/06_gan_seed1.ipynb`` when it exists, else a placeholder
    page; returns the page's path."""
    import nbformat

    source = Path(replicates) / f"06_gan_seed{SEED}.ipynb"
    if source.exists():
        nb = nbformat.read(source, as_version=4)
        first = True
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            cell.source = _relabel(cell.source)
            if first:
                cell.source = _retitle(cell.source)
                first = False
    else:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(
            f"# {TITLE}\n\n{INTRO}\n\n**Replicate {SEED} has not been built in this copy of the book.** "
            "Run `make replicate`, then `make book` again, to add it here and to the findings page.")]
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                          "language": "python"})
    return atomic_write(Path(page), lambda tmp: nbformat.write(nb, tmp))
