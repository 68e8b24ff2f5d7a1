"""The summary page: every scrapbook scrap of the executed chapters as one table."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_scraps(executed_dir: str | Path) -> pd.DataFrame:
    """Every scrapbook scrap of the executed chapters in ``executed_dir`` (the summary notebook
    ``99_*`` excluded): one row per scrap name with its ``value`` and ``notebook``."""
    import scrapbook as sb

    rows = []
    for path in sorted(Path(executed_dir).glob("[0-9][0-9]_*.ipynb")):
        if path.name.startswith("99_"):
            continue
        for name, scrap in sb.read_notebook(str(path)).scraps.items():
            rows.append({"name": name, "value": scrap.data, "notebook": path.stem})
    if not rows:
        raise FileNotFoundError(f"no executed chapter with scraps in {executed_dir}; run `make book` first")
    table = pd.DataFrame({k: pd.Series([r[k] for r in rows], dtype=object) for k in ("name", "value", "notebook")})
    dup = table[table["name"].duplicated()]["name"].tolist()
    if dup:
        raise ValueError(f"scrap names glued by more than one chapter: {dup}")
    return table.set_index("name")
