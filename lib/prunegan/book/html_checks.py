"""Checks of the built HTML book as a reader sees it: template residue in the prose, tables wider than
the text column, figures without a caption or with a file path for alt text.

Only the page's main content counts (``<article class="bd-article">`` of sphinx-book-theme; the whole
``<body>`` when a page has none). Prose is its text outside ``pre``, ``code``, ``kbd``, ``samp``,
``script``, ``style`` and math (``span.math``, ``div.math``).

Table width rule (estimated, not rendered): every column is as wide as its longest cell (header cells
included) at :data:`CHAR_PX` per character plus :data:`CELL_PAD_PX` of padding; a table whose columns
add up to more than :data:`COLUMN_PX` overflows the default theme's text column at a 1400 px window
(``book/_static/prunegan.css`` keeps cells on one line, at 0.85 em of the 16 px base font: about 7 px
per average character; :data:`CHAR_PX` = 8 leaves a margin for digits and capitals).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

#: Width of the text column of Jupyter Book 1.x's default theme at a 1400 px window, in px.
COLUMN_PX = 780
#: Estimated width of one character of a table cell, and the horizontal padding of one cell, in px.
CHAR_PX = 8
CELL_PAD_PX = 16
#: The rules, by name (each finding names one).
RULES = ("residue-plural", "residue-pair", "residue-comparison", "residue-table", "table-too-wide",
         "figure-caption", "figure-alt")

_HIDDEN_TAGS = {"pre", "script", "style"}  # never prose (math: by class)
_CODE_TAGS = {"code", "kbd", "samp"}  # inline code: read for residue, not for comparison operators
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_PATHLIKE = re.compile(r"(^|/)[\w.\-]+\.(png|jpe?g|gif|svg|webp|pdf)$|^[./\w\-]*/[./\w\-]*$", re.I)


@dataclass
class Finding:
    """One failed rule on one page: ``rule`` (one of :data:`RULES`) and what was found."""
    page: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.rule}: {self.detail}"


@dataclass
class _Figure:
    caption: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # alt texts


class _Page(HTMLParser):
    """Collects the main content's prose, tables (rows of cell texts) and images (alt, caption)."""

    def __init__(self, has_article: bool):
        super().__init__(convert_charrefs=True)
        self.has_article = has_article
        self.stack: list[tuple[str, bool, bool, bool]] = []  # (tag, in main content, hidden, code)
        self.prose: list[str] = []  # text outside any code
        self.text: list[str] = []  # text with inline code
        self.tables: list[list[list[str]]] = []
        self.images: list[tuple[str | None, str | None]] = []  # (alt, caption text) per img
        self._cell: list[str] | None = None
        self._figures: list[_Figure] = []
        self._in_caption = 0

    def _main(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def _hidden(self) -> bool:
        return bool(self.stack) and self.stack[-1][2]

    def _code(self) -> bool:
        return bool(self.stack) and self.stack[-1][3]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        main = self._main() or (tag == "article" and "bd-article" in classes) or \
            (not self.has_article and tag == "body")
        hidden = self._hidden() or tag in _HIDDEN_TAGS or "math" in classes
        code = self._code() or tag in _CODE_TAGS
        if tag == "img":
            if main:
                alt = a.get("alt")
                if self._figures:
                    self._figures[-1].images.append(alt)
                else:
                    self.images.append((alt, None))
            return
        if tag in _VOID:
            return
        self.stack.append((tag, main, hidden, code))
        if not main:
            return
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "figure":
            self._figures.append(_Figure())
        elif tag == "figcaption":
            self._in_caption += 1

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        # close up to the matching tag (HTML in the wild is not always well nested)
        while self.stack:
            open_tag, main, _, _ = self.stack.pop()
            if main:
                self._close(open_tag)
            if open_tag == tag:
                break

    def _close(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "figure" and self._figures:
            fig = self._figures.pop()
            caption = " ".join(" ".join(fig.caption).split())
            self.images.extend((alt, caption) for alt in fig.images)
        elif tag == "figcaption":
            self._in_caption = max(0, self._in_caption - 1)
        elif tag in ("p", "li", "div", "td", "th", "h1", "h2", "h3", "h4", "dd", "dt", "figcaption"):
            self.prose.append("\n")
            self.text.append("\n")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_caption and self._figures:
            self._figures[-1].caption.append(data)
        if self._main() and not self._hidden():
            self.text.append(data)
            if not self._code():
                self.prose.append(data)


def table_width_px(rows: list[list[str]]) -> int:
    """Estimated width (px) of a table given as rows of cell texts: per column its longest cell ×
    :data:`CHAR_PX` + :data:`CELL_PAD_PX`, summed (see the module docstring)."""
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths.get(i, 0), len(cell))
    return sum(w * CHAR_PX + CELL_PAD_PX for w in widths.values())


def residue(text: str, prose: str | None = None) -> list[tuple[str, str]]:
    """Template residue: ``(rule, excerpt)`` for a ``(s)`` glued to a word or number ("1 epoch(s)") and
    the same name on both sides of a slash ("tp-lamp / tp-lamp"; a name holds a letter, so "6 / 6"
    passes) in ``text`` (the prose with its inline code), and in ``prose`` (the text outside code;
    ``text`` when not given) ``>=`` / ``<=`` and a Markdown table's delimiter row (``|---|``: a table
    printed as pipe text, not rendered, e.g. without ``nb_render_markdown_format: myst``)."""
    prose = text if prose is None else prose
    found = []
    for m in re.finditer(r"\w\(s\)", text):
        found.append(("residue-plural", text[max(0, m.start() - 20):m.end() + 5].strip()))
    for m in re.finditer(r"(?<![\w-])([\w.\-]*[A-Za-z][\w.\-]*) / \1(?![\w-])", text):
        found.append(("residue-pair", m.group(0)))
    for m in re.finditer(r"[<>]=", prose):
        found.append(("residue-comparison", prose[max(0, m.start() - 20):m.end() + 10].strip()))
    for m in re.finditer(r"\|\s*:?-{3,}:?\s*\|", prose):
        found.append(("residue-table", prose[max(0, m.start() - 30):m.end() + 10].strip()))
    return found


def check_html(text: str, page: str = "page") -> list[Finding]:
    """Every rule of :data:`RULES` on one page's HTML ``text``; no finding = the page passes."""
    parser = _Page(has_article=bool(re.search(r"<article\b[^>]*\bbd-article\b", text)))
    parser.feed(text)
    parser.close()
    out = [Finding(page, rule, " ".join(excerpt.split()))
           for rule, excerpt in residue(unescape("".join(parser.text)), unescape("".join(parser.prose)))]
    for i, rows in enumerate(parser.tables):
        width = table_width_px(rows)
        if width > COLUMN_PX:
            header = " | ".join(rows[0]) if rows else ""
            out.append(Finding(page, "table-too-wide",
                               f"table {i + 1} ({max(map(len, rows), default=0)} columns, about {width} px "
                               f"> {COLUMN_PX} px): {header[:80]}"))
    for alt, caption in parser.images:
        if not caption:
            out.append(Finding(page, "figure-caption", f"image without a caption (alt {alt!r})"))
        if alt is None or not alt.strip() or _PATHLIKE.search(alt.strip()):
            out.append(Finding(page, "figure-alt", f"alt text {alt!r} is empty or a file path"))
    return out


def check_site(html_dir: str | Path, *, skip: tuple[str, ...] = ("genindex.html", "search.html",
                                                                   "index.html")) -> list[Finding]:
    """:func:`check_html` over every ``*.html`` page under ``html_dir`` (a ``_build/html`` folder) but
    Sphinx's generated ``skip`` pages (``index.html`` is only a redirect); pages named relative to it.
    ValueError when ``html_dir`` holds no page."""
    root = Path(html_dir)
    pages = sorted(p for p in root.rglob("*.html") if not p.relative_to(root).parts[0].startswith("_")
                   and str(p.relative_to(root)) not in skip)
    if not pages:
        raise ValueError(f"no HTML page under {root}; build the book first (jupyter-book build .)")
    out = []
    for path in pages:
        out.extend(check_html(path.read_text(encoding="utf-8"), str(path.relative_to(root))))
    return out
