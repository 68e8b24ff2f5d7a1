"""The per-setting choice of issue 29's item 3 (:mod:`prunegan.chapters.part2.setting_choice`): the
candidates, leave-one-network-out fits scored by sampled retraining on real (tiny) networks, and the rule
(a candidate replaces the fold's design only where its paired advantage clears its CI) on both sides."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from prunegan import gan
from prunegan.chapters import part2
from prunegan.chapters.part2 import fits, setting_choice
from prunegan.pruning.executors import Execution
from prunegan.runs import bank as bank_mod
from prunegan.runs import runner
from prunegan.runs.bank import BankConfig
from prunegan.runs.baseline import BaselineConfig
from prunegan.runs import protocol
from prunegan.runs.protocol import ProtocolConfig
from prunegan.train import TrainConfig

QUIET = Execution(progress=False)
TINY = gan.GanConfig(likelihood_steps=6, steps=3, batch_size=4, hidden=8, weight_temperature=0.2,
                     features=("l1_z_layer", "l1_rank_layer", "depth", "log_width", "is_linear"))


def _table(values: dict) -> pd.DataFrame:
    """A sampled_choice-shaped table: candidate → per-network val_acc at sparsities 0.8 and 0.9 (equal)."""
    return pd.DataFrame([{"candidate": c, "network": n, "sparsity": s, "val_acc": v}
                         for c, vals in values.items() for n, v in enumerate(vals) for s in (0.8, 0.9)])


def test_a_candidate_replaces_the_design_only_when_its_advantage_clears_its_ci():
    base = (0.70, 0.80, 0.75, 0.72)
    # likelihood: +1 point on every network (CI [1, 1], clears); magnitude: a larger mean (+5.75) whose CI
    # reaches below 0; every-feature: worse everywhere
    clear = _table({"design": base, "likelihood": [v + 0.01 for v in base],
                    "magnitude": (0.79, 0.89, 0.84, 0.68), "every-feature": [v - 0.02 for v in base]})
    adv = setting_choice.choice_advantages(clear)
    assert adv["candidate"].tolist() == ["design", "likelihood", "magnitude", "every-feature"]
    assert adv["advantage"].tolist() == pytest.approx([0.0, 1.0, 5.75, -2.0])
    assert adv["clears"].tolist() == [False, True, False, False]
    assert adv.loc[2, "ci_low"] < 0 < adv.loc[1, "ci_low"] and adv["networks"].tolist() == [4] * 4
    assert setting_choice.chosen_candidate(clear) == "likelihood"
    # a larger mean advantage (+1.25) but one network at -1: its CI no longer clears and the design stays
    noisy = _table({"design": base, "likelihood": (0.72, 0.82, 0.77, 0.71)})
    assert setting_choice.choice_advantages(noisy)["advantage"].tolist() == pytest.approx([0.0, 1.25])
    assert setting_choice.chosen_candidate(noisy) == "design"
    # two that clear: the larger mean; a tie: the first in table order
    both = _table({"design": base, "likelihood": [v + 0.01 for v in base],
                   "magnitude": [v + 0.03 for v in base]})
    assert setting_choice.chosen_candidate(both) == "magnitude"
    tie = _table({"design": base, "likelihood": [v + 0.02 for v in base],
                  "magnitude": [v + 0.02 for v in base]})
    assert setting_choice.chosen_candidate(tie) == "likelihood"


def test_the_advantage_is_paired_per_network_over_the_mean_of_its_sparsities():
    t = _table({"design": (0.5, 0.6, 0.7), "likelihood": (0.52, 0.61, 0.73)})
    t.loc[(t["candidate"] == "likelihood") & (t["sparsity"] == 0.9), "val_acc"] -= 0.02  # 0.9: 0, −1, +1
    adv = setting_choice.choice_advantages(t).set_index("candidate")
    assert adv.loc["likelihood", "advantage"] == pytest.approx((1 + 0 + 2) / 3)


def test_the_candidates_are_the_design_its_stage_and_two_feature_sets():
    cfg = part2.configs(part2.SMOKE_PARAMS).fold(0)
    feats = part2.BASE_FEATURES + ("taylor_z_layer",)
    c = setting_choice.candidates(cfg, feats, (0.1, 1.0))
    assert tuple(c) == setting_choice.CANDIDATES
    assert c["design"] == part2.designs(cfg, feats, (0.1, 1.0))["gan"]
    assert (c["design"].entropy_weight, c["design"].critic_weight) == (0.1, 1.0)
    assert c["likelihood"] == c["design"].likelihood_stage() and c["likelihood"].stage == "likelihood"
    assert c["magnitude"].features == part2.BASE_FEATURES
    assert set(c["every-feature"].features) == set(part2.STRUCTURAL_FEATURES + part2.CHANNEL_FEATURES)
    for name in ("magnitude", "every-feature"):  # only the features differ from the design
        assert replace(c[name], features=c["design"].features) == c["design"]


@pytest.fixture(scope="module")
def tiny_banks(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRUNEGAN_RESULTS", str(tmp_path_factory.mktemp("choice_results")))
        bases = tuple(BaselineConfig(init_seed=s, n_train=300, n_test=100, n_val=100,
                                     train=TrainConfig(epochs=1, seed=s, device="cpu")) for s in range(3))
        config = BankConfig(baselines=bases, sparsities=(0.5,), temperatures=(1.0,), draws=2,
                            retrain=TrainConfig(epochs=1, device="cpu"))
        yield {"conv": bank_mod.build(config, execution=QUIET)}, mp


def _fold(**kw):
    retrain = TrainConfig(epochs=1, seed=5000, device="cpu")
    base = dict(train_networks=(0, 1, 2), choice_seed=11, critic_steps=3, sparsities=(0.5,),
                landscape_sparsity=0.9, protocol=ProtocolConfig(samples=2, seed=5000, retrain=retrain))
    return SimpleNamespace(**{**base, **kw})


def test_each_candidate_is_fitted_without_the_network_it_is_scored_on(tiny_banks):
    banks, _ = tiny_banks
    f = _fold()
    cands = {"design": TINY, "likelihood": TINY.likelihood_stage()}
    table, seconds = setting_choice.sampled_choice(banks, f, "conv", {j: cands for j in (0, 1, 2)},
                                                   masks=fits.IN_SAMPLE_MASKS, execution=QUIET,
                                                   progress=False)
    assert sorted(zip(table["candidate"], table["network"])) == sorted(
        (c, n) for c in cands for n in (0, 1, 2))
    assert (table["masks"] == fits.IN_SAMPLE_MASKS).all() and table["val_acc"].between(0, 1).all()
    others = {n: ", ".join(str(m) for m in (0, 1, 2) if m != n) for n in (0, 1, 2)}
    assert table["trained_on"].tolist() == [others[n] for n in table["network"]]
    # the score of a left-out network is the generator's sampled, retrained accuracy there: fits.in_sample's
    # estimate (as many masks, the protocol's seeds) of the same generator, fitted on the other two networks
    fit_seconds = 0.0
    for r in table.itertuples():
        others = tuple(n for n in (0, 1, 2) if n != r.network)
        g = gan.fit(banks["conv"], replace(cands[r.candidate], networks=others, seed=11), progress=False)
        got = fits.in_sample(banks, f, {"conv": g}, (r.network,), label="x", execution=QUIET)
        assert r.val_acc == pytest.approx(float(got["gen_val_acc"].iloc[0]), abs=1e-9)
        if r.candidate == "design":  # its history holds its likelihood stage's seconds too: each counted once
            fit_seconds += g.history[-1]["seconds"]
    assert fit_seconds < seconds  # the fits (each distinct stage once) and the retrainings


def test_each_split_reads_its_own_candidates_and_critics(tiny_banks):
    banks, _ = tiny_banks
    critic = replace(TINY, critic_weight=1.0)
    other = replace(critic, features=TINY.features[:3])
    splits = {0: {"design": critic}, 1: {"design": other}, 2: {"design": critic}}
    table, _ = setting_choice.sampled_choice(banks, _fold(), "conv", splits, masks=1, execution=QUIET,
                                             progress=False)
    one = replace(_fold().protocol, samples=1)
    for j, split in splits.items():
        c = split["design"]
        # the split's generator: its own config, fitted on the other networks with a critic of the choice
        # seed on those networks reading its features; its one mask retrained as the choice retrained it
        others = tuple(n for n in (0, 1, 2) if n != j)
        crit = gan.fit_critic(banks["conv"], networks=others, steps=3, seed=11, features=c.features)
        g = gan.fit(banks["conv"], replace(c, networks=others, seed=11), critic=crit, progress=False)
        jobs = fits.sampled_jobs(banks["conv"].baselines[j].model, g, (0.5,), one, include_linear=False)
        acc = runner.run(banks["conv"].baselines[j], jobs, execution=QUIET)["retrained_val_acc"].astype(float)
        row = table[table["network"] == j].iloc[0]
        assert row["masks"] == 1 and row["val_acc"] == pytest.approx(float(acc.iloc[0]), abs=1e-9)


def test_nested_candidates_choose_without_the_left_out_network():
    f = part2.configs(part2.DEFAULTS).fold(0)
    a = next(x for x in part2.CHANNEL_FEATURES if x not in part2.BASE_FEATURES)  # a selectable one
    # feature a: a signal on every training network but the first, where it is reversed; with the first
    # among the networks it is chosen on, its CI over them reaches 0
    per_net = pd.DataFrame([{"network": n, "feature": a, "spearman": -1.0 if i == 0 else 0.5 + 0.01 * i}
                            for i, n in enumerate(f.train_networks)])
    # design (0.1, 0) beats the simplest by one point on every network but the first, where it loses 30
    rows = [{"entropy_weight": e, "critic_weight": 0.0, "network": n, "expected_val_acc": v}
            for i, n in enumerate(f.train_networks)
            for e, v in ((0.0, 0.5), (0.1, 0.2 if i == 0 else 0.51))]
    splits = setting_choice.nested_candidates(f, per_net, pd.DataFrame(rows))
    first, second = f.train_networks[:2]
    assert splits[first]["design"].entropy_weight == 0.1  # without the first network (0.1, 0) clears
    assert splits[second]["design"].entropy_weight == 0.0  # with it, its CI reaches below 0
    assert a in splits[first]["design"].features and a not in splits[second]["design"].features
    assert splits[first]["likelihood"] == splits[first]["design"].likelihood_stage()


MIXED = {0: {"design": TINY}, 1: {"x": TINY}, 2: {"design": TINY}}


@pytest.mark.parametrize("kw, needle", [({"setting": "fc"}, "fc"),
                                        ({"splits": {0: {"design": TINY}}}, "every"),
                                        ({"splits": MIXED}, "same candidates"), ({"masks": 3}, "masks=3"),
                                        ({"masks": 0}, "masks")])
def test_sampled_choice_rejects_bad_input(tiny_banks, kw, needle):
    banks, _ = tiny_banks
    args = {"setting": "conv", "splits": {j: {"design": TINY} for j in (0, 1, 2)}, "masks": 2, **kw}
    with pytest.raises(ValueError, match=needle):
        setting_choice.sampled_choice(banks, _fold(), args["setting"], args["splits"], masks=args["masks"],
                                      execution=QUIET, progress=False)


def test_leave_one_network_out_needs_three_training_networks(tiny_banks):
    banks, _ = tiny_banks
    with pytest.raises(ValueError, match="at least 3"):
        setting_choice.sampled_choice(banks, _fold(train_networks=(0, 1)), "conv", {0: {"design": TINY}},
                                      execution=QUIET, progress=False)


def test_the_grid_adds_every_weight_pair_on_the_same_likelihood_stage():
    cfg = part2.configs(part2.DEFAULTS).fold(0)
    c = setting_choice.candidates(cfg, part2.BASE_FEATURES, (0.1, 0.0), grid=True)
    extra = {k: v for k, v in c.items() if k not in setting_choice.CANDIDATES}
    assert {(g.entropy_weight, g.critic_weight) for g in extra.values()} == set(cfg.grid)
    assert extra["entropy0.1-critic0"] == c["design"]  # the chosen pair: the design under its pair's name
    assert all(g.likelihood_stage() == c["likelihood"] for g in extra.values())
    assert extra["entropy0-critic1"].critic_weight == 1.0
    # the names do not depend on the pair chosen (nested splits choose different pairs)
    assert list(setting_choice.candidates(cfg, part2.BASE_FEATURES, (0.0, 1.0), grid=True)) == list(c)
    plain = setting_choice.candidates(cfg, part2.BASE_FEATURES, (0.1, 0.0))
    assert tuple(plain) == setting_choice.CANDIDATES


#: A fold for heldout_rows: trained on networks 0 and 1 with two generator seeds, measured on network 2.
HELDOUT_FOLD = SimpleNamespace(
    train_networks=(0, 1), held_out=(2,), gan_seeds=(21, 22), critic_steps=3, sparsities=(0.5,),
    protocol=ProtocolConfig(samples=2, seed=6000, retrain=TrainConfig(epochs=1, seed=6000, device="cpu")))


def test_heldout_rows_measure_each_candidate_as_the_chapter_measures_its_gan(tiny_banks):
    banks, _ = tiny_banks
    f = HELDOUT_FOLD
    rows = setting_choice.heldout_rows(banks, f, "conv", {"design": TINY, "same": TINY,
                                                          "likelihood": TINY.likelihood_stage()},
                                       execution=QUIET, progress=False)
    assert len(rows) == 3 * 1 * 1 * 2 and set(rows["network"]) == {2} and rows["trial"].tolist()[:2] == [0, 1]
    # the same config under another name: the same generators, masks and retraining, row for row
    design, same = (rows[rows["candidate"] == c]["retrained_acc"].tolist() for c in ("design", "same"))
    assert design == same
    assert setting_choice.heldout_effect(rows, "same", "design")["effect"].tolist() == [0.0]
    # pair i is generator i's mask i (seed protocol.seed + i): the chapter's GAN entry over the fold's seeds
    gens = [gan.fit(banks["conv"], replace(TINY, networks=(0, 1), seed=s), progress=False) for s in (21, 22)]
    entry = part2.methods.gan_entry("gan", gens, include_linear=False, seed=6000)
    model = banks["conv"].baselines[2].model
    for i in (0, 1):
        assert entry.propose(model, 0.5, i).key() == gens[i].sample(model, 0.5, 1, seed=6000 + i)[0].key()
    # and heldout_rows' rows are those pairs retrained with the protocol's seeds
    jobs = protocol.jobs(model, 0.5, [entry], f.protocol, include_linear=False)
    expected = runner.run(banks["conv"].baselines[2], jobs, execution=QUIET)["retrained_acc"].astype(float)
    assert design == pytest.approx(expected.tolist(), abs=1e-9)


def test_heldout_rows_give_a_candidate_that_weighs_a_critic_the_critics_of_the_folds_seeds(tiny_banks):
    banks, _ = tiny_banks
    f = HELDOUT_FOLD
    critic = replace(TINY, critic_weight=0.5)
    rows = setting_choice.heldout_rows(banks, f, "conv", {"critic": critic, "again": critic},
                                       execution=QUIET, progress=False)
    # the candidates' rows: generators fitted with critic i of seed i (one critic set for both names)
    critics = gan.fit_critics(banks["conv"], networks=(0, 1), seeds=(21, 22), steps=3, features=TINY.features,
                              progress=False)
    gens = gan.fit_many(banks["conv"], [replace(critic, networks=(0, 1), seed=s) for s in (21, 22)],
                        critics=critics, progress=False)
    entry = part2.methods.gan_entry("gan", gens, include_linear=False, seed=6000)
    jobs = protocol.jobs(banks["conv"].baselines[2].model, 0.5, [entry], f.protocol, include_linear=False)
    expected = runner.run(banks["conv"].baselines[2], jobs, execution=QUIET)["retrained_acc"].astype(float)
    for name in ("critic", "again"):
        got = rows[rows["candidate"] == name]["retrained_acc"].tolist()
        assert got == pytest.approx(expected.tolist(), abs=1e-9)
    # at critic weight 0 the same seed gives another keep map: the critic is read, not dropped
    plain = gan.fit(banks["conv"], replace(critic, networks=(0, 1), seed=21, critic_weight=0.0),
                    progress=False)
    model = banks["conv"].baselines[2].model
    with_critic, without = (torch.cat(list(g.keep_probabilities(model, 0.5).values()))
                            for g in (gens[0], plain))
    assert not torch.allclose(with_critic, without)


def test_the_heldout_effect_is_paired_per_network_then_averaged_with_a_ci():
    pairs = [(0.5, 0.52), (0.6, 0.61), (0.7, 0.73)]  # (design, x) per network
    rows = pd.DataFrame([{"candidate": c, "network": n, "sparsity": s, "trial": t, "retrained_acc": v}
                         for s in (0.8, 0.9) for n, (a, b) in enumerate(pairs) for t in (0, 1)
                         for c, v in (("design", a), ("x", b + (0.01 if t else -0.01)))])
    eff = setting_choice.heldout_effect(rows, "x", "design")
    assert eff["sparsity"].tolist() == [0.8, 0.9] and eff["networks"].tolist() == [3, 3]
    assert eff["effect"].tolist() == pytest.approx([2.0, 2.0])  # (2 + 1 + 3) / 3 per sparsity
    assert (eff["ci_low"] < 2.0).all() and (eff["ci_high"] > 2.0).all()
    with pytest.raises(ValueError, match="'y'"):
        setting_choice.heldout_effect(rows, "y", "design")
