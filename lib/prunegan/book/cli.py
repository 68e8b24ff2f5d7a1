"""The book's machinery (``make book``): execute the numbered notebooks headlessly with papermill,
prepare the executed copies for reading, check the notebook pairs, and check the README's numbers.

The command line of :mod:`prunegan.book`:
``python -m prunegan.book execute|replicate|check-pairs|check-readme``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .execution import execute_all, execute_replicate
from .layout import EXECUTED, README, SOURCE, notebooks
from .pairs import check_pairs
from .readme import check_readme, report_readme, was_smoke


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
    rep = sub.add_parser("replicate", help="execute a chapter with another seed into book/replicates/")
    rep.add_argument("--name", default="06_gan")
    rep.add_argument("--seed", type=int, default=1)
    pairs = sub.add_parser("check-pairs", help="report notebook pairs (.py / .ipynb) that differ")
    pairs.add_argument("--source", type=Path, default=SOURCE)
    check = sub.add_parser("check-readme",
                           help="compare README.md's wired numbers with the executed notebooks")
    check.add_argument("--readme", type=Path, default=README)
    check.add_argument("--executed", type=Path, default=EXECUTED)
    check.add_argument("--strict", action="store_true",
                       help="exit 1 when a number differs (a smoke build never fails)")
    args = parser.parse_args(argv)
    if args.command == "execute":
        execute_all(smoke=args.smoke, only=args.only)
    elif args.command == "replicate":
        execute_replicate(args.name, args.seed)
    elif args.command == "check-pairs":
        found = check_pairs(args.source)
        for name, problems in found.items():
            print(f"{name}: " + "; ".join(problems))
        print("notebook pairs: " + (f"{len(found)} out of step (run `make sync`)" if found
                                    else "all in step"))
        return 1 if found else 0
    elif args.command == "check-readme":
        if not notebooks(args.executed):
            print(f"README check: no executed notebook in {args.executed}; run `make book` first.")
            return 1
        smoke = was_smoke(args.executed)
        results = check_readme(args.readme, args.executed)
        print(report_readme(results, smoke=smoke))
        return 1 if args.strict and not smoke and not all(r["ok"] for r in results) else 0
    return 0
