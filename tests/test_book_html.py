"""The built book as a reader sees it (prunegan.book.html_checks): each rule on small hand-written pages,
both sides, then every page of a built book (``_build/html``, when one exists)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from prunegan.book import html_checks as hc

REPO = Path(__file__).resolve().parents[1]
BUILT = REPO / "_build" / "html"


def page(body: str, article: bool = True) -> str:
    inner = f'<article class="bd-article" role="main">{body}</article>' if article else body
    return f'<html><body><nav><img src="logo.png" alt="logo.png"><p>1 epoch(s)</p></nav>{inner}</body></html>'


def rules(body: str, **kw) -> list[str]:
    return [f.rule for f in hc.check_html(page(body, **kw))]


def test_a_clean_page_passes_and_the_navigation_outside_the_article_is_not_read():
    assert rules("<p>retrained for 1 epoch; tp-lamp / l1 and 6 / 6 channels, at least 90 %.</p>") == []


@pytest.mark.parametrize("text", ["retrained for 1 epoch(s)", "3 layer(s) collapsed"])
def test_plural_residue_after_a_word_or_number(text):
    assert rules(f"<p>{text}</p>") == ["residue-plural"]
    assert rules(f"<p>{text.replace('(s)', 's')}</p>") == []


def test_a_name_twice_in_a_pair_is_residue_a_pair_of_two_names_or_numbers_is_not():
    assert rules("<p><code>tp-lamp-min1</code> / <code>tp-lamp-min1</code> tie</p>") == ["residue-pair"]
    assert rules("<p>tp-lamp-min1 / tp-lamp-min1 tie</p>") == ["residue-pair"]
    assert rules("<p>tp-lamp-min1 / tp-lamp-min2 tie</p>") == []
    assert rules("<p>kept 6 / 6 channels</p>") == []


def test_comparison_operators_in_prose_fail_in_code_or_math_they_pass():
    assert rules("<p>seed_sd CI high &lt;= 1.5</p>") == ["residue-comparison"]
    assert rules("<p>margin &gt;= 0</p>") == ["residue-comparison"]
    assert rules("<p>the rule <code>margin &gt;= 0</code></p><pre>if a &lt;= b:</pre>") == []
    assert rules('<p><span class="math notranslate">\\(a &lt;= b\\)</span></p>') == []


def test_a_markdown_table_printed_as_pipe_text_is_residue_a_rendered_table_or_code_is_not():
    assert rules("<p>| a | b |\n|---|:---:|\n| 1 | 2 |</p>") == ["residue-table"]
    assert rules("<p>| a | b |\n| -- | - |</p>") == []  # two dashes: not a delimiter row
    assert rules("<pre>|---|---|</pre><table><tr><th>a</th></tr><tr><td>1</td></tr></table>") == []


def test_a_page_without_an_article_is_read_whole():
    assert "residue-plural" in rules("<p>2 trial(s)</p>", article=False)


def table(columns: int, cell: str) -> str:
    head = "".join(f"<th>c{i}</th>" for i in range(columns))
    row = "".join(f"<td>{cell}</td>" for _ in range(columns))
    return f"<table class='dataframe'><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>"


def test_table_width_is_longest_cell_per_column_times_char_width_plus_padding():
    rows = [["a", "bbbb"], ["ccc", "d"]]
    assert hc.table_width_px(rows) == (3 + 4) * hc.CHAR_PX + 2 * hc.CELL_PAD_PX


def test_a_table_just_inside_the_column_passes_one_column_more_fails():
    cell = "0.123"  # 5 characters: 5 × 8 + 16 = 56 px per column
    per_column = len(cell) * hc.CHAR_PX + hc.CELL_PAD_PX
    fits = hc.COLUMN_PX // per_column
    assert fits * per_column <= hc.COLUMN_PX < (fits + 1) * per_column
    assert rules(table(fits, cell)) == []
    assert rules(table(fits + 1, cell)) == ["table-too-wide"]


FIG = '<figure class="align-default" id="fig-a"><img alt="{alt}" src="_images/a.png" />{cap}</figure>'


def test_a_figure_with_a_caption_and_real_alt_text_passes():
    cap = '<figcaption><p><span class="caption-text">Accuracy against sparsity.</span></p></figcaption>'
    assert rules(FIG.format(alt="Three lines of test accuracy falling with sparsity", cap=cap)) == []


def test_an_image_without_a_caption_fails_even_with_good_alt_text():
    assert rules(FIG.format(alt="Three lines of accuracy", cap="")) == ["figure-caption"]
    assert rules('<div class="output"><img alt="A learning curve" src="x.png"></div>') == ["figure-caption"]
    assert rules(FIG.format(alt="Three lines", cap="<figcaption> </figcaption>")) == ["figure-caption"]


@pytest.mark.parametrize("alt", ["", "../../_images/0f3c2a.png", "_images/a.svg", "book/executed/x"])
def test_alt_text_that_is_empty_or_a_file_path_fails(alt):
    cap = "<figcaption><p>A caption.</p></figcaption>"
    assert rules(FIG.format(alt=alt, cap=cap)) == ["figure-alt"]


def test_an_image_with_no_alt_attribute_fails():
    assert rules('<figure><img src="a.png"><figcaption>A caption.</figcaption></figure>') == ["figure-alt"]


def test_check_site_names_pages_and_raises_on_an_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="no HTML page"):
        hc.check_site(tmp_path)
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.html").write_text(page("<p>2 trial(s)</p>"))
    (tmp_path / "search.html").write_text(page("<p>2 trial(s)</p>"))  # Sphinx's own page: not read
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "b.html").write_text(page("<p>2 trial(s)</p>"))
    found = hc.check_site(tmp_path)
    assert [(f.page, f.rule) for f in found] == [("book/a.html", "residue-plural")]


#: The built book to read: ``PRUNEGAN_BOOK_HTML`` (e.g. a smoke build's ``_build/html``), else the
#: repository's ``_build/html`` (``make book``).
BOOK_HTML = Path(os.environ.get("PRUNEGAN_BOOK_HTML") or BUILT)


@pytest.mark.skipif(not BOOK_HTML.exists(), reason=f"no built book at {BOOK_HTML} (run `make book` first)")
def test_every_page_of_the_built_book_reads_cleanly():
    """Every page, every rule, no exceptions (all pass on the full build of 6b259f2, 2026-12-03)."""
    found = hc.check_site(BOOK_HTML)
    assert not found, "\n".join(map(str, found))
