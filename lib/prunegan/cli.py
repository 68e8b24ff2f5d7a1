"""``prunegan map`` (or ``python -m prunegan map``): a generator's keep-probability map of your own
trained network. The command sits above every layer of the library (it reads a generator and draws
with :mod:`prunegan.plots`).

    prunegan map --model lenet5 --weights my_net.pt --sparsity 0.8 \\
        [--setting conv|conv-linear] [--samples N --seed S] [--out map.png] [--generator path.pt]

prints the exact keep-probability of every prunable channel per layer, the most probable mask and
``N`` sampled masks, and writes chapter 6's keep-probability figure (:func:`prunegan.plots.part2.keep_map`).
The generator is the shipped one of ``--setting`` (:func:`prunegan.gan.load_shipped`) unless
``--generator`` names a file saved with :meth:`Generator.save`. Image features read the embedded MNIST
images (:func:`prunegan.data.default_inputs`, offline). Every input is checked before any work; bad
input exits with status 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from . import models
from .core import counts
from .core.masks import ChannelMask, layer_sizes
from .core.validate import check_int, check_sparsity
from .gan.generator import Generator
from .gan.shipped import SETTINGS, load_shipped, setting_name

#: Figure formats ``--out`` may name.
FIGURE_FORMATS = ("png", "pdf", "svg")


class BadInput(ValueError):
    """An input the command refuses (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block, no SystemExit from inside main
        raise BadInput(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="prunegan", description="The GAN on your own network.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    m = sub.add_parser("map", help="keep-probability of every channel, most probable and sampled masks")
    m.add_argument("--model", required=True, help=f"architecture: one of {', '.join(models.names())}")
    m.add_argument("--weights", required=True, help="the trained network's state_dict (torch.save)")
    m.add_argument("--sparsity", required=True, type=float,
                   help="fraction of prunable channels removed, in (0, 1): round(sparsity · n) pruned")
    m.add_argument("--setting", default=None,
                   help="conv (default) or conv-linear: which layers are pruned and which shipped generator")
    m.add_argument("--samples", default=5, type=int, help="sampled masks to print (default 5)")
    m.add_argument("--seed", default=0, type=int, help="mask i is drawn with seed S + i (default 0)")
    m.add_argument("--out", default="keep_map.png", help="figure file (.png, .pdf or .svg)")
    m.add_argument("--generator", default=None,
                   help="a generator file (Generator.save) instead of the shipped one")
    return p


def _load_weights(path: Path, model: nn.Module) -> None:
    """Load ``path`` (a state_dict, or a dict holding one under ``"state_dict"``) into ``model``;
    ``BadInput`` naming the keys / shapes that do not fit."""
    if not path.is_file():
        raise BadInput(f"--weights {path}: no such file")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:
        raise BadInput(f"--weights {path} does not load as a torch state_dict "
                       f"({type(exc).__name__})") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInput(f"--weights {path} is not a state_dict (a mapping of parameter names to tensors)")
    want = model.state_dict()
    missing = sorted(set(want) - set(state))
    unexpected = sorted(set(state) - set(want))
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(want[k].shape)}" for k in want
              if k in state and state[k].shape != want[k].shape]

    def few(items):
        return ", ".join(items[:4]) + (f" (+{len(items) - 4} more)" if len(items) > 4 else "")

    problems = [f"missing {few(missing)}" if missing else "",
                f"unexpected {few(unexpected)}" if unexpected else "",
                f"shape (file vs model) {few(shapes)}" if shapes else ""]
    problems = [x for x in problems if x]
    if problems:
        raise BadInput(f"--weights {path} do not fit model {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(state)


def _check(args) -> tuple[nn.Module, Generator, bool, float]:
    """Every check of ``map`` before any work; returns (model with its weights, generator,
    include_linear, sparsity)."""
    try:
        sparsity = check_sparsity(args.sparsity)
        check_int("--samples", args.samples, 0)
        check_int("--seed", args.seed, 0)
        setting = None if args.setting is None else setting_name(args.setting)
        fmt = Path(args.out).suffix.lstrip(".").lower()
        if fmt not in FIGURE_FORMATS:
            raise BadInput(f"--out {args.out}: the figure must end in one of .{', .'.join(FIGURE_FORMATS)}")
        model = models.build(args.model)  # an unknown name: ValueError listing the valid ones
        if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
            raise BadInput(f"--model {args.model} has no Conv2d layer: the generator prunes conv channels")
        _load_weights(Path(args.weights), model)
        generator = Generator.load(args.generator) if args.generator else load_shipped(setting or "conv")
        include_linear = SETTINGS[setting][1] if setting else generator.include_linear
        counts.check_feasible(layer_sizes(model, include_linear=include_linear), sparsity, 1)
    except BadInput:
        raise
    except (FileNotFoundError, ValueError) as exc:  # the library's clear errors, as one line
        raise BadInput(str(exc)) from exc
    model.eval()
    return model, generator, include_linear, sparsity


def _kept(mask: ChannelMask) -> str:
    return "; ".join(f"{layer} {torch.nonzero(mask[layer]).flatten().tolist()}" for layer in mask)


def run_map(args, out=None) -> None:
    """The ``map`` command for parsed ``args``, printing to ``out`` (default ``sys.stdout``)."""
    out = sys.stdout if out is None else out
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from .analysis import masks as mask_analysis
    from .core.store import atomic_write
    from .plots import part2

    model, g, il, s = _check(args)
    keep = g.keep_probabilities(model, s, include_linear=il)
    n = sum(len(p) for p in keep.values())
    source = args.generator or f"shipped {'conv+linear' if il else 'conv'}"
    print(f"{args.model} ({args.weights}), sparsity {s}: {counts.n_pruned(n, s)} of {n} channels pruned, "
          f"{counts.n_kept(n, s)} kept, at least 1 per layer; generator: {source}", file=out)
    print("keep-probability per channel (exact; they sum to the number kept):", file=out)
    for layer, p in keep.items():
        print(f"{layer} ({len(p)} channels, expected kept {float(p.sum()):.2f})", file=out)
        for start in range(0, len(p), 10):
            values = " ".join(f"{float(v):.4f}" for v in p[start:start + 10])
            print(f"  {layer}[{start}:{min(start + 10, len(p))}] {values}", file=out)
    mode = g.mode(model, s, include_linear=il)
    masks = g.sample(model, s, args.samples, seed=args.seed, include_linear=il) if args.samples else []
    probs = g.mask_probabilities(model, [mode, *masks], s, include_linear=il)
    print(f"most probable mask (P = {float(probs[0]):.3g}), kept channels: {_kept(mode)}", file=out)
    for i, m in enumerate(masks):
        print(f"sample {i} (seed {args.seed + i}, P = {float(probs[i + 1]):.3g}): {_kept(m)}", file=out)
    frame = mask_analysis.keep_map(g, model, [s], include_linear=il)
    fig = part2.keep_map(frame, title=f"Keep-probability per channel ({args.model}, {source})")
    fmt = Path(args.out).suffix.lstrip(".").lower()
    atomic_write(args.out, lambda tmp: fig.savefig(tmp, format=fmt, dpi=120))
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(f"figure: {args.out}", file=out)


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); 0 on success, 2 on bad input."""
    try:
        args = parser().parse_args(argv)
        if args.command == "map":
            run_map(args)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
