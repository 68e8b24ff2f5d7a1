"""Scorers: one score per prunable channel (higher = keep). Selection is separate
(:func:`prunegan.pruning.select.select`).

A scorer is a function ``scorer(model, layers, rng, *, sparsity, **options) -> {layer: (C,) float tensor}``:
``model`` is the network, ``layers`` maps its prunable layers' names to their modules (in order), ``rng`` is
the ``torch.Generator`` that every random draw uses, ``sparsity`` the target (most scorers ignore it),
``options`` the scorer's own keyword options. A scorer that returns a whole mask as 0/1 scores
(the ``uniform-*`` scorers, ``gan``, ``gan-mode``) also declares
``min_channels_per_layer`` and is given the method's minimum, so that its mask already keeps it.
Scorers are registered by name in :data:`SCORERS`; the image-based criteria (``taylor``, ``hrank``,
``act-mean``, ``act-nonzero``, ``out-mass``, ``ablation-loss``, ``only-kept-acc``, :data:`IMAGE_SCORERS`) read
their statistics from :mod:`prunegan.pruning.importance`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from ..core import counts
from ..core.distribution import StructuredMasks
from ..core.registry import Registry
from ..core.store import weights_digest
from ..core.validate import check_int, check_number
from . import importance
from .memo import Memo, copied
from .select import select_per_layer, uniform_kept_per_layer

Scorer = Callable[..., dict[str, torch.Tensor]]
SCORERS: Registry[Scorer] = Registry("strategy")


def l1_norms(layers: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """Mean |w| of each output channel: sum of |w| over the channel's weights / their number."""
    return {n: m.weight.detach().abs().flatten(1).mean(1).cpu() for n, m in layers.items()}


@SCORERS.register("l1")
def l1(model: nn.Module, layers: Mapping[str, nn.Module], rng: torch.Generator, *,
       sparsity: float) -> dict[str, torch.Tensor]:
    """Global L1: channels with the smallest mean |w| are pruned first, across all layers."""
    return l1_norms(layers)


@SCORERS.register("random")
def random(model: nn.Module, layers: Mapping[str, nn.Module], rng: torch.Generator, *,
           sparsity: float) -> dict[str, torch.Tensor]:
    """Uniformly random channels over all prunable channels."""
    return {n: torch.rand(m.weight.shape[0], generator=rng) for n, m in layers.items()}


@SCORERS.register("noisy-l1")
def noisy_l1(model: nn.Module, layers: Mapping[str, nn.Module], rng: torch.Generator, *, sparsity: float,
             temperature: float = 1.0) -> dict[str, torch.Tensor]:
    """L1 made a little random: ``log(mean|w|) + temperature · Gumbel(0, 1)`` noise.

    Temperature 0 is exactly L1; a large temperature approaches random pruning."""
    return gumbel_perturbed(l1_norms(layers), temperature, rng)


def gumbel_perturbed(scores: Mapping[str, torch.Tensor], temperature: float,
                     rng: torch.Generator) -> dict[str, torch.Tensor]:
    """``log(score) + temperature · Gumbel(0, 1)`` per channel (positive scores; 0 keeps the order of
    ``scores``, a large temperature approaches a uniformly random order). Noise is drawn layer by
    layer in order from ``rng`` (so temperature 0 draws nothing)."""
    temperature = check_number("temperature", temperature, 0)
    out = {}
    for name, score in scores.items():
        logs = torch.log(score.detach().to(torch.float32).cpu().clamp_min(1e-30))
        if temperature > 0:
            u = torch.rand(logs.shape, generator=rng).clamp_(1e-12, 1 - 1e-12)
            logs = logs + temperature * -torch.log(-torch.log(u))
        out[name] = logs
    return out


#: Importances already computed, by (criterion, layers, digest of the model's weights); a bank asks
#: for the same network's importance once per noisy draw, and building Torch-Pruning's dependency
#: graph is what costs (about 10 ms a call for LeNet-5).
_IMPORTANCE_MEMO = Memo(64)


def torch_pruning_importance(model: nn.Module, layers: Mapping[str, nn.Module],
                             criterion: str) -> dict[str, torch.Tensor]:
    """Torch-Pruning's importance of every output channel of ``layers``, per layer: ``criterion`` is
    ``"magnitude"`` (group L1 norm, coupled next-layer weights included), ``"lamp"`` or ``"fpgm"``
    (scores normalised by the layer's mean, as Torch-Pruning does by default). Remembered for the
    same weights (a model changed in place is recomputed); the caller gets copies."""
    key = (criterion, tuple(layers), weights_digest(model, n=32))
    return copied(_IMPORTANCE_MEMO.get_or_compute(
        key, lambda: _torch_pruning_importance(model, layers, criterion)))


def _torch_pruning_importance(model: nn.Module, layers: Mapping[str, nn.Module],
                              criterion: str) -> dict[str, torch.Tensor]:
    import torch_pruning as tp

    from .surgery import INPUT_SHAPE

    importance = {"magnitude": lambda: tp.importance.GroupMagnitudeImportance(p=1),
                  "lamp": tp.importance.LAMPImportance, "fpgm": tp.importance.FPGMImportance}[criterion]()
    device = next(model.parameters()).device
    with torch.enable_grad():
        graph = tp.DependencyGraph().build_dependency(model,
                                                      example_inputs=torch.zeros(INPUT_SHAPE, device=device))
    out = {}
    for name, layer in layers.items():
        fn = tp.prune_conv_out_channels if isinstance(layer, nn.Conv2d) else tp.prune_linear_out_channels
        group = graph.get_pruning_group(layer, fn, idxs=list(range(layer.weight.shape[0])))
        out[name] = importance(group).detach().cpu().to(torch.float32)
    return out


def _register_torch_pruning(criterion: str) -> None:
    @SCORERS.register(f"tp-{criterion}")
    def scorer(model: nn.Module, layers: Mapping[str, nn.Module], rng: torch.Generator, *, sparsity: float,
               temperature: float = 0.0) -> dict[str, torch.Tensor]:
        return gumbel_perturbed(torch_pruning_importance(model, layers, criterion), temperature, rng)

    scorer.__doc__ = (f"Torch-Pruning's {criterion!r} importance (see :func:`torch_pruning_importance`), "
                      "made a little random like ``noisy-l1``: log importance + temperature · Gumbel noise "
                      "(0: none).")


for _criterion in ("magnitude", "lamp", "fpgm"):
    _register_torch_pruning(_criterion)


def _register_statistic(name: str, statistic: str, what: str) -> Scorer:
    probe = statistic in importance.PROBE_STATISTICS

    @SCORERS.register(name)
    def scorer(model: nn.Module, layers: Mapping[str, nn.Module], rng: torch.Generator, *, sparsity: float,
               inputs: torch.Tensor | None = None,
               labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return importance.importance(model, layers, statistic, inputs=inputs, labels=labels)

    scorer.__name__ = scorer.__qualname__ = name.replace("-", "_")
    scorer.__doc__ = (
        f"{what} (from ``{statistic}`` of :func:`prunegan.pruning.importance.channel_statistics`; "
        f"higher = keep), over ``inputs`` (``(N, C, H, W)`` float images; default: the embedded validation "
        f"images :func:`prunegan.data.default_inputs`, for networks taking 1×28×28 images)"
        + (" and their ``labels`` (``(N,)`` int64; default with the default images: "
           ":func:`prunegan.data.default_labels`; ``inputs`` without ``labels`` is a ``ValueError``)" if probe
           else "; ``labels``, if given with ``inputs``, are only checked")
        + ". Deterministic (``rng`` is not used); memoised by the weights', images' and labels' digests.")
    return scorer


#: Image-based importance criteria: scorer name → (statistic, what it measures).
IMAGE_SCORERS: dict[str, tuple[str, str]] = {
    "act-mean": ("act_mean", "Mean post-ReLU activation of the channel"),
    "act-nonzero": ("act_zero_share", "Share of the channel's outputs above 0, ``1 − act_zero_share`` (a "
                                      "channel that is more often ≤ 0 is less important; exact, in float64)"),
    "taylor": ("taylor", "First-order Taylor importance, mean |a · ∂L/∂a| (L against the model's own "
                         "predictions)"),
    "out-mass": ("out_mass", "Weight mass Σ|w| the next layer reads from the channel"),
    "hrank": ("hrank", "HRank: mean rank of the channel's ReLU feature maps (0 for Linear units)"),
    "ablation-loss": ("ablation_loss", "The exact ablation oracle: the loss increase when the channel "
                                       "alone is removed"),
    "only-kept-acc": ("only_kept_acc", "The accuracy when the channel is the only one kept in its layer"),
}
for _name, (_statistic, _what) in IMAGE_SCORERS.items():
    _register_statistic(_name, _statistic, _what)


@SCORERS.register("uniform-collapse-free")
def uniform_collapse_free(model: nn.Module, layers: Mapping[str, nn.Module], rng: torch.Generator, *,
                          sparsity: float, min_channels_per_layer: int = 0) -> dict[str, torch.Tensor]:
    """The uniform distribution over collapse-free masks: a mask drawn uniformly among all masks that
    keep exactly ``n − round(sparsity · n)`` channels and at least ``max(1, min_channels_per_layer)``
    in every layer (so never a collapsed layer), as scores (1 = kept, 0 = pruned): the exact
    structured distribution with all parameters zero, i.e. an untrained generator. Unlike ``random``
    with ``min_channels_per_layer=1`` (random scores, the top one of each layer protected), every
    collapse-free mask is equally likely; unlike ``uniform-l1`` / ``uniform-random`` (layer-wise
    uniform pruning), layers do not keep the same fraction."""
    sizes = [m.weight.shape[0] for m in layers.values()]
    minimum = max(1, check_int("min_channels_per_layer", min_channels_per_layer, 0))
    counts.check_feasible(sizes, sparsity, minimum)
    mask = StructuredMasks(sizes, counts.n_kept(sum(sizes), sparsity),
                           min_per_layer=minimum).sample(1, rng)[0]
    return dict(zip(layers, torch.split(mask.to(torch.float32), sizes)))


def _register_layerwise_uniform(within: str, scorer: Scorer, how: str) -> None:
    @SCORERS.register(f"uniform-{within}")
    def layerwise(model: nn.Module, layers: Mapping[str, nn.Module], rng: torch.Generator, *, sparsity: float,
                  min_channels_per_layer: int = 0) -> dict[str, torch.Tensor]:
        sizes = {name: m.weight.shape[0] for name, m in layers.items()}
        kept = uniform_kept_per_layer(sizes, sparsity, min_channels_per_layer)
        mask = select_per_layer(scorer(model, layers, rng, sparsity=sparsity), kept)
        return {name: keep.to(torch.float32) for name, keep in mask.items()}

    layerwise.__name__ = layerwise.__qualname__ = f"uniform_{within}"
    layerwise.__doc__ = (
        f"Layer-wise uniform pruning, {within} within each layer: every layer keeps the same fraction "
        f"``K / n`` of its channels (``K = n − round(sparsity · n)``), counts rounded by largest remainders "
        f"so they sum to ``K`` exactly, at least ``max(1, min_channels_per_layer)`` per layer (see "
        f":func:`prunegan.pruning.select.uniform_kept_per_layer`); inside a layer it keeps {how}. "
        f"Returned as scores (1 = kept, 0 = pruned).")


_register_layerwise_uniform("l1", l1, "the channels with the highest mean |w| (the ``l1`` score); "
                                      "it ignores the seed")
_register_layerwise_uniform("random", random, "a uniformly random subset of channels, drawn from ``rng`` "
                                              "(the top ``random`` scores)")
for _name in IMAGE_SCORERS:  # the default images and labels (no inputs= / labels= options)
    _register_layerwise_uniform(_name, SCORERS.get(_name),
                                f"the channels with the highest ``{_name}`` scores over the default images")


@SCORERS.register("gan")
def gan_scores(model: nn.Module, layers: Mapping[str, nn.Module], rng: torch.Generator, *, sparsity: float,
            generator: object = None, min_channels_per_layer: int = 0) -> dict[str, torch.Tensor]:
    """One mask sampled from a trained generator (``generator=``: a :class:`prunegan.gan.Generator`,
    or any object with ``scores(layers, sparsity, rng, min_channels_per_layer=..., model=...)``; ``model``
    is the network the layers belong to, for image features), as scores
    (1 = kept, 0 = pruned); it keeps at least ``max(1, min_channels_per_layer)`` channels per layer."""
    _check_generator("gan", generator, "scores")
    return generator.scores(layers, sparsity, rng, min_channels_per_layer=min_channels_per_layer, model=model)


@SCORERS.register("gan-mode")
def gan_mode_scores(model: nn.Module, layers: Mapping[str, nn.Module], rng: torch.Generator, *,
                    sparsity: float, generator: object = None,
                    min_channels_per_layer: int = 0) -> dict[str, torch.Tensor]:
    """The generator's most probable mask (:meth:`prunegan.gan.Generator.mode`: the exact mode of its
    structured distribution, allocation across layers and channels together) as 0/1 scores; a
    deterministic criterion (``rng`` is not used)."""
    _check_generator("gan-mode", generator, "mode_scores")
    return generator.mode_scores(layers, sparsity, min_channels_per_layer=min_channels_per_layer, model=model)


def _check_generator(strategy: str, generator: object, method: str) -> None:
    if generator is None:
        raise ValueError(f"strategy {strategy!r} needs a trained generator: "
                         f"strategies.prune(model, {strategy!r}, sparsity, seed=..., "
                         "generator=prunegan.gan.fit(bank, config) or prunegan.gan.Generator.load(path))")
    if not callable(getattr(generator, method, None)):
        raise ValueError(f"strategy {strategy!r}: generator must be a prunegan.gan.Generator, "
                         f"got {type(generator).__name__}")
