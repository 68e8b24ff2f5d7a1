"""Figures: each function takes tidy data and returns a matplotlib Figure (part1: pruning sweeps and collapse;
part2: bank and GAN). :func:`glue_figure` puts a figure where a ``{glue:figure}`` directive shows it,
:func:`save_figure` into an image file that a page's ``{figure}`` directive includes."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt


def glue_figure(name: str, fig: plt.Figure, *, display: bool = True) -> None:
    """Glue ``fig`` under ``name`` for a ``{glue:figure}`` directive of the same notebook (myst-nb's
    glue, shown: scrapbook's reader skips such outputs, so the chapter's scraps stay readable), then
    close it so that the inline backend does not show it a second time. Tag the cell
    ``remove-output``: the figure then appears once, where the directive puts it, with its caption.
    ``display=False``: glued without being shown, for a ``{glue}`` directive of another page
    (``:doc:`` option; the summary notebook's figures for the findings page)."""
    try:
        from myst_nb import glue
    except ImportError as exc:
        raise ImportError("glue_figure is for the book's notebooks and needs myst-nb: "
                          'pip install "prunegan[book]" (or `make venv` in a checkout)') from exc

    glue(name, fig, display=display)
    plt.close(fig)


def save_figure(fig: plt.Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` (format from its suffix; folders created; written whole or not at all),
    then close it. For a page of the book that includes the image with a ``{figure}`` directive, which
    gives it a caption and alt text (a ``{glue}`` from another page gives neither)."""
    from ..core.store import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=path.suffix.lstrip(".").lower(), dpi=dpi,
                                               bbox_inches="tight"))
    plt.close(fig)
    return path
