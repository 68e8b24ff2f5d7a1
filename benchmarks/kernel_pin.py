"""What does pinning torch's CPU kernels to AVX2 (prunegan.kernels) cost on a CPU that has more?

The same work runs in fresh processes with the pin (the default) and with ``PRUNEGAN_KERNELS=native``
(torch's own choice: AVX-512 where the CPU has it), alternately ``--repeats`` times so that a change
of the machine's load hits both alike: ``--masks`` one-epoch retrainings of a trained LeNet-5 at
80-90 % (fused in one group, as the engine does, and one by one), one thread each. It prints the
median seconds of each and the ratio pinned / native, and whether the two computed the same rows
(on an AVX-512 CPU they do not: that is why the pin exists). On a CPU with AVX2 only, both are the
same kernels and the ratio is ~1.

    python benchmarks/kernel_pin.py                 # ~3 min on 2 idle cores
    python benchmarks/kernel_pin.py --masks 8 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluation_speed import load_avg, parse_checked  # noqa: E402

from prunegan import kernels  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--masks", type=int, default=16, help="masks retrained per process")
    p.add_argument("--repeats", type=int, default=3, help="rounds of (pinned, native)")
    p.add_argument("--json", metavar="PATH", help="also write all measurements to this JSON file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p


def check_args(args: argparse.Namespace) -> None:
    """Raise ``ValueError`` naming the bad value if an argument is out of range."""
    for name in ("masks", "repeats"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} {getattr(args, name)}: must be >= 1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return parse_checked(build_parser(), check_args, argv)


def work(n_masks: int) -> dict:
    """In this process: the timed retrainings; returns seconds and the rows' accuracies."""
    from prunegan import models, train
    from prunegan import data as data_mod
    from prunegan.pruning import engine, fused, strategies

    data = data_mod.load("mnist-5k", seed=0).subset(3500, 1000)
    model = models.build("lenet5", seed=0)
    with train.cpu_threads(1):
        train.fit(model, data, train.TrainConfig(epochs=2, seed=0), eval_every_epoch=False)
    model.eval()
    masks = [
        strategies.prune(model, "random", (0.8, 0.9)[i % 2], seed=i, min_channels_per_layer=1)
        for i in range(n_masks)
    ]
    retrain = train.TrainConfig(epochs=1, seed=1000)
    start = time.perf_counter()
    alone = [engine.evaluate_mask(model, m, data, retrain)["retrained_acc"] for m in masks]
    t_alone = time.perf_counter() - start
    start = time.perf_counter()
    with train.cpu_threads(1):
        together = [r["retrained_acc"] for r in fused.evaluate_group(model, masks, data, retrain)]
    t_fused = time.perf_counter() - start
    return {
        "alone_s": t_alone,
        "fused_s": t_fused,
        "alone_acc": alone,
        "fused_acc": together,
        "kernels": kernels.in_effect(),
    }


def run_worker(native: bool, n_masks: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in (*kernels.PIN, kernels.SWITCH)}
    if native:
        env[kernels.SWITCH] = "native"
    out = subprocess.run(
        [sys.executable, __file__, "--worker", "--masks", str(n_masks)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(work(args.masks)))
        return 0
    print(f"CPU {kernels.cpu_isa()}; {load_avg()}")
    runs = {"pinned": [], "native": []}
    for _ in range(args.repeats):
        for name in runs:
            runs[name].append(run_worker(name == "native", args.masks))
    summary = {}
    for name, rs in runs.items():
        summary[name] = {
            "kernels": rs[0]["kernels"],
            "alone_s": statistics.median(r["alone_s"] for r in rs),
            "fused_s": statistics.median(r["fused_s"] for r in rs),
        }
        k, t = rs[0]["kernels"], summary[name]
        print(
            f"{name:6s} ({k['cpu_capability']} ATen, oneDNN {k['onednn_isa']}): {args.masks} masks "
            f"one by one {t['alone_s']:6.1f} s, fused {t['fused_s']:6.1f} s"
        )
    for part in ("alone_s", "fused_s"):
        summary[f"ratio_{part}"] = summary["pinned"][part] / summary["native"][part]
    same = runs["pinned"][0]["alone_acc"] == runs["native"][0]["alone_acc"]
    summary["same_rows"] = same
    print(
        f"pinned / native: one by one {summary['ratio_alone_s']:.2f}x, "
        f"fused {summary['ratio_fused_s']:.2f}x; "
        f"the two computed {'the same' if same else 'different'} accuracies"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
