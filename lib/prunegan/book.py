"""Execute the numbered notebooks headlessly with papermill into the book (``make book``).

``python -m prunegan.book execute [--smoke True] [--only 03_random]`` runs ``notebooks/NN_*.ipynb``
in order into ``book/executed/`` (the summary notebook, ``99_*``, last since it reads the others'
scraps). A notebook that fails stops the build with its name; its partial output is not kept.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .core.store import REPO_ROOT

SOURCE = REPO_ROOT / "notebooks"
EXECUTED = REPO_ROOT / "book" / "executed"


def notebooks(source: Path = SOURCE) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` in execution order."""
    return sorted(p for p in source.glob("[0-9][0-9]_*.ipynb"))


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
    args = parser.parse_args(argv)
    execute_all(smoke=args.smoke, only=args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
