"""Is the engine's retrained accuracy the same as the plain reference's, within seed noise?

Retrains the same masks (global L1 and random over sparsities 0-90 %, several seeds) with the
plain reference of ``evaluation_speed.py`` (DataLoader + per-sample transforms, full network with
``torch.nn.utils.prune``; run with one thread here only to save time — the thread count does not
change what it computes) and with ``prunegan.pruning.engine.evaluate_masks``, same epochs and seeds, and
prints the paired accuracy difference with a 95 % interval, next to the spread between two seeds of
the reference itself (the noise the difference should be compared with).

    python benchmarks/reference_accuracy.py            # ~5-10 min on 2 cores
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluation_speed as bench  # noqa: E402

from prunegan import data as data_mod  # noqa: E402
from prunegan import train  # noqa: E402
from prunegan.pruning import engine, strategies  # noqa: E402


def ci(d: np.ndarray) -> str:
    half = 1.96 * d.std(ddof=1) / math.sqrt(len(d))
    return f"{d.mean():+.4f} [{d.mean() - half:+.4f}, {d.mean() + half:+.4f}]"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="mnist-5k", choices=data_mod.names())
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.1, 0.3, 0.5, 0.7, 0.9])
    p.add_argument("--base-epochs", type=int, default=5)
    args = p.parse_args(argv)

    print("load average %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    data = data_mod.load(args.data)
    model, base_acc, _ = bench.trained_lenet(data, args.base_epochs, 0)
    print(f"baseline accuracy {base_acc:.4f}", flush=True)
    tr, te = bench.reference_sets(data)
    labels, ref, ref_other, eng = [], [], [], []
    for seed in range(args.seeds):
        masks = [(st, sp, strategies.prune(model, st, sp, seed=seed)) for st in ("l1", "random")
                 for sp in args.sparsities]
        cfg = train.TrainConfig(epochs=args.epochs, batch_size=bench.BATCH_SIZE, lr=bench.LR, seed=seed,
                                device="cpu")
        eng += [r["retrained_acc"] for r in engine.evaluate_masks(model, [m for *_, m in masks], data, cfg)]
        with train.cpu_threads(1):
            for st, sp, m in masks:
                labels.append((st, sp, seed))
                ref.append(bench.reference_evaluate(model, m, tr, te, args.epochs, seed)["retrained_acc"])
                ref_other.append(bench.reference_evaluate(model, m, tr, te, args.epochs,
                                                          seed + 1000)["retrained_acc"])
        print(f"seed {seed} done; load average %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    ref, ref_other, eng = map(np.array, (ref, ref_other, eng))
    live = ref > 0.2  # leave out collapsed networks (chance accuracy whatever the retraining)
    print(f"\n{len(ref)} masks ({live.sum()} not collapsed), {args.epochs} epochs, {args.data}")
    print(f"mean retrained accuracy: reference {ref.mean():.4f}, engine {eng.mean():.4f}")
    print(f"engine − reference (same seed), not collapsed:      {ci((eng - ref)[live])}")
    print(f"reference seed s+1000 − seed s (the seed noise):     {ci((ref_other - ref)[live])}")
    print(f"|engine − reference| mean {np.abs(eng - ref)[live].mean():.4f}; "
          f"|reference − reference'| mean {np.abs(ref_other - ref)[live].mean():.4f}")
    print("\nper mask: strategy sparsity seed | reference, reference (other seed), engine")
    for (st, sp, seed), a, b, c in zip(labels, ref, ref_other, eng):
        print(f"  {st:<7}{sp:>5.0%}{seed:>3} | {a:.3f} {b:.3f} {c:.3f}")
    print("load average %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
