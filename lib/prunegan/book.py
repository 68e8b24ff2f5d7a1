"""Execute the numbered notebooks headlessly with papermill into the book (``make book``), and
check the notebook pairs.

``python -m prunegan.book execute [--smoke True] [--only 03_random]`` runs ``notebooks/NN_*.ipynb``
in order into ``book/executed/`` (the summary notebook, ``99_*``, last since it reads the others'
scraps). A notebook that fails stops the build with its name; its partial output is not kept.

``python -m prunegan.book check-pairs`` reports every notebook whose two files differ: each
``notebooks/NN_name.py`` (jupytext py:percent text, the source to edit) and ``NN_name.ipynb``
(what papermill runs, committed without outputs) must hold the same cells.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .cache import REPO_ROOT

SOURCE = REPO_ROOT / "notebooks"
EXECUTED = REPO_ROOT / "book" / "executed"


def notebooks(source: Path = SOURCE) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` in execution order."""
    return sorted(p for p in source.glob("[0-9][0-9]_*.ipynb"))


def tags(cell) -> list[str]:
    """A notebook cell's tags (an empty list when it has none)."""
    return list(cell.get("metadata", {}).get("tags", []))


# ------------------------------------------------------------------------------- notebook pairs
def cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    """(type, source, tags) of every cell: what the two files of a pair must agree on."""
    return [(c.cell_type, c.source, tuple(tags(c))) for c in nb.cells]


def pair_differences(text: Path, ipynb: Path) -> list[str]:
    """How the notebook ``ipynb`` differs from its text file ``text`` (both read with jupytext):
    missing files, the number of cells, and each cell whose type, source or tags differ. Empty when
    the pair is in step."""
    import jupytext

    missing = [str(p) for p in (text, ipynb) if not p.exists()]
    if missing:
        return [f"missing {m}" for m in missing]
    a, b = cells(jupytext.read(text)), cells(jupytext.read(ipynb))
    out = []
    if len(a) != len(b):
        out.append(f"{text.name} has {len(a)} cells, {ipynb.name} {len(b)}")
    for i, ((type_a, source_a, tags_a), (type_b, source_b, tags_b)) in enumerate(zip(a, b), 1):
        if type_a != type_b:
            out.append(f"cell {i}: type differs ({type_a} / {type_b})")
        if source_a != source_b:
            lines_a, lines_b = source_a.splitlines(), source_b.splitlines()
            first = next((n for n, (p, q) in enumerate(zip(lines_a, lines_b), 1) if p != q),
                         min(len(lines_a), len(lines_b)) + 1)
            out.append(f"cell {i}: source differs (first differing line {first})")
        if tags_a != tags_b:
            out.append(f"cell {i}: tags differ ({list(tags_a)} / {list(tags_b)})")
    return out


def check_pairs(source: Path = SOURCE) -> dict[str, list[str]]:
    """Differences of every pair in ``source`` (a numbered .ipynb or .py without its other half
    counts too), by notebook name; only pairs that differ are listed."""
    names = sorted({p.stem for p in source.glob("[0-9][0-9]_*.ipynb")} |
                   {p.stem for p in source.glob("[0-9][0-9]_*.py")})
    found = {n: pair_differences(source / f"{n}.py", source / f"{n}.ipynb") for n in names}
    return {n: d for n, d in found.items() if d}


def execute(path: Path, output: Path, parameters: dict, *, cwd: Path | None = None) -> Path:
    """Run one notebook with papermill (kernel ``python3``), writing ``output`` atomically."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.partial.ipynb")
    try:
        pm.execute_notebook(str(path), str(tmp), parameters=parameters, kernel_name="python3",
                            cwd=str(cwd or path.parent), progress_bar=False)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    return output


def execute_all(*, smoke: bool = False, only: list[str] | None = None, source: Path = SOURCE,
                target: Path = EXECUTED) -> list[Path]:
    """Execute every numbered notebook (or those whose name starts with one of ``only``)."""
    done = []
    for path in notebooks(source):
        if only and not any(path.stem.startswith(o) for o in only):
            continue
        start = time.perf_counter()
        print(f"[book] executing {path.name} (smoke={smoke}) ...", flush=True)
        done.append(execute(path, target / path.name, {"smoke": smoke}))
        print(f"[book] {path.name} done in {time.perf_counter() - start:.0f} s", flush=True)
    return done


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prunegan.book", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="execute the notebooks into book/executed/")
    run.add_argument("--smoke", type=_bool, default=False, help="tiny fast run (True/False)")
    run.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03_random")
    pairs = sub.add_parser("check-pairs", help="report notebook pairs (.py / .ipynb) that differ")
    pairs.add_argument("--source", type=Path, default=SOURCE)
    args = parser.parse_args(argv)
    if args.command == "execute":
        execute_all(smoke=args.smoke, only=args.only)
    elif args.command == "check-pairs":
        found = check_pairs(args.source)
        for name, problems in found.items():
            print(f"{name}: " + "; ".join(problems))
        print("notebook pairs: " + (f"{len(found)} out of step (run `make sync`)" if found else "all in step"))
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
