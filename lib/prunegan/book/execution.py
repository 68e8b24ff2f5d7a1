"""Executing notebooks headlessly with papermill: the book's chapters in order into ``book/executed/``,
or one chapter with another seed (a replicate) into ``book/replicates/``."""
from __future__ import annotations

import time
from pathlib import Path

from ..core.store import atomic_write
from .layout import EXECUTED, REPLICATES, SOURCE, notebooks
from .prepare import prepare_for_book
from .replicate_page import write_page


def execute(path: Path, output: Path, parameters: dict, *, cwd: Path | None = None) -> Path:
    """Run one notebook with papermill (kernel ``python3``) and prepare it for the book
    (:func:`prepare_for_book`), writing ``output`` atomically."""
    import nbformat
    import papermill as pm

    # papermill keeps the executed notebook in memory (no output path); only the prepared notebook
    # is written, through the store's atomic write, so a failed run leaves no file behind.
    nb = pm.execute_notebook(str(path), None, parameters=parameters, kernel_name="python3",
                             cwd=str(cwd or path.parent), progress_bar=False)
    return atomic_write(output, lambda tmp: nbformat.write(prepare_for_book(nb), tmp))


def _execute_timed(path: Path, output: Path, parameters: dict, *, starting: str, finished: str) -> Path:
    """:func:`execute`, framed by two progress lines: ``[book] executing <name> <starting> ...``
    before, ``[book] <finished> done in <seconds> s`` after."""
    start = time.perf_counter()
    print(f"[book] executing {path.name} {starting} ...", flush=True)
    out = execute(path, output, parameters)
    print(f"[book] {finished} done in {time.perf_counter() - start:.0f} s", flush=True)
    return out


def execute_all(*, smoke: bool = False, only: list[str] | None = None, source: Path = SOURCE,
                target: Path = EXECUTED) -> list[Path]:
    """Execute every numbered notebook (or those whose name starts with one of ``only``)."""
    done = []
    for path in notebooks(source):
        if only and not any(path.stem.startswith(o) for o in only):
            continue
        done.append(_execute_timed(path, target / path.name, {"smoke": smoke}, starting=f"(smoke={smoke})",
                                   finished=path.name))
    if not only and target == EXECUTED:
        write_page()  # the replicate's page in the table of contents: its copy, or a note that it was not run
    return done


def execute_replicate(name: str = "06_gan", seed: int = 1, *, source: Path = SOURCE,
                      target: Path = REPLICATES) -> Path:
    """Execute notebook ``name`` with ``seed`` (a replicate: every seed family shifted) into
    ``target/<name>_seed<seed>.ipynb``; the README's replicate numbers quote it."""
    path = source / f"{name}.ipynb"
    if not path.exists():
        raise FileNotFoundError(f"no notebook {path}; valid: {', '.join(p.stem for p in notebooks(source))}")
    out = _execute_timed(path, target / f"{name}_seed{seed}.ipynb", {"seed": seed},
                         starting=f"with seed={seed} (replicate)", finished=f"replicate {name} seed {seed}")
    if target == REPLICATES:
        write_page()
    return out
