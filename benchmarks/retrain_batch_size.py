"""Does a larger retraining batch make mask evaluation faster without changing the results?

Retrains the same masks (global L1 and random, several sparsities) with several (batch size, lr)
settings over several seeds, and prints for each setting the wall-clock time, the mean retrained
accuracy and its paired difference to batch 64 / lr 1e-3 (the original study's setting) with a
95 % interval. Settings run interleaved seed by seed, so a change of the machine's load hits all
alike. Evidence for ``prunegan.pruning.engine.DEFAULT_RETRAIN``.

    python benchmarks/retrain_batch_size.py            # ~5-10 min on 2 cores
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from prunegan import data as data_mod
from prunegan import models, train
from prunegan.pruning import engine, strategies

SETTINGS = [(64, 1e-3), (128, 1e-3), (128, 1.41e-3), (256, 1e-3), (256, 2e-3)]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="mnist-5k", choices=data_mod.names())
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.2, 0.4, 0.6, 0.7, 0.8, 0.9])
    p.add_argument("--base-epochs", type=int, default=10)
    p.add_argument("--workers", type=int, default=engine.default_workers())
    args = p.parse_args(argv)

    print(f"{os.cpu_count()} CPUs, load average %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    data = data_mod.load(args.data)
    model = models.build("lenet5", seed=0)
    with train.cpu_threads(1):
        train.fit(model, data, train.TrainConfig(epochs=args.base_epochs, seed=0, device="cpu"),
                  eval_every_epoch=False)
    print(f"baseline accuracy {train.evaluate(model, data):.4f} after {args.base_epochs} epochs", flush=True)

    seconds = {s: 0.0 for s in SETTINGS}
    acc: dict = {s: [] for s in SETTINGS}
    labels = []
    for seed in range(args.seeds):
        masks = [(st, sp, strategies.prune(model, st, sp, seed=seed))
                 for st in ("l1", "random") for sp in args.sparsities]
        labels += [(st, sp, seed) for st, sp, _ in masks]
        for bs, lr in SETTINGS:
            cfg = train.TrainConfig(epochs=args.epochs, batch_size=bs, lr=lr, seed=seed, device="cpu")
            start = time.perf_counter()
            rows = engine.evaluate_masks(model, [m for _, _, m in masks], data, cfg, workers=args.workers)
            seconds[(bs, lr)] += time.perf_counter() - start
            acc[(bs, lr)] += [r["retrained_acc"] for r in rows]
        print(f"seed {seed} done; load average %.2f %.2f %.2f" % os.getloadavg(), flush=True)

    ref = np.array(acc[SETTINGS[0]])
    n = len(ref)
    print(f"\n{n} retrainings per setting ({args.epochs} epochs, {args.data}, {args.workers} workers)")
    print(f"{'batch':>6}{'lr':>9}{'seconds':>9}{'speed':>8}{'mean acc':>10}{'Δ acc vs 64 (95% CI)':>26}"
          f"{'Δ at ≥80%':>11}")
    high = np.array([sp >= 0.8 for _, sp, _ in labels])
    for s in SETTINGS:
        a = np.array(acc[s])
        d = a - ref
        half = 1.96 * d.std(ddof=1) / math.sqrt(n) if n > 1 else float("nan")
        print(f"{s[0]:>6}{s[1]:>9.2e}{seconds[s]:>9.1f}{seconds[SETTINGS[0]] / seconds[s]:>7.2f}×"
              f"{a.mean():>10.4f}"
              f"{d.mean():>+12.4f} [{d.mean() - half:+.4f}, {d.mean() + half:+.4f}]{d[high].mean():>+11.4f}")
    print("\nper mask (strategy, sparsity, seed): retrained accuracy per setting")
    for i, (st, sp, seed) in enumerate(labels):
        print(f"  {st:<7}{sp:>5.0%}{seed:>3}" + "".join(f"{acc[s][i]:>8.3f}" for s in SETTINGS))
    print("load average %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
