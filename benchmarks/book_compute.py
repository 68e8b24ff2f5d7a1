"""The book's training compute, counted from a results cache (issue 13's compute budget).

Every evaluation in ``results/evals_*/rows/`` is one retraining of a pruned network; every
``results/baseline_*/`` one trained baseline. Their cost in *image-epochs* is epochs × training
images (the training split without the validation images), the unit the issue budgets in. Run it on
the cache of a cold ``make book`` (an empty ``results/`` before the build), so that nothing else is
counted:

    python benchmarks/book_compute.py --results /path/to/fresh/clone/results

Prints one line per (kind, data set, training images, epochs) and the total in millions of
image-epochs.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from prunegan.runs.baseline import BaselineConfig, load_data  # noqa: E402
from prunegan.train import TrainConfig  # noqa: E402


def training_images(baseline: dict) -> int:
    """Training images of a stored baseline config (the library's own split: subset, validation cut)."""
    config = BaselineConfig(**{**baseline, "train": TrainConfig(**baseline["train"])})
    return len(load_data(config).y_train)


def count(results: Path) -> Counter:
    """(kind, data set, training images, epochs) → number of trainings in ``results``."""
    out: Counter = Counter()
    for folder in sorted(results.glob("baseline_*")):
        cfg = json.loads((folder / "config.json").read_text())["config"]
        out[("baseline", cfg["data"], training_images(cfg), cfg["train"]["epochs"])] += 1
    for folder in sorted(results.glob("evals_*")):
        base = json.loads((folder / "config.json").read_text())["config"]["baseline"]
        n = training_images(base)
        for row in (folder / "rows").glob("*.json"):
            out[("retraining", base["data"], n, json.loads(row.read_text())["retrain"]["epochs"])] += 1
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=Path(__file__).resolve().parents[1] / "results")
    args = p.parse_args(argv)
    if not args.results.is_dir():
        p.error(f"--results {args.results} is not a folder")
    counts = count(args.results)
    if not counts:
        p.error(f"--results {args.results} holds no baseline_* or evals_* folder")
    total = 0
    print(f"{'kind':<11} {'data':<9} {'images':>6} {'epochs':>6} {'count':>6} {'M image-epochs':>15}")
    for (kind, name, n, epochs), k in sorted(counts.items()):
        total += k * n * epochs
        print(f"{kind:<11} {name:<9} {n:>6} {epochs:>6} {k:>6} {k * n * epochs / 1e6:>15.2f}")
    print(f"total: {total / 1e6:.2f} M image-epochs")


if __name__ == "__main__":
    main()
