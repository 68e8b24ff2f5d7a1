"""Does a cheap label rank masks like the full one? (issue 8: measure before using a cheaper label)

For ``--masks`` random masks with one channel per layer (conv + hidden Linear units of LeNet-5 by
default, the main setting of Part 2) at ``--sparsity``, the *full label* is the test accuracy after
retraining one epoch on the 4,000 training images, averaged over ``--seeds`` retraining seeds (the
bank's label). Cheaper labels, each scored on 1,000 held-out *training* images (never the test set):

- ``pruned``: accuracy without any retraining (free);
- ``short``: one retraining epoch on the first 1,000 training images (about a quarter of the cost).

Prints the Spearman rank correlation of each cheap label with the full one, with a 95 % bootstrap
interval over masks, and the cost of each in retraining-equivalents.

    python benchmarks/label_proxy.py --masks 40 --sparsity 0.8
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from prunegan.data import Dataset  # noqa: E402
from prunegan.pruning import engine, strategies  # noqa: E402
from prunegan.runs import baseline as baseline_mod  # noqa: E402
from prunegan.train import TrainConfig  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--masks", type=int, default=40, help="random-min1 masks (default 40)")
    parser.add_argument("--sparsity", type=float, default=0.8, help="fraction of prunable channels removed")
    parser.add_argument("--seeds", type=int, default=3, help="retraining seeds of the full label (default 3)")
    parser.add_argument("--conv-only", action="store_true",
                        help="prune conv channels only (default: + hidden Linear)")
    args = parser.parse_args(argv)
    for name, low in (("masks", 3), ("seeds", 1)):
        if getattr(args, name) < low:
            parser.error(f"--{name} {getattr(args, name)}: must be >= {low}")
    if not 0 <= args.sparsity < 1:
        parser.error(f"--sparsity {args.sparsity}: must be in [0, 1)")
    return args


def bootstrap_spearman(a: np.ndarray, b: np.ndarray, n: int = 2000,
                       seed: int = 0) -> tuple[float, float, float]:
    """Spearman's rho of ``a`` and ``b`` and its 95 % percentile-bootstrap interval over pairs."""
    rng = np.random.default_rng(seed)
    rho = float(stats.spearmanr(a, b).statistic)
    boot = []
    for _ in range(n):
        idx = rng.integers(0, len(a), len(a))
        if len(set(a[idx])) > 1 and len(set(b[idx])) > 1:
            boot.append(stats.spearmanr(a[idx], b[idx]).statistic)
    low, high = np.percentile(boot, [2.5, 97.5])
    return rho, float(low), float(high)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    base = baseline_mod.baseline(baseline_mod.BaselineConfig(), progress=False)
    d = base.data
    held_out = Dataset(d.name, d.x_train[:1000], d.y_train[:1000], d.x_train[3000:], d.y_train[3000:])
    masks = [strategies.prune(base.model, "random", args.sparsity, seed=s, min_channels_per_layer=1,
                              include_linear=not args.conv_only) for s in range(args.masks)]
    start = time.perf_counter()
    full = np.zeros(args.masks)
    for seed in range(args.seeds):
        rows = engine.evaluate_masks(base.model, masks, d, TrainConfig(epochs=1, seed=seed))
        full += np.array([r["retrained_acc"] for r in rows]) / args.seeds
    t_full = time.perf_counter() - start
    start = time.perf_counter()
    short_rows = engine.evaluate_masks(base.model, masks, held_out, TrainConfig(epochs=1, seed=0))
    t_short = time.perf_counter() - start
    pruned = np.array([r["pruned_acc"] for r in short_rows])
    short = np.array([r["retrained_acc"] for r in short_rows])
    setting = "conv" if args.conv_only else "conv + hidden Linear"
    print(f"{args.masks} random-min1 masks, {setting}, sparsity {args.sparsity}; full label = test accuracy "
          f"after 1 epoch on 4,000 images, mean of {args.seeds} seeds (mean {full.mean():.3f}, "
          f"range {full.min():.3f}-{full.max():.3f}); {t_full:.0f} s")
    one_seed = args.seeds * 1.0
    for name, values, cost in (("pruned (no retraining)", pruned, 0.0),
                               ("short (1 epoch, 1,000 images)", short, t_short / t_full * one_seed)):
        rho, low, high = bootstrap_spearman(values, full)
        print(f"  {name:32s} Spearman {rho:+.2f} [95 % CI {low:+.2f}, {high:+.2f}]  "
              f"cost ≈ {cost:.2f} retrain-equivalents per mask")


if __name__ == "__main__":
    main()
