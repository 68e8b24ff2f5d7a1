"""The generator's training stages (likelihood, then adversarial with a discriminator kept from winning
outright) and the fit diagnostics: the divergence rule on both sides of its threshold, the bank
likelihood against the untrained generator's."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

import kernel_digest
from prunegan import gan, models
from prunegan.core import counts
from prunegan.core.masks import ChannelMask, prunable_layers
from prunegan.core.store import weights_digest
from prunegan.gan import GanConfig
from prunegan.gan import diagnostics as dg
from prunegan.pruning.scorers import l1_norms

WEIGHT_ONLY = ("l1_z_layer", "l1_rank_layer", "depth", "log_width", "width_share", "log_fan_in", "is_linear")
SIZES = {"conv1": 6, "conv2": 16}
BASE = GanConfig(steps=0, likelihood_steps=60, batch_size=8, hidden=16, features=WEIGHT_ONLY)


@pytest.fixture(scope="module")
def bank():
    """Every collapse-free conv 90 % mask of two LeNet-5s; the one keeping each layer's largest-|w|
    channel labelled 0.9, the 95 others 0.5 (soft weights: nearly all mass on it)."""
    return kernel_digest.hand_made_bank()


# ---------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("kw, needle", [
    ({"steps": 0, "likelihood_steps": 0}, "both 0"), ({"likelihood_steps": -1}, "likelihood_steps"),
    ({"label_smoothing": 0.5}, "label_smoothing"), ({"label_smoothing": -0.1}, "label_smoothing"),
    ({"r1_weight": -1}, "r1_weight"), ({"likelihood_weight": float("nan")}, "likelihood_weight"),
])
def test_config_rejects_bad_stage_values(kw, needle):
    with pytest.raises(ValueError, match=needle):
        GanConfig(**kw)


def test_stage_names():
    assert GanConfig().stage == "gan"
    assert GanConfig(steps=0, likelihood_steps=10).stage == "likelihood"
    assert GanConfig(likelihood_steps=10).stage == "likelihood+gan"
    c = GanConfig(likelihood_steps=10, label_smoothing=0.1, r1_weight=1.0, likelihood_weight=0.5)
    assert GanConfig.from_dict(c.to_dict()) == c


# ---------------------------------------------------------------------------------------- likelihood stage
def test_the_likelihood_stage_learns_its_bank(bank):
    """Fitted by likelihood alone, the generator puts far more mass on the bank's best mask than the
    untrained one (1/96), on its training networks and on a network it never saw; its loss falls."""
    g = gan.fit(bank, replace(BASE, likelihood_steps=150), progress=False, cache=False)
    assert [h["stage"] for h in g.history] == ["likelihood"] * 150
    nll = [h["nll"] for h in g.history]
    assert sum(nll[-15:]) / 15 < sum(nll[:15]) / 15 - 1.0
    lik = dg.bank_likelihood(g, gan.training_set(bank, g.config))
    assert (lik["gain"] > 1.0).all() and len(lik) == 2
    assert not dg.diverged(g.history) and math.isnan(dg.discriminator_end(g.history)[0])
    for net in (bank.baselines[0].model, models.build("lenet5", seed=7)):
        top = [int(v.argmax()) for v in l1_norms(prunable_layers(net)).values()]
        best = ChannelMask({k: torch.arange(n) == t for (k, n), t in zip(SIZES.items(), top)})
        assert float(g.mask_probabilities(net, [best], 0.9)[0]) > 10 / 96


def test_likelihood_then_gan_continues_from_the_likelihood_fit(bank):
    """The adversarial stage starts from the likelihood stage's generator: with the same seed its first
    rows are the likelihood-only fit's, and the rows that follow are adversarial."""
    lik = gan.fit(bank, BASE, progress=False, cache=False)
    both = gan.fit(bank, replace(BASE, steps=20, label_smoothing=0.1, r1_weight=1.0, likelihood_weight=1.0),
                   progress=False, cache=False)
    assert [h["nll"] for h in both.history[:60]] == [h["nll"] for h in lik.history]
    adv = both.history[60:]
    assert len(adv) == 20 and {h["stage"] for h in adv} == {"adversarial"}
    assert [h["step"] for h in both.history] == list(range(1, 81))
    assert all(math.isfinite(h["d_loss"]) and math.isfinite(h["nll"]) for h in adv)


def test_the_stabilisers_change_the_fit_and_the_cache_key(bank, tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path))
    plain = replace(BASE, steps=15)
    fits = [gan.fit(bank, c, progress=False) for c in
            (plain, replace(plain, r1_weight=1.0), replace(plain, label_smoothing=0.2),
             replace(plain, likelihood_weight=1.0))]
    # four fits and the one likelihood stage they share (cached once, not refitted per design)
    assert len(list(tmp_path.glob("gan_*/generator.pt"))) == 5
    digests = {weights_digest(g.net) for g in fits}
    assert len(digests) == 4
    stage = gan.fit(bank, plain.likelihood_stage(), progress=False)
    assert all(g.history[:60] == stage.history for g in fits)
    assert all(g.fit_report["bank_gain"] > 0 for g in fits) and stage.fit_report["bank_gain"] > 0


def test_a_saved_generator_keeps_its_fit_report(bank, tmp_path):
    g = gan.fit(bank, BASE, progress=False, cache=False)
    g.save(tmp_path / "g.pt")
    again = gan.Generator.load(tmp_path / "g.pt")
    assert again.fit_report == g.fit_report and set(g.fit_report) == {"bank_gain"}


# ---------------------------------------------------------------------------------------- divergence rule
def _history(real: float, fake: float, n: int = 50) -> list[dict]:
    early = [{"stage": "adversarial", "step": i, "d_real": 0.5, "d_fake": 0.5} for i in range(n - 5)]
    return early + [{"stage": "adversarial", "step": i, "d_real": real, "d_fake": fake} for i in range(5)]


@pytest.mark.parametrize("real, fake, expected", [
    (0.998, 0.010, True),     # the shipped conv + Linear generator of af6b46f: the discriminator won
    (0.90, 0.10, True),       # gap 0.80: on the threshold
    (0.89, 0.10, False),      # gap 0.79: just under it
    (0.60, 0.45, False),      # a contest
])
def test_the_divergence_rule_on_both_sides_of_its_threshold(real, fake, expected):
    assert dg.DIVERGENCE_GAP == 0.8
    assert dg.diverged(_history(real, fake)) is expected
    r, f = dg.discriminator_end(_history(real, fake))
    assert r == pytest.approx(real) and f == pytest.approx(fake)


def test_the_rule_reads_the_end_of_the_adversarial_stage_only():
    won_early = _history(0.5, 0.5)
    won_early[:10] = [{"stage": "adversarial", "step": i, "d_real": 1.0, "d_fake": 0.0} for i in range(10)]
    assert not dg.diverged(won_early)
    likelihood_rows = [{"stage": "likelihood", "step": i, "nll": 1.0} for i in range(100)]
    assert not dg.diverged(likelihood_rows)
    assert dg.diverged(likelihood_rows + _history(0.99, 0.01))


def test_fit_summary_of_a_fitted_generator(bank):
    g = gan.fit(bank, replace(BASE, steps=10), progress=False, cache=False)
    row = dg.fit_summary(g)
    assert row["stage"] == "likelihood+gan" and row["steps"] == 70
    assert 0 <= row["d_real"] <= 1 and 0 <= row["d_fake"] <= 1 and row["diverged"] in (True, False)


def test_bank_likelihood_of_the_untrained_generator_is_uniform(bank):
    g = gan.Generator(BASE, history=[{"stage": "likelihood", "step": 1, "nll": 0.0}])
    lik = dg.bank_likelihood(g, gan.training_set(bank, BASE))
    assert lik["loglik"].tolist() == pytest.approx([-math.log(96)] * 2)
    assert lik["gain"].abs().max() < 1e-9
    assert len(counts.all_masks([6, 16], 0.9, 1)) == 96


# ---------------------------------------------------------------------------------------- the form's ceiling
def _random_weights(ex, seed: int = 0):
    """``ex`` with uneven random soft weights (log-normal): weighted marginals far from uniform."""
    w = (2 * torch.randn(len(ex.weights), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.float64)).exp()
    return replace(ex, weights=w / w.sum())


def test_the_form_ceiling_is_the_product_of_the_weighted_marginals_at_one_channel_per_layer(bank):
    """At conv 90 % every mask keeps one channel per layer, so the best distribution of the generator's
    form is the product of the bank's weighted keep-shares per layer: the fit finds it, and its likelihood
    is above the uniform distribution's."""
    from prunegan.core.distribution import StructuredMasks

    ex = _random_weights(gan.from_bank(bank, networks=(0,), features=("depth",))[0])
    dist = dg.form_ceiling(ex)
    assert torch.allclose(dist.marginals(), ex.weights @ ex.masks.double(), atol=2e-3)
    assert not torch.allclose(dist.marginals(), StructuredMasks(ex.feats.sizes, 2).marginals(), atol=2e-2)
    assert dg.likelihood_loss(dist, ex) < dg.likelihood_loss(StructuredMasks(ex.feats.sizes, 2), ex) - 0.05
    # deterministic, and fewer steps do not get there
    assert torch.equal(dg.form_ceiling(ex).log_w, dist.log_w)
    assert not torch.allclose(dg.form_ceiling(ex, steps=5).marginals(), ex.weights @ ex.masks.double(),
                              atol=2e-3)


@pytest.mark.parametrize("kw, needle", [({"steps": 0}, "steps"), ({"lr": 0.0}, "lr")])
def test_the_form_ceiling_rejects_bad_settings(bank, kw, needle):
    ex = gan.from_bank(bank, networks=(0,), features=("depth",))[0]
    with pytest.raises(ValueError, match=needle):
        dg.form_ceiling(ex, **kw)
