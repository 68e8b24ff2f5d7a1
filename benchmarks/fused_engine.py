"""How much faster is fused retraining (prunegan.pruning.fused) than one mask at a time, on chapter 6's jobs?

In one run, on the same jobs, with the same executor (the local pool, ``--workers`` processes, one
thread each):

1. **Chapter 6's mix of jobs**: on the chapter's first network (replicate 0's network 0, the same
   config and cache as the book), the bank's jobs (every randomised standard method at both
   temperatures, two draws, the exhaustive conv-90 % landscape, ``--bank-seeds`` retraining seeds)
   and protocol-like jobs (``--pairs`` pairs of random-min1, the untrained generator and every
   standard criterion, pair *i* retrained with seed 1000 + *i*), in both settings (conv, conv +
   Linear) at 80 and 90 %, one epoch each: every mask alone (today's engine before fusion: one task
   per mask) and in the engine's fused groups (:func:`prunegan.pruning.engine.groups`).
2. **40 masks that share one retraining config** (random-min1 at 80 and 90 %):
   ``engine.evaluate_masks(..., workers=1)`` against a loop of ``engine.evaluate_mask``.

It prints masks per minute, the ratio, and how far each mask's accuracy moved (fused − alone, test
accuracy in points): the two agree up to float rounding (``tests/test_fused.py``), so most masks are
equal and the rest differ by a test image or so.

    python benchmarks/fused_engine.py               # ~15 min on 2 idle cores (first run also trains)
    python benchmarks/fused_engine.py --pairs 4 --bank-seeds 1 --loop-masks 10   # quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluation_speed import load_avg, parse_checked  # noqa: E402

from prunegan import kernels  # noqa: E402
from prunegan.chapters import part1  # noqa: E402
from prunegan.chapters.part2.config import CRITERIA, SETTINGS  # noqa: E402
from prunegan.chapters.part2.criteria import standard_methods  # noqa: E402
from prunegan.core import provenance  # noqa: E402
from prunegan.data import DEFAULT_N_VAL  # noqa: E402
from prunegan.pruning import engine, executors, strategies  # noqa: E402
from prunegan.pruning.executors import Execution  # noqa: E402
from prunegan.runs import bank, protocol  # noqa: E402
from prunegan.runs.baseline import baseline  # noqa: E402
from prunegan.pruning.strategies import Method  # noqa: E402
from prunegan.train import CPU_THREADS, TrainConfig  # noqa: E402

SPARSITIES = (0.8, 0.9)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--pairs", type=int, default=20, help="protocol pairs per (method, setting, sparsity)")
    p.add_argument("--bank-seeds", type=int, default=3, help="retraining seeds per bank mask")
    p.add_argument("--loop-masks", type=int, default=40, help="masks of part 2 (one shared config)")
    p.add_argument("--workers", type=int, default=engine.default_workers(), help="worker processes (part 1)")
    p.add_argument("--json", metavar="PATH", help="also write all measurements to this JSON file")
    return p


def check_args(args: argparse.Namespace) -> None:
    """Raise ``ValueError`` naming the bad value if an argument is out of range."""
    for name in ("pairs", "bank_seeds", "loop_masks", "workers"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be >= 1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return parse_checked(build_parser(), check_args, argv)


def chapter_jobs(base, args) -> list:
    """The distinct jobs (mask, retraining config) of chapter 6's bank and protocol on ``base``."""
    jobs = []
    for setting, il in SETTINGS.items():
        cfg = bank.BankConfig(
            baselines=(base.config,),
            sparsities=SPARSITIES,
            temperatures=(0.0, 1.0),
            draws=2,
            min_channels=(1,),
            include_linear=il,
            retrain=TrainConfig(epochs=1, seed=0),
            seed=0,
            retrain_seeds=args.bank_seeds,
            criteria=CRITERIA,
            min_distinct=24,
            exhaustive_limit=200,
        )
        jobs += bank.jobs(cfg, 0, base)
        proto = protocol.ProtocolConfig(
            samples=args.pairs, retrain=TrainConfig(epochs=1, seed=1000), seed=1000
        )
        one = {"min_channels_per_layer": 1, "include_linear": il}
        methods = [
            Method("random", **one, name="random-min1"),
            Method("uniform-collapse-free", **one, name="uniform-collapse-free"),
            *standard_methods(il),
        ]
        entries = [protocol.entry(m, proto.seed) for m in methods]
        for s in SPARSITIES:
            jobs += protocol.jobs(base.model, s, entries, proto, include_linear=il)
    distinct = {j.cache_name(): j for j in jobs}
    return list(distinct.values())


def run_groups(model, masks, data, configs, groups, workers) -> tuple[list[dict], float]:
    """The local executor on ``groups`` (as the engine calls it): rows and wall seconds."""
    start = time.perf_counter()
    rows = executors.EXECUTORS.get("local")(
        model,
        masks,
        data,
        configs,
        groups,
        evaluate=engine.evaluate_group,
        threads=CPU_THREADS,
        form="compact",
        execution=Execution(workers=workers, progress=True),
        on_result=None,
    )
    return rows, time.perf_counter() - start


def differences(fused: list[dict], alone: list[dict]) -> dict:
    """How far the fused rows' test accuracy is from the rows of masks retrained alone (points)."""
    gaps = [100 * (f["retrained_acc"] - a["retrained_acc"]) for f, a in zip(fused, alone)]
    absolute = sorted(abs(g) for g in gaps)
    return {
        "masks": len(gaps),
        "equal": sum(g == 0 for g in gaps),
        "mean_gap_points": sum(gaps) / len(gaps),
        "median_abs_gap_points": absolute[len(absolute) // 2],
        "max_abs_gap_points": absolute[-1],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"{provenance.summary([provenance.describe('cpu')])}; kernels {kernels.in_effect()}; {load_avg()}")
    base = baseline(replace(part1.baseline_config(seed=0), n_val=DEFAULT_N_VAL))
    jobs = chapter_jobs(base, args)
    masks, configs = [j.mask for j in jobs], [j.retrain for j in jobs]
    groups = engine.groups(base.model, masks, configs)
    sizes = [len(g) for g in groups]
    print(
        f"part 1: {len(jobs)} distinct jobs of chapter 6 on one network; fused into {len(groups)} groups "
        f"(mean {len(jobs) / len(groups):.1f} masks, largest {max(sizes)}); {args.workers} workers"
    )
    alone, t_alone = run_groups(
        base.model, masks, base.data, configs, [[i] for i in range(len(jobs))], args.workers
    )
    fused_rows, t_fused = run_groups(base.model, masks, base.data, configs, groups, args.workers)
    part1_out = {
        "jobs": len(jobs),
        "groups": len(groups),
        "workers": args.workers,
        "alone_s": t_alone,
        "fused_s": t_fused,
        "alone_masks_per_min": 60 * len(jobs) / t_alone,
        "fused_masks_per_min": 60 * len(jobs) / t_fused,
        "ratio": t_alone / t_fused,
        **differences(fused_rows, alone),
    }
    print(f"  one by one: {t_alone:7.1f} s  {part1_out['alone_masks_per_min']:7.1f} masks/min")
    print(
        f"  fused     : {t_fused:7.1f} s  {part1_out['fused_masks_per_min']:7.1f} masks/min   "
        f"ratio {part1_out['ratio']:.2f}x"
    )
    print(
        f"  accuracy fused - alone: {part1_out['equal']} of {len(jobs)} equal; median |gap| "
        f"{part1_out['median_abs_gap_points']:.2f}, max |gap| {part1_out['max_abs_gap_points']:.2f}, "
        f"mean gap {part1_out['mean_gap_points']:+.3f} points"
    )

    loop_masks = [
        strategies.prune(base.model, "random", SPARSITIES[i % 2], seed=500 + i, min_channels_per_layer=1)
        for i in range(args.loop_masks)
    ]
    retrain = TrainConfig(epochs=1, seed=1000)
    start = time.perf_counter()
    loop = [engine.evaluate_mask(base.model, m, base.data, retrain) for m in loop_masks]
    t_loop = time.perf_counter() - start
    start = time.perf_counter()
    together = engine.evaluate_masks(base.model, loop_masks, base.data, retrain, workers=1)
    t_together = time.perf_counter() - start
    part2_out = {
        "masks": len(loop_masks),
        "loop_s": t_loop,
        "evaluate_masks_s": t_together,
        "ratio": t_loop / t_together,
        **differences(together, loop),
    }
    print(
        f"part 2: {len(loop_masks)} masks at 80/90 %, one config, one process: loop of evaluate_mask "
        f"{t_loop:.1f} s, evaluate_masks(workers=1) {t_together:.1f} s, ratio {part2_out['ratio']:.2f}x; "
        f"{part2_out['equal']} of {len(loop_masks)} accuracies equal, max |gap| "
        f"{part2_out['max_abs_gap_points']:.2f} points"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": provenance.describe("cpu"),
                    "kernels": kernels.in_effect(),
                    "chapter6_mix": part1_out,
                    "one_config": part2_out,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
