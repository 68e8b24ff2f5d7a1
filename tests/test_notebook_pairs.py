"""Each notebook is one jupytext pair: ``notebooks/NN_name.py`` (py:percent, the source to edit)
and ``notebooks/NN_name.ipynb`` (what papermill runs). The pairs are in step, the .ipynb files
hold no outputs and keep their cell ids when re-synced, the check catches a pair out of step, and
Jupyter's contents manager (what ``make lab`` runs) writes both files of a pair on save."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupytext.config import load_jupytext_configuration_file

from prunegan import book

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
JUPYTEXT = Path(sys.executable).parent / "jupytext"
NAMES = ["01_baseline", "02_l1_sweep", "03_random", "04_trials", "05_layer_sparsity", "06_gan", "99_summary"]


def copy_pairs(target: Path, names=NAMES) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(NOTEBOOKS / "jupytext.toml", target)
    for name in names:
        for suffix in (".py", ".ipynb"):
            shutil.copy(NOTEBOOKS / f"{name}{suffix}", target)
    return target


def test_every_notebook_is_a_py_percent_pair():
    assert sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) == NAMES
    assert sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py")) == NAMES
    config = load_jupytext_configuration_file(str(NOTEBOOKS / "jupytext.toml"))
    assert config.formats in ("ipynb,py:percent", ["ipynb,py:percent"])
    for name in NAMES:
        assert (NOTEBOOKS / f"{name}.py").read_text().startswith("# ---\n# jupyter:\n"), name
        assert "# %%" in (NOTEBOOKS / f"{name}.py").read_text(), name


def test_the_pairs_are_in_step():
    assert book.check_pairs() == {}, "run `make sync`"
    assert book.main(["check-pairs"]) == 0


def test_ipynb_files_hold_no_outputs_and_stable_unique_cell_ids():
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        ids = [c.id for c in nb.cells]
        assert len(set(ids)) == len(ids) and all(ids), name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, \
                    f"{name}: outputs (run `make sync`)"
        assert nb.metadata.kernelspec.name == "python3", name  # papermill needs the kernel


@pytest.mark.parametrize("newer", [".py", ".ipynb"])
def test_resyncing_changes_nothing(tmp_path, newer):
    """``jupytext --sync`` (``make sync``) leaves both files byte for byte as committed, whichever
    of the two is newer: no new cell ids, no metadata churn."""
    folder = copy_pairs(tmp_path)
    for name in NAMES:
        path = folder / f"{name}{newer}"
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))
    subprocess.run([str(JUPYTEXT), "--sync", *sorted(str(p) for p in folder.glob("*.py"))],
                   check=True, capture_output=True)
    for name in NAMES:
        for suffix in (".py", ".ipynb"):
            again, committed = folder / f"{name}{suffix}", NOTEBOOKS / f"{name}{suffix}"
            assert again.read_bytes() == committed.read_bytes(), f"{name}{suffix} changed on re-sync"


def alter(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_the_check_catches_a_pair_out_of_step(tmp_path):
    folder = copy_pairs(tmp_path, ["03_random", "99_summary"])
    assert book.check_pairs(folder) == {}
    # an edited line in the text file (the parameters cell, the second cell, holds `smoke = False`)
    params = next(c.source for c in jupytext.read(folder / "03_random.py").cells
                  if "parameters" in c.metadata.get("tags", []))
    line = next(n for n, x in enumerate(params.splitlines(), 1) if x.startswith("smoke = False"))
    alter(folder / "03_random.py", "smoke = False", "smoke = True")
    expected = {"03_random": [f"cell 2: source differs (first differing line {line})"]}
    assert book.check_pairs(folder) == expected
    assert book.main(["check-pairs", "--source", str(folder)]) == 1
    # a changed tag in the notebook
    nb = json.loads((folder / "99_summary.ipynb").read_text())
    params = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    params["metadata"]["tags"] = []
    (folder / "99_summary.ipynb").write_text(json.dumps(nb))
    assert book.check_pairs(folder)["99_summary"] == ["cell 2: tags differ (['parameters'] / [])"]
    # a cell more in one file, a markdown cell turned into code, a missing half
    (folder / "99_summary.ipynb").write_text((NOTEBOOKS / "99_summary.ipynb").read_text())
    with open(folder / "99_summary.py", "a") as f:
        f.write("\n# %%\nprint('new cell')\n")
    n = len(nbformat.read(NOTEBOOKS / "99_summary.ipynb", as_version=4).cells)
    expected = f"99_summary.py has {n + 1} cells, 99_summary.ipynb {n}"
    assert book.check_pairs(folder)["99_summary"] == [expected]
    alter(folder / "03_random.py", "# %% [markdown]\n", "# %%\n")  # the first cell, markdown, made code
    assert "cell 1: type differs (code / markdown)" in book.check_pairs(folder)["03_random"]
    (folder / "03_random.ipynb").unlink()
    assert book.check_pairs(folder)["03_random"] == [f"missing {folder / '03_random.ipynb'}"]


def test_jupyter_saves_both_files_of_a_pair(tmp_path):
    """The contents manager that jupytext's server extension installs in JupyterLab (``make lab``),
    on a copy of the notebooks: saving the .ipynb rewrites the .py, and an edited .py is what
    Jupyter then opens."""
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
    from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class

    folder = copy_pairs(tmp_path / "notebooks", ["03_random"])
    manager = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)(root_dir=str(tmp_path))

    async def edit_in_jupyter():
        model = await manager.get("notebooks/03_random.ipynb")
        model["content"].cells[-1].source += "\nprint('edited in Jupyter')"
        await manager.save(model, "notebooks/03_random.ipynb")

    asyncio.run(edit_in_jupyter())
    assert "print('edited in Jupyter')" in (folder / "03_random.py").read_text()
    assert book.check_pairs(folder) == {}

    alter(folder / "03_random.py", "\n# # ", "\n# # Edited as text: ")  # the chapter's title
    later = (folder / "03_random.ipynb").stat().st_mtime + 10
    os.utime(folder / "03_random.py", (later, later))
    opened = asyncio.run(manager.get("notebooks/03_random.ipynb"))["content"]
    assert opened.cells[0].source.startswith("# Edited as text: ")
    assert [c.id for c in opened.cells] == [c.id for c in jupytext.read(NOTEBOOKS / "03_random.ipynb").cells]
