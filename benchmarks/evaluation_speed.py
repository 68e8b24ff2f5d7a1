"""How many pruning masks per minute can be evaluated (prune → retrain → test)?

In one run, on the same fixed set of masks (spread over sparsities 0-95 %, half global L1 and half
global random, from a LeNet5 trained with ``prunegan.train.fit``), with the same retraining (Adam,
lr 1e-3, batch 64, ``--epochs`` epochs, same seed) it times

(a) the plain reference a user would write from the original study: a torchvision-style data set
    of uint8 images with per-sample transforms (``ToTensor`` + ``Normalize`` on PIL images) through
    ``DataLoader(batch_size=64, shuffle=True)``, the mask applied to the full network with
    ``torch.nn.utils.prune.custom_from_mask`` (weight and bias of each conv), one mask after another,
    with torch's default settings;
(a') a leaner reference: the same, but the data are the in-memory, pre-normalised tensors through
    ``TensorDataset`` + ``DataLoader`` (no PIL images, no per-sample transforms), so the engine's
    speed-up is shown against a plain loop without the data-pipeline cost too;
(b) prunegan's engine: ``engine.evaluate_mask`` one mask after another in this process (what a
    sweep does row by row), and ``engine.evaluate_masks`` spreading the masks over worker processes.

It prints masks evaluated per minute for each, their ratio, the mean retrained accuracy of each,
how the time grows with the number of masks and with the data size (``--data`` against
``--scale-data``, by default the embedded mnist-5k against the full 60,000-image Fashion-MNIST).

    python benchmarks/evaluation_speed.py                 # default run: ~4 min on 2 idle cores,
                                                          # up to ~15 min when other jobs keep them busy
    python benchmarks/evaluation_speed.py --masks 4 --scale-data none   # quick look
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import time

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn.utils import prune as torch_prune
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data import Dataset as TorchDataset
from torchvision import transforms

from prunegan import data as data_mod
from prunegan import models, train
from prunegan.core.masks import ChannelMask
from prunegan.pruning import engine, strategies

#: Normalisation statistics (mean, std of the training pixels) the reference's ``Normalize`` uses.
NORMALISE = {"mnist-5k": (0.1307, 0.3081), "mnist": (0.1307, 0.3081), "fashion-mnist": (0.2860, 0.3530)}
BATCH_SIZE = 64  # the original study's batch size, for both the reference and the engine
LEAN = "lean reference (TensorDataset + DataLoader)"
LR = 1e-3


# ---------------------------------------------------------------------------------------------
# Arguments

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default="mnist-5k", help="data set of the main comparison")
    p.add_argument("--masks", type=int, default=5, help="number of masks, spread over sparsities 0-95 %%")
    p.add_argument("--epochs", type=int, default=3, help="retraining epochs per mask")
    p.add_argument("--seed", type=int, default=0, help="retraining seed (also the random masks' seeds)")
    p.add_argument("--base-epochs", type=int, default=5, help="epochs to train the LeNet5 that is pruned")
    p.add_argument("--workers", type=int, default=engine.default_workers(),
                   help="worker processes of engine.evaluate_masks")
    p.add_argument("--scale-data", default="fashion-mnist",
                   help="larger data set for the data-size comparison ('none' to skip)")
    p.add_argument("--scale-masks", type=int, default=1, help="masks evaluated on --scale-data")
    p.add_argument("--scale-epochs", type=int, default=1, help="retraining epochs on --scale-data")
    p.add_argument("--no-ablation", action="store_true",
                   help="skip the reference run with one thread (shows how much the thread setting "
                        "alone gives)")
    p.add_argument("--json", metavar="PATH", help="also write all measurements to this JSON file")
    return p


def check_args(args: argparse.Namespace) -> None:
    """Raise ``ValueError`` naming the bad value if an argument is out of range."""
    names = data_mod.names()
    if args.data not in names:
        raise ValueError(f"unknown data set --data {args.data!r}; valid: {', '.join(names)}")
    if args.scale_data != "none" and args.scale_data not in names:
        raise ValueError(f"unknown data set --scale-data {args.scale_data!r}; "
                         f"valid: {', '.join(names)} or none")
    if args.scale_data == args.data:
        raise ValueError(f"--scale-data {args.scale_data!r} is the same as --data; "
                         "pick a larger data set or none")
    for name, low in (("masks", 1), ("epochs", 0), ("base_epochs", 0), ("workers", 1),
                      ("scale_masks", 1), ("scale_epochs", 0), ("seed", 0)):
        value = getattr(args, name)
        if value < low:
            flag = "--" + name.replace("_", "-")
            what = {"masks": "at least one mask is needed", "scale_masks": "at least one mask is needed"}.get(
                name, f"must be >= {low}")
            raise ValueError(f"{flag} {value}: {what}")


def parse_checked(parser: argparse.ArgumentParser, check, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv`` with ``parser`` and ``check(args)`` it; a bad value exits (status 2) with the
    ``ValueError``'s message, which names it. Shared by the benchmark scripts."""
    args = parser.parse_args(argv)
    try:
        check(args)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check ``argv``; a bad value exits (status 2) with a message naming it."""
    return parse_checked(build_parser(), check_args, argv)


# ---------------------------------------------------------------------------------------------
# The masks

def mask_set(model: nn.Module, n: int, seed: int) -> list[tuple[str, float, ChannelMask]]:
    """``n`` masks at sparsities evenly spread over 0-95 % (rounded to 5 %), alternating global L1
    and global random pruning."""
    out = []
    for i in range(n):
        sparsity = round(round(0.95 * i / max(n - 1, 1) / 0.05) * 0.05, 2)
        strategy = "l1" if i % 2 == 0 else "random"
        out.append((strategy, sparsity, strategies.prune(model, strategy, sparsity, seed=seed + i)))
    return out


# ---------------------------------------------------------------------------------------------
# (a) The reference: what a user writes from the original study

class UInt8Images(TorchDataset):
    """A torchvision-style data set: uint8 images, turned into a PIL image and transformed one
    sample at a time (as ``torchvision.datasets.MNIST.__getitem__`` does)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        img = Image.fromarray(self.images[index].numpy())
        return self.transform(img), int(self.labels[index])


def uint8_images(x: torch.Tensor, stats: tuple[float, float]) -> torch.Tensor:
    """Undo prunegan's normalisation: ``(N, 1, 28, 28)`` float → ``(N, 28, 28)`` uint8 (exact)."""
    pixels = (x[:, 0].double() * stats[1] + stats[0]) * 255.0
    rounded = pixels.round()
    if float((pixels - rounded).abs().max()) > 1e-3:
        raise RuntimeError("the data set's images are not normalised uint8 pixels")
    return rounded.to(torch.uint8)


def reference_sets(data: data_mod.Dataset) -> tuple[UInt8Images, UInt8Images]:
    stats = NORMALISE[data.name]
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((stats[0],), (stats[1],))])
    return (UInt8Images(uint8_images(data.x_train, stats), data.y_train, tf),
            UInt8Images(uint8_images(data.x_test, stats), data.y_test, tf))


def reference_accuracy(net: nn.Module, loader: DataLoader) -> float:
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += int((net(x).argmax(1) == y).sum())
            total += len(y)
    return correct / total


def lean_sets(data: data_mod.Dataset) -> tuple[TensorDataset, TensorDataset]:
    """The leaner reference's data: prunegan's in-memory, pre-normalised tensors as ``TensorDataset``s."""
    return TensorDataset(data.x_train, data.y_train), TensorDataset(data.x_test, data.y_test)


def reference_evaluate(model: nn.Module, mask: ChannelMask, train_set: TorchDataset,
                       test_set: TorchDataset, epochs: int, seed: int) -> dict:
    """Prune the full network with ``torch.nn.utils.prune`` and retrain it with a DataLoader over
    ``train_set`` (:func:`reference_sets`: PIL images and per-sample transforms; :func:`lean_sets`:
    in-memory tensors)."""
    start = time.perf_counter()
    net = copy.deepcopy(model)
    modules = dict(net.named_modules())
    for name in mask:
        conv, keep = modules[name], mask[name].float()
        torch_prune.custom_from_mask(conv, "weight", keep.view(-1, 1, 1, 1).expand_as(conv.weight))
        torch_prune.custom_from_mask(conv, "bias", keep)
    test_loader = DataLoader(test_set, batch_size=1000)
    pruned_acc = reference_accuracy(net, test_loader)
    loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        net.train()
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
    return {"pruned_acc": pruned_acc, "retrained_acc": reference_accuracy(net, test_loader),
            "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------------------------------------
# Helpers

class Series:
    """One method's run over the masks: per-mask results and cumulative wall-clock times
    (``cumulative[k - 1]``: seconds until the k-th mask was done)."""

    def __init__(self, label: str, rows: list[dict], cumulative: list[float]) -> None:
        self.label, self.rows, self.cumulative = label, rows, cumulative

    @property
    def seconds(self) -> float:
        return self.cumulative[-1]

    @property
    def per_minute(self) -> float:
        return 60.0 * len(self.rows) / self.seconds

    @property
    def mean_acc(self) -> float:
        return float(np.mean([r["retrained_acc"] for r in self.rows]))


def load_avg() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unknown"


def with_threads(n: int | None, fn, *a, **k):
    if n is None:
        return fn(*a, **k)
    with train.cpu_threads(n):
        return fn(*a, **k)


def trained_lenet(data: data_mod.Dataset, epochs: int, seed: int) -> tuple[nn.Module, float, float]:
    model = models.build("lenet5", seed=seed)
    start = time.perf_counter()
    with train.cpu_threads(train.CPU_THREADS):
        train.fit(model, data, train.TrainConfig(epochs=epochs, seed=seed, device="cpu"),
                  eval_every_epoch=False)
    model.eval()
    return model, train.evaluate(model, data), time.perf_counter() - start


def interleaved(methods: dict, masks: list) -> dict[str, Series]:
    """Run every method on mask 1, then every method on mask 2, ... (so a change of the machine's
    load during the run hits all methods alike); cumulative time per method."""
    out = {label: Series(label, [], []) for label in methods}
    for _, _, mask in masks:
        for label, fn in methods.items():
            start = time.perf_counter()
            row = fn(mask)
            elapsed = time.perf_counter() - start
            series = out[label]
            series.rows.append(row)
            series.cumulative.append((series.cumulative[-1] if series.cumulative else 0.0) + elapsed)
    return out


def pooled(model, masks, data, retrain, workers) -> Series:
    """``engine.evaluate_masks`` over worker processes; cumulative = when each result was ready."""
    start = time.perf_counter()
    done = []
    rows = engine.evaluate_masks(model, [m for _, _, m in masks], data, retrain, workers=workers,
                                 on_result=lambda i, row: done.append(time.perf_counter() - start))
    return Series(f"engine, {workers} processes (evaluate_masks)", rows, done)


def short(label: str) -> str:
    """A column header: the label up to its first comma or parenthesis."""
    return label.replace(", torch.set_num_threads(1)", " 1 thread").split(" (")[0].replace(",", "")


def growth_table(series: list[Series]) -> str:
    n = len(series[0].rows)
    ks = sorted({k for k in (1, 2, 4, 8, 16, 32, 64, 128, n) if k <= n})
    lines = [f"  {'masks':>6}" + "".join(f"{short(s.label):>24}" for s in series)]
    for k in ks:
        lines.append(f"  {k:>6}" + "".join(f"{s.cumulative[k - 1]:>23.1f}s" for s in series))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    report: dict = {"args": vars(args), "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "default_threads": torch.get_num_threads()}
    print(f"# evaluation speed: torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"torch default threads {torch.get_num_threads()}, {load_avg()}", flush=True)

    # ---- main comparison -------------------------------------------------------------------
    data = data_mod.load(args.data)
    model, base_acc, base_s = trained_lenet(data, args.base_epochs, args.seed)
    print(f"LeNet5 trained {args.base_epochs} epochs on {data!r}: "
          f"test accuracy {base_acc:.3f} ({base_s:.0f}s)")
    masks = mask_set(model, args.masks, args.seed)
    print(f"{len(masks)} masks: " + ", ".join(f"{st} {sp:.0%}" for st, sp, _ in masks))
    retrain = train.TrainConfig(epochs=args.epochs, batch_size=BATCH_SIZE, lr=LR, seed=args.seed,
                                device="cpu")
    train_set, test_set = reference_sets(data)
    lean_train, lean_test = lean_sets(data)

    methods = {"reference (DataLoader + nn.utils.prune)":
               lambda m: reference_evaluate(model, m, train_set, test_set, args.epochs, args.seed)}
    if not args.no_ablation:
        methods["reference, torch.set_num_threads(1)"] = (
            lambda m: with_threads(1, reference_evaluate, model, m, train_set, test_set, args.epochs,
                                   args.seed))
    methods[LEAN] = lambda m: reference_evaluate(model, m, lean_train, lean_test, args.epochs, args.seed)
    methods["engine, one process (evaluate_mask)"] = lambda m: engine.evaluate_mask(model, m, data, retrain)
    print(f"\n## {args.masks} masks × {args.epochs} epochs on {data.name}; methods interleaved mask by mask; "
          f"{load_avg()}", flush=True)
    series = list(interleaved(methods, masks).values())
    print(f"## engine with {args.workers} worker processes; {load_avg()}", flush=True)
    series.append(pooled(model, masks, data, retrain, args.workers))
    load_after = load_avg()

    ref = series[0]
    print(f"\n{'method':<46}{'masks/min':>10}{'× reference':>13}{'mean retrained acc':>20}{'seconds':>9}")
    for s in series:
        print(f"{s.label:<46}{s.per_minute:>10.2f}{s.per_minute / ref.per_minute:>12.1f}×{s.mean_acc:>20.4f}"
              f"{s.seconds:>9.1f}")
    print(f"({load_after})")
    by = {s.label: s for s in series}
    eng1, engn = series[-2], series[-1]
    print(f"\nengine vs reference: {eng1.per_minute / ref.per_minute:.1f}× in one process, "
          f"{engn.per_minute / ref.per_minute:.1f}× with {args.workers} processes", end="")
    one = by.get("reference, torch.set_num_threads(1)")
    if one is not None:
        print(f"; vs the reference given one thread: {eng1.per_minute / one.per_minute:.1f}× and "
              f"{engn.per_minute / one.per_minute:.1f}×", end="")
    lean = by[LEAN]
    print(f"\nengine vs the leaner reference (in-memory tensors): {eng1.per_minute / lean.per_minute:.1f}× "
          f"in one process, {engn.per_minute / lean.per_minute:.1f}× with {args.workers} processes; "
          f"the leaner reference is {lean.per_minute / ref.per_minute:.1f}× the reference")
    print("\nper mask: sparsity, strategy, retrained accuracy of each method (same seed, same epochs)")
    for i, (st, sp, _) in enumerate(masks):
        print(f"  {sp:>5.0%} {st:<7}" + "".join(f"{s.rows[i]['retrained_acc']:>8.3f}" for s in series))
    diffs = [abs(s.rows[i]["retrained_acc"] - ref.rows[i]["retrained_acc"])
             for s in series[1:] for i in range(len(masks))]
    print(f"largest per-mask |accuracy difference| to the reference: {max(diffs):.3f} "
          f"(test set of {len(data.y_test)} images: one image = {1 / len(data.y_test):.3f})")
    print("\ntime against number of masks (cumulative wall-clock seconds)")
    print(growth_table(series))
    report["main"] = {"data": data.name, "n_train": len(data.y_train), "base_acc": base_acc,
                      "masks": [{"strategy": st, "sparsity": sp} for st, sp, _ in masks],
                      "load_after": load_after,
                      "series": {s.label: {"per_minute": s.per_minute, "mean_acc": s.mean_acc,
                                           "seconds": s.seconds, "cumulative": s.cumulative,
                                           "retrained_acc": [r["retrained_acc"] for r in s.rows]}
                                 for s in series}}

    # ---- data size ---------------------------------------------------------------------------
    if args.scale_data != "none":
        big = data_mod.load(args.scale_data)
        print(f"\n## data size: {args.scale_masks} masks × {args.scale_epochs} epoch(s) on {big!r} "
              f"against the same on {data.name}; {load_avg()}", flush=True)
        big_model, big_acc, big_s = trained_lenet(big, 1, args.seed)
        print(f"LeNet5 trained 1 epoch on {big.name}: test accuracy {big_acc:.3f} ({big_s:.0f}s)")
        sizes = {}
        for d, m in ((data, model), (big, big_model)):
            sub = mask_set(m, args.scale_masks, args.seed)
            cfg = train.TrainConfig(epochs=args.scale_epochs, batch_size=BATCH_SIZE, lr=LR, seed=args.seed,
                                    device="cpu")
            tr, te = reference_sets(d)
            ltr, lte = lean_sets(d)
            methods = {"reference": lambda k: reference_evaluate(m, k, tr, te, args.scale_epochs, args.seed)}
            if not args.no_ablation:
                methods["reference 1 thread"] = lambda k: with_threads(
                    1, reference_evaluate, m, k, tr, te, args.scale_epochs, args.seed)
            methods["lean reference"] = lambda k: reference_evaluate(m, k, ltr, lte,
                                                                     args.scale_epochs, args.seed)
            methods["engine"] = lambda k: engine.evaluate_mask(m, k, d, cfg)
            res = interleaved(methods, sub)
            sizes[d.name] = {"n_train": len(d.y_train), "n_test": len(d.y_test),
                             **{k: s.seconds / len(sub) for k, s in res.items()},
                             **{f"{k}_acc": s.mean_acc for k, s in res.items()}}
        cols = [k for k in methods]
        print(f"\nseconds per mask ({args.scale_epochs} epoch(s))")
        print(f"{'data set':<16}{'train images':>13}" + "".join(f"{k:>20}" for k in cols)
              + f"{'engine speed-up':>17}")
        for name, r in sizes.items():
            print(f"{name:<16}{r['n_train']:>13}" + "".join(f"{r[k]:>20.1f}" for k in cols)
                  + f"{r['reference'] / r['engine']:>16.1f}×")
        (a, ra), (b, rb) = sizes.items()
        print(f"{rb['n_train'] / ra['n_train']:.0f}× the images → "
              + ", ".join(f"{k} {rb[k] / ra[k]:.1f}×" for k in cols) + f" the time ({load_avg()})")
        report["data_size"] = sizes
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()
