"""chapters.format: the one set of number formatters and the Markdown table every chapter uses."""
from __future__ import annotations

import pandas as pd

from prunegan.chapters import answer, part1
from prunegan.chapters import format as fmt
from prunegan.chapters.part2 import choices, report, tables


def test_numbers_read_as_the_book_writes_them():
    assert fmt.acc(0.91234) == "0.912" and fmt.acc(1) == "1.000"
    assert fmt.acc(float("nan")) == fmt.acc(None) == fmt.MISSING == "–"
    assert fmt.pts(-0.34) == "−0.3" and fmt.pts(1.25) == "+1.2" and fmt.pts(-1.234, 2) == "−1.23"
    assert fmt.pts(None) == fmt.pts(float("nan")) == "–"
    assert fmt.pts_ci(-1.0, -2.5, 0.5) == "−1.0 [−2.5, +0.5]"
    assert fmt.pct(0.9) == "90 %" and fmt.pct(0.125, 1) == "12.5 %"
    # the percentage equals Part 1's former f"{100 * s:.0f} %" at every sparsity of a 0.001 grid
    assert all(fmt.pct(i / 1000) == f"{100 * (i / 1000):.0f} %" for i in range(1001))


def test_markdown_table_right_aligns_numbers_keeps_them_as_written_and_escapes_pipes():
    md = fmt.markdown_table(pd.DataFrame({"a|b": ["0.880", "–"], "name": ["x|y", "z"]}))
    header, rule, first, _ = md.splitlines()
    assert "a\\|b" in header and "x\\|y" in first and "0.880" in first
    assert rule.split("|")[1].endswith(":") and not rule.split("|")[2].endswith(":")


def test_the_chapters_format_with_these_and_no_copy():
    assert tables.acc is fmt.acc and choices.pts is fmt.pts and tables.pct is fmt.pct
    assert not hasattr(report, "markdown_table") and answer.markdown_table is fmt.markdown_table
    assert part1.NO_RUN == fmt.MISSING
    assert not hasattr(answer, "points") and not hasattr(part1, "_acc") and not hasattr(part1, "_pct_label")
