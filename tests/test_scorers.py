"""prunegan.pruning.scorers: the registry of scorers, their signature, options and errors
(Torch-Pruning's criteria: test_scorers_torch_pruning.py)."""
from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from prunegan import models
from prunegan.core.masks import layer_sizes, prunable_layers
from prunegan.pruning import scorers, strategies
from prunegan.pruning.scorers import SCORERS
from prunegan.pruning.select import select

#: The image-based criteria (prunegan.pruning.importance; their own tests: test_pruning_importance.py).
IMAGE = ["ablation-loss", "act-mean", "act-nonzero", "hrank", "only-kept-acc", "out-mass", "taylor"]
BUILT_IN = sorted(["gan", "gan-mode", "l1", "noisy-l1", "random", "tp-fpgm", "tp-lamp", "tp-magnitude",
                   "uniform-collapse-free", "uniform-l1", "uniform-random", *IMAGE,
                   *(f"uniform-{n}" for n in IMAGE)])


@pytest.fixture(scope="module")
def lenet():
    return models.build("lenet5", seed=0)


def mean_abs_weight(model: nn.Module, names) -> dict[str, torch.Tensor]:
    """Independent L1 score: mean |w| over each output channel's weights."""
    layers = dict(model.named_modules())
    return {n: torch.stack([layers[n].weight[c].abs().mean()
                            for c in range(layers[n].weight.shape[0])]).detach()
            for n in names}


def test_registered_scorers():
    assert SCORERS.names() == BUILT_IN == strategies.names()


@pytest.mark.parametrize("name", [n for n in BUILT_IN if not n.startswith("gan")])
def test_every_scorer_has_the_common_signature_and_one_score_per_channel(lenet, name):
    scorer = SCORERS.get(name)
    params = list(inspect.signature(scorer).parameters.values())
    assert [p.name for p in params[:3]] == ["model", "layers", "rng"]
    assert params[3].name == "sparsity" and params[3].kind is inspect.Parameter.KEYWORD_ONLY
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not p.empty for p in params[4:])
    for include_linear in (False, True):
        layers = prunable_layers(lenet, include_linear=include_linear)
        out = scorer(lenet, layers, torch.Generator().manual_seed(0), sparsity=0.5)
        assert {k: tuple(s.shape) for k, s in out.items()} == {
            k: (c,) for k, c in layer_sizes(lenet, include_linear=include_linear).items()}
        assert all(torch.isfinite(s).all() for s in out.values())


@pytest.mark.parametrize("name", ["random", "noisy-l1", "uniform-random", "uniform-collapse-free"])
def test_random_scorers_draw_only_from_rng(lenet, name):
    layers = prunable_layers(lenet)

    def run(seed):
        return SCORERS.get(name)(lenet, layers, torch.Generator().manual_seed(seed), sparsity=0.5)

    torch.manual_seed(0)
    a = run(3)
    torch.manual_seed(1)  # global RNG state does not matter
    b = run(3)
    c = run(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_l1_norms_match_independent_computation(lenet):
    layers = prunable_layers(lenet, include_linear=True)
    ours = scorers.l1_norms(layers)
    theirs = mean_abs_weight(lenet, list(layers))
    for n in layers:
        torch.testing.assert_close(ours[n], theirs[n])


def test_noisy_l1_is_log_l1_plus_scaled_gumbel(lenet):
    layers = prunable_layers(lenet)
    log_l1 = {k: torch.log(v) for k, v in scorers.l1_norms(layers).items()}
    cold = scorers.noisy_l1(lenet, layers, torch.Generator().manual_seed(0), sparsity=0.5, temperature=0.0)
    warm = scorers.noisy_l1(lenet, layers, torch.Generator().manual_seed(0), sparsity=0.5, temperature=1.0)
    hot = scorers.noisy_l1(lenet, layers, torch.Generator().manual_seed(0), sparsity=0.5, temperature=2.0)
    for k in layers:
        torch.testing.assert_close(cold[k], log_l1[k])
        # same draws, twice the temperature: twice the noise
        torch.testing.assert_close(hot[k] - log_l1[k], 2 * (warm[k] - log_l1[k]), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(warm[k], log_l1[k])


# -------------------------------------------------------------------------------- unknown names, options

@pytest.mark.parametrize("bad", ["L1", "magnitude", "l2", "", None, 3])
def test_unknown_strategy_lists_valid_ones(lenet, bad):
    for call in (lambda: SCORERS.get(bad), lambda: strategies.score(lenet, bad, 0.5, seed=0),
                 lambda: strategies.prune(lenet, bad, 0.5, seed=0)):
        with pytest.raises(ValueError) as err:
            call()
        message = str(err.value)
        assert message.startswith(f"unknown strategy {bad!r}; valid: ")
        assert all(name in message for name in BUILT_IN)


@pytest.mark.parametrize("strategy, option, valid", [
    ("l1", "temperature", "none"),
    ("random", "std", "none"),
    ("noisy-l1", "temp", "temperature"),
    ("tp-lamp", "T", "temperature"),
    ("gan", "generatr", "generator"),
])
def test_unknown_option_raises_a_clear_error(lenet, strategy, option, valid):
    for call in (strategies.score, strategies.prune):
        with pytest.raises(ValueError) as err:
            call(lenet, strategy, 0.5, seed=0, **{option: 1.0})
        assert str(err.value) == (f"strategy {strategy!r} has no option(s) [{option!r}]; "
                                  f"its options: {valid}")


# ------------------------------------------------------------------------------------------- gan

class FakeGenerator:
    """Anything with ``scores(layers, sparsity, rng, min_channels_per_layer=..., model=...)`` can drive
    the 'gan' scorer."""

    def __init__(self) -> None:
        self.calls = []

    def scores(self, layers, sparsity, rng, min_channels_per_layer=0, model=None):
        self.calls.append((list(layers), sparsity))
        self.minimum = min_channels_per_layer
        self.model = model
        # keep the last channels of every layer first
        return {k: torch.arange(m.weight.shape[0], dtype=torch.float32) for k, m in layers.items()}


def test_gan_scorer_uses_the_generator_with_the_target_sparsity(lenet):
    fake = FakeGenerator()
    mask = strategies.prune(lenet, "gan", 0.3, seed=0, generator=fake)
    assert fake.calls == [(["conv1", "conv2"], 0.3)]
    assert fake.model is lenet  # the scorer passes the network its layers belong to
    expected = {k: torch.arange(n, dtype=torch.float32) for k, n in layer_sizes(lenet).items()}
    assert mask == select(expected, 0.3)
    # by hand: round(6.6) = 7 lowest of 0..5 and 0..15 (ties to conv1, which comes first)
    assert mask.to_dict() == {"conv1": [0, 0, 0, 0, 1, 1], "conv2": [0] * 3 + [1] * 13}
    strategies.prune(lenet, "gan", 0.3, seed=0, generator=fake, min_channels_per_layer=2)
    assert fake.minimum == 2  # the method's minimum reaches a scorer that samples whole masks


@pytest.mark.parametrize("strategy", ["gan", "gan-mode"])
def test_gan_scorer_without_a_generator_says_how_to_get_one(lenet, strategy):
    with pytest.raises(ValueError, match=f"strategy '{strategy}' needs a trained generator"):
        strategies.prune(lenet, strategy, 0.5, seed=0)
    with pytest.raises(ValueError, match="generator must be a prunegan.gan.Generator, got str"):
        strategies.prune(lenet, strategy, 0.5, seed=0, generator="model.pt")
