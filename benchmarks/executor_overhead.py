"""What does evaluating masks through Ray cost, against the local process pool, on one machine?

In one run, on the same fixed set of masks (spread over sparsities 0-95 %, half global L1 and half
global random, from a LeNet5 trained with ``prunegan.train.fit``; the masks of
``evaluation_speed.py``) with the same retraining (Adam, lr 1e-3, batch 64, ``--epochs`` epochs,
same seed), it times ``engine.evaluate_masks`` with

1. ``executor="local"``: ``--workers`` forked worker processes, one thread each (the default);
2. ``executor="ray"`` on a fresh local Ray instance with ``--workers`` CPUs: starting the instance
   (``ray.init``) and the call itself (Ray's worker processes start, import torch and fetch the model
   and data from the object store), i.e. what the first Ray call of a notebook costs;
3. ``executor="ray"`` again on the same, warm instance (what every later call costs);

``--repeats`` times in turn (so a change of the machine's load hits all alike), checks that the three
give bit-identical rows, and prints masks per minute, Ray's overhead against the local pool and the
cost of one mask on one core (``seconds`` measured inside the worker), from which the wall time of a
larger run on a cluster can be estimated: masks × seconds per mask / (nodes × cores per node), plus
a start-up of the order of the measured one.

    python benchmarks/executor_overhead.py                 # 40 masks × 3 epochs: ~4 min on 2 idle cores
    python benchmarks/executor_overhead.py --masks 6 --epochs 1   # quick look
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluation_speed import BATCH_SIZE, LR, load_avg, mask_set, parse_checked, trained_lenet  # noqa: E402

from prunegan import data as data_mod  # noqa: E402
from prunegan import train  # noqa: E402
from prunegan.pruning import engine, executors  # noqa: E402

#: Sparsity range of the study's mask bank (Part 2), for the per-mask cost it reports separately.
BANK_RANGE = (0.5, 0.9)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default="mnist-5k", help="data set")
    p.add_argument("--masks", type=int, default=40, help="number of masks, spread over sparsities 0-95 %%")
    p.add_argument("--epochs", type=int, default=3, help="retraining epochs per mask")
    p.add_argument("--seed", type=int, default=0, help="retraining seed (also the random masks' seeds)")
    p.add_argument("--base-epochs", type=int, default=5, help="epochs to train the LeNet5 that is pruned")
    p.add_argument("--workers", type=int, default=engine.default_workers(),
                   help="worker processes of the local pool and CPUs of the local Ray instance")
    p.add_argument("--repeats", type=int, default=1, help="rounds of (local, Ray fresh, Ray warm)")
    p.add_argument("--json", metavar="PATH", help="also write all measurements to this JSON file")
    return p


def check_args(args: argparse.Namespace) -> None:
    """Raise ``ValueError`` naming the bad value if an argument is out of range."""
    if args.data not in data_mod.names():
        raise ValueError(f"unknown data set --data {args.data!r}; valid: {', '.join(data_mod.names())}")
    for name, low in (("masks", 1), ("epochs", 0), ("base_epochs", 0), ("workers", 1), ("repeats", 1),
                      ("seed", 0)):
        value = getattr(args, name)
        if value < low:
            raise ValueError(f"--{name.replace('_', '-')} {value}: must be >= {low}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check ``argv``; a bad value exits (status 2) with a message naming it."""
    return parse_checked(build_parser(), check_args, argv)


def timed(fn) -> tuple[list[dict], float]:
    start = time.perf_counter()
    rows = fn()
    return rows, time.perf_counter() - start


def without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    ray = executors.import_ray()
    os.environ.pop("RAY_ADDRESS", None)  # a local instance, whatever the shell says
    print(f"# executor overhead: {args.masks} masks × {args.epochs} epochs, {args.workers} workers, "
          f"{os.cpu_count()} CPUs, ray {ray.__version__}; {load_avg()}", flush=True)
    data = data_mod.load(args.data)
    model, base_acc, base_s = trained_lenet(data, args.base_epochs, args.seed)
    print(f"LeNet5 trained {args.base_epochs} epochs on {data!r}: "
          f"test accuracy {base_acc:.3f} ({base_s:.0f}s)")
    masks = mask_set(model, args.masks, args.seed)
    mask_objects = [m for _, _, m in masks]
    retrain = train.TrainConfig(epochs=args.epochs, batch_size=BATCH_SIZE, lr=LR, seed=args.seed,
                                device="cpu")

    def run(executor: str) -> list[dict]:
        return engine.evaluate_masks(model, mask_objects, data, retrain, workers=args.workers,
                                     executor=executor)

    times: dict[str, list[float]] = {"local": [], "ray start": [], "ray fresh": [], "ray warm": []}
    reference = None
    per_mask: list[list[float]] = []
    for r in range(args.repeats):
        print(f"\n## round {r + 1}: local pool; {load_avg()}", flush=True)
        rows, t = timed(lambda: run("local"))
        times["local"].append(t)
        reference = reference or without_seconds(rows)
        per_mask.append([row["seconds"] for row in rows])
        print(f"local pool, {args.workers} processes: {t:.1f} s", flush=True)

        if ray.is_initialized():
            ray.shutdown()
        _, t_start = timed(lambda: executors.connect(None, workers=args.workers))
        times["ray start"].append(t_start)
        rows_fresh, t_fresh = timed(lambda: run("ray"))
        times["ray fresh"].append(t_fresh)
        print(f"Ray, fresh local instance: ray.init {t_start:.1f} s + call {t_fresh:.1f} s", flush=True)
        rows_warm, t_warm = timed(lambda: run("ray"))
        times["ray warm"].append(t_warm)
        print(f"Ray, warm instance: {t_warm:.1f} s; {load_avg()}", flush=True)
        ray.shutdown()
        same = without_seconds(rows_fresh) == reference == without_seconds(rows_warm)
        print(f"rows bit-identical to the local pool's: {same}")
        if not same:
            raise SystemExit("Ray's rows differ from the local pool's")

    n = args.masks
    local = statistics.median(times["local"])
    fresh = statistics.median([a + b for a, b in zip(times["ray start"], times["ray fresh"])])
    warm = statistics.median(times["ray warm"])
    start = statistics.median(times["ray start"])
    print(f"\n{'executor':<44}{'seconds':>9}{'masks/min':>11}{'× local':>9}{'overhead':>10}")
    for label, t in ((f"local pool, {args.workers} processes", local),
                     ("Ray, fresh local instance (incl. ray.init)", fresh),
                     ("Ray, warm instance", warm)):
        print(f"{label:<44}{t:>9.1f}{60 * n / t:>11.1f}{t / local:>8.2f}×{100 * (t / local - 1):>9.1f}%")
    print(f"(ray.init of the local instance: {start:.1f} s; medians over {args.repeats} round(s); "
          f"{load_avg()})")

    seconds = [statistics.mean(col) for col in zip(*per_mask)]  # per mask, one core, mean over rounds
    in_bank = [s for (_, sp, _), s in zip(masks, seconds) if BANK_RANGE[0] <= sp <= BANK_RANGE[1]]
    print(f"\ncost of one mask on one core ({args.epochs} epochs, {len(data.y_train)} training images): "
          f"mean {statistics.mean(seconds):.2f} s over 0-95 % sparsity "
          f"(min {min(seconds):.2f}, max {max(seconds):.2f})"
          + (f", {statistics.mean(in_bank):.2f} s at {BANK_RANGE[0]:.0%}-{BANK_RANGE[1]:.0%}"
             if in_bank else ""))
    core_seconds = sum(seconds)
    print(f"the {n} masks: {core_seconds:.0f} core-seconds; on {args.workers} cores the local pool took "
          f"{local:.1f} s ({core_seconds / args.workers / local:.0%} of the ideal "
          f"{core_seconds / args.workers:.1f} s)")
    print("estimate for a cluster: wall ≈ masks × seconds per mask / (nodes × cores per node) + start-up "
          f"(here ray.init {start:.0f} s, plus {fresh - start - warm:.0f} s for the first call's "
          "worker start)")
    report = {"args": vars(args), "cpu_count": os.cpu_count(), "ray": ray.__version__, "base_acc": base_acc,
              "times": times, "local_s": local, "ray_fresh_s": fresh, "ray_warm_s": warm, "ray_init_s": start,
              "masks": [{"strategy": st, "sparsity": sp, "seconds": s}
                        for (st, sp, _), s in zip(masks, seconds)]}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()
