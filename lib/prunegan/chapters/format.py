"""How the chapters write numbers for a reader, in one place: accuracies (``0.912``), differences in
points with a real minus sign (``+1.2``, ``−0.3``) and their CIs, percentages (``90 %``), and a
formatted table as Markdown. A missing value is written ``–``.

Every chapter (Part 1's tables, chapter 6's report, the study's answer) formats through these, so the
same number reads the same everywhere in the book."""
from __future__ import annotations

import re

import pandas as pd

#: The real minus sign (U+2212) that a difference is written with.
MINUS = "−"
#: How a missing value (no run, no cell) is written.
MISSING = "–"


def acc(x) -> str:
    """An accuracy (fraction) as ``0.000``; ``–`` when missing."""
    return MISSING if x is None or pd.isna(x) else f"{float(x):.3f}"


def pts(x, digits: int = 1) -> str:
    """A difference in points with its sign and a real minus sign (``+1.2``, ``−0.3``); ``–`` when missing."""
    if x is None or pd.isna(x):
        return MISSING
    return f"{float(x):+.{digits}f}".replace("-", MINUS)


def pts_ci(value, low, high) -> str:
    """``+1.2 [−0.4, +2.8]``: a difference in points with its 95 % CI."""
    return f"{pts(value)} [{pts(low)}, {pts(high)}]"


def pct(share: float, digits: int = 0) -> str:
    """A share as a percentage with a space before the sign: ``0.9`` → ``90 %`` (``digits`` decimals)."""
    return f"{share:.{digits}%}".replace("%", " %")


_NUMBER = re.compile(r"^([+\-−]?\d[\d.,]*( %)?|–)$")


def markdown_table(df: pd.DataFrame) -> str:
    """``df`` as a Markdown table without its index: cells shown exactly as they are (format them first;
    ``"0.880"`` stays ``0.880``), columns of numbers right-aligned, a ``|`` in a cell or header escaped so
    that it does not split the column."""
    def esc(v):
        return v.replace("|", "\\|") if isinstance(v, str) else v
    cells = df.rename(columns=esc).map(esc)
    align = ["right" if len(cells) and all(_NUMBER.match(str(v)) for v in cells[c]) else "left"
             for c in cells]
    # disable_numparse: tabulate would otherwise re-read "0.880" as a number and print "0.88"
    return cells.to_markdown(index=False, disable_numparse=True, colalign=align)
