"""The summary page: every scrapbook scrap of the executed chapters as one table, and how the
summary notebook shows and re-glues them (verdicts as Markdown prose, numbers formatted)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd


def scraps_by_notebook(executed_dir: str | Path) -> dict[str, dict]:
    """Scrap values of every executed chapter in ``executed_dir``, by notebook name (the summary
    ``99_*`` holds myst-nb glue, which scrapbook cannot read, and no scrap of its own)."""
    import scrapbook as sb

    return {p.stem: {k: s.data for k, s in sb.read_notebook(str(p)).scraps.items()}
            for p in sorted(Path(executed_dir).glob("[0-9][0-9]_*.ipynb")) if not p.name.startswith("99_")}


#: Scraps named so carry a figure's data (the findings page draws the figure again), not a value to quote.
FIGDATA = "figdata_"


def forest_data(stats: pd.DataFrame, method: str, other: str) -> dict:
    """The rows of a forest plot of ``method − other`` (:func:`prunegan.plots.part2.forest`) as a JSON-able
    scrap: the per-network (``"paired"``) and pooled (``"networks_paired"``) statistics."""
    cols = ["statistic", "setting", "network", "sparsity", "value", "ci_low", "ci_high", "n"]
    sel = stats[(stats["method"] == method) & (stats["other"] == other)
                & stats["statistic"].isin(["paired", "networks_paired"])]
    def plain(v):
        v = v.item() if hasattr(v, "item") else v
        return None if isinstance(v, float) and math.isnan(v) else v
    return {"method": method, "other": other,
            "rows": [{c: plain(v) for c, v in zip(cols, r)} for r in sel[cols].itertuples(index=False)]}


def forest_frame(data: dict) -> pd.DataFrame:
    """:func:`forest_data`'s scrap back as the statistics rows :func:`prunegan.plots.part2.forest` reads."""
    return pd.DataFrame(data["rows"]).assign(method=data["method"], other=data["other"])


def findings_forest(executed_dir: str | Path) -> Path:
    """Where the summary notebook writes the findings page's forest plot: ``figures/forest_gan_best.png``
    in the folder of the executed chapters (the page includes it with a ``{figure}`` directive)."""
    return Path(executed_dir) / "figures" / "forest_gan_best.png"


def read_scraps(executed_dir: str | Path) -> pd.DataFrame:
    """Every scrapbook scrap of the executed chapters in ``executed_dir`` (the summary notebook
    ``99_*`` excluded, and the figure-data scraps, :data:`FIGDATA`): one row per scrap name with its
    ``value`` and ``notebook``."""
    rows = [{"name": name, "value": value, "notebook": notebook}
            for notebook, scraps in scraps_by_notebook(executed_dir).items() for name,
            value in scraps.items() if not name.startswith(FIGDATA)]
    if not rows:
        raise FileNotFoundError(f"no executed chapter with scraps in {executed_dir}; run `make book` first")
    table = pd.DataFrame({k: pd.Series([r[k] for r in rows], dtype=object)
                          for k in ("name", "value", "notebook")})
    dup = table[table["name"].duplicated()]["name"].tolist()
    if dup:
        raise ValueError(f"scrap names glued by more than one chapter: {dup}")
    return table.set_index("name")


class MarkdownText:
    """A Markdown text (a verdict: a sentence, a bullet list ``- ...`` one line per target, or a pipe
    table) that displays like ``IPython.display.Markdown`` and carries three renderings for display and for
    myst-nb's ``glue``: ``text/markdown`` (the text as it is, for Jupyter and ``{glue:md}`` in the same
    document), ``text/html`` (rendered with CommonMark, each line break kept), which is what Jupyter
    Book shows in a chapter and pastes into another page (cross-document glue pastes only plain
    text, HTML and images: a Markdown-only glue would come out as inline code), and ``text/plain``
    (the text itself, never an object repr)."""

    def __init__(self, text: str) -> None:
        self.text = str(text)

    def _repr_markdown_(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark", {"breaks": True, "html": False}).enable("table")
        # the class the book's theme styles (MyST gives chapter tables the same one)
        return md.render(self.text).strip().replace("<table>", '<table class="table">')

    def __repr__(self) -> str:
        return self.text


def is_verdict(name: str) -> bool:
    """Scraps named ``*verdict`` hold Markdown verdict text (not numbers)."""
    return name.endswith("verdict")


def glue_value(name: str, value):
    """What the summary notebook glues for the scrap ``name``: verdicts as :class:`MarkdownText`
    (prose on the findings page), other strings as plain text without quotes, anything else (numbers,
    ``None``) unchanged."""
    from IPython.display import Pretty

    if isinstance(value, str):
        return MarkdownText(value) if is_verdict(name) else Pretty(value)
    return value


def format_value(value, *, max_text: int = 28) -> str:
    """A scrap value as a table shows it: integers with thousands separators, fractions and other
    small floats to 3 decimals, large floats to one, whole floats without decimals, text on one
    line (Markdown bullets joined by " · ", emphasis dropped) cut at a word within ``max_text``
    characters, ``None`` as a dash, a table of values (a dict or list another page reads, such as the
    targets' judged cells) as its number of entries."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isinf(value):
            return str(value)
        if value.is_integer() and abs(value) >= 1:
            return f"{value:,.0f}"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, (dict, list)):
        return f"{len(value)} entr{'y' if len(value) == 1 else 'ies'}"
    if isinstance(value, str):
        items = [re.sub(r"^\s*[-*]\s+", "", line).strip() for line in value.splitlines() if line.strip()]
        text = " · ".join(items).replace("**", "")
        return text if len(text) <= max_text else text[:max_text + 1].rsplit(" ", 1)[0].rstrip(" ,;:") + " …"
    return str(value)


def scrap_table(scraps):
    """The summary's table of every scrap (:func:`read_scraps`' frame, indexed by name): its value
    formatted by :func:`format_value` (a verdict cut short: the findings page quotes it whole) and
    the chapter it comes from, one row per scrap."""
    import pandas as pd

    return pd.DataFrame({"value": [format_value(v) for v in scraps["value"]],
                         "chapter": scraps["notebook"]}, index=scraps.index)


def scrap_details(scraps, *, max_text: int = 160) -> str:
    """HTML: every scrap (:func:`read_scraps`' frame) as one collapsed ``<details>`` per chapter, in
    which a definition list gives each scrap's name and its value (:func:`format_value`, text cut at
    ``max_text`` characters). Unlike a table, a long name or verdict wraps inside the text column."""
    from html import escape

    parts = []
    for notebook, group in scraps.groupby("notebook", sort=True):
        items = "".join(f"<dt><code>{escape(str(name))}</code></dt>"
                        f"<dd>{escape(format_value(v, max_text=max_text))}</dd>"
                        for name, v in group["value"].items())
        parts.append(f"<details><summary><strong>{escape(str(notebook))}</strong>: {len(group)} "
                     f"value{'' if len(group) == 1 else 's'}</summary><dl>{items}</dl></details>")
    return "\n".join(parts)
