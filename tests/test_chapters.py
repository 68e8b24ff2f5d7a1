"""Chapter code: configs from notebook parameters, verdicts (Markdown), glue values."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as sps

from prunegan.analysis import collapse
from prunegan.chapters import part1, part2
from prunegan.data import DEFAULT_N_VAL
from prunegan.runs.runner import rows_to_frame
from test_analysis import _rows


def test_smoke_settings_shrink_the_run():
    base = part1.baseline_config(smoke=True)
    assert base.n_train == 400 and base.train.epochs == 1
    config = part1.sweep_config(base, strategy="l1", trials=20, smoke=True)
    assert config.sparsities == part1.SMOKE_SPARSITIES and config.retrain.epochs == 1 and config.trials == 3
    assert part1.smoke_trials(20, True) == 3 and part1.smoke_trials(20, False) == 20
    full = part1.sweep_config(part1.baseline_config(), strategy="noisy-l1", temperature=0.5, trials=2,
                              min_channels_per_layer=1, sparsities=(0.5, 0.9))
    assert full.method.name == "noisy-l1-T0.5-min1" and full.trials == 2 and full.retrain.epochs == 3


def test_feasible_sparsities_stop_where_the_minimum_needs_more_channels():
    assert part1.feasible_sparsities("lenet5", 0)[-1] == 0.95
    assert part1.feasible_sparsities("lenet5", 1)[-1] == 0.9  # 2 of 22 channels kept, one per layer
    assert part1.feasible_sparsities("lenet5", 2)[-1] == 0.8  # round(0.85 * 22) = 19 leaves 3 < 4


def test_collapse_verdict_follows_the_counts():
    answer = collapse.collapse_explains_stuck(rows_to_frame(_rows()))
    assert part1.collapse_verdict(answer).startswith("**No**")
    clean = {**answer, "stuck_without_collapse": 0, "collapsed_but_recovered": 0}
    assert part1.collapse_verdict(clean).startswith("**Yes**")
    assert part1.collapse_verdict({**clean, "collapsed_but_recovered": 2}).startswith("**Partly**")
    assert part1.collapse_verdict({**clean, "stuck": 0}).startswith("No run")


# ---------------------------------------------------------------------------------------- part 2: configs
def _cfg(base=None, **kw):
    """Chapter 6's configs from ``base`` (default: the full chapter's parameters) with ``kw`` replaced."""
    return part2.configs(replace(base or part2.DEFAULTS, **kw))


#: Today's parameter values of the full chapter (the notebook's cell): a default that changes changes
#: every number of the chapter.
CELL = {"seed": 0, "data": "mnist-5k", "epochs": 10, "networks": 10, "folds": 5, "n_val": 500,
        "sparsities": [0.8, 0.9], "temperatures": [0.0, 1.0], "criteria": part2.CRITERIA, "draws": 2,
        "retrain_epochs": 1, "retrain_seeds": 3, "min_distinct": 24, "exhaustive_limit": 200,
        "gan_steps": 300, "gan_seeds": 4, "entropy_weights": [0.0, 0.1, 0.3], "critic_weights": [0.0, 1.0],
        "critic_steps": 500, "samples": 4, "critic_candidates": 16, "transfer_model": "lenet5-caffe"}


def test_part2_defaults_are_the_notebooks_cell_and_build_the_same_configs():
    assert part2.params_from_cell(smoke=False, **CELL) == part2.DEFAULTS == part2.Chapter6Params()
    assert part2.DEFAULTS.sparsities == (0.8, 0.9) and isinstance(part2.DEFAULTS.entropy_weights, tuple)
    cfg = part2.configs()
    assert cfg.params is part2.DEFAULTS and cfg.seed == 0 and cfg.sparsities == (0.8, 0.9)
    # the networks are exactly Part 1's baseline config with a validation split (same cache, same numbers)
    assert cfg.networks == tuple(replace(part1.baseline_config(seed=i), n_val=DEFAULT_N_VAL)
                                 for i in range(10))
    assert cfg.transfer == replace(part1.baseline_config(model="lenet5-caffe", seed=0), n_val=DEFAULT_N_VAL)
    smoke = part2.configs(part2.SMOKE_PARAMS)
    assert smoke.networks[1] == replace(part1.baseline_config(seed=1, smoke=True), n_val=100)
    assert cfg.retrain_epochs == cfg.protocol.retrain.epochs == cfg.banks["conv"].retrain.epochs == 1


def test_part2_configs_and_overview():
    smoke = part2.SMOKE_PARAMS
    cfg = part2.configs(smoke)
    assert len(cfg.networks) == smoke.networks == 3
    assert cfg.folds == ((0,), (1,), (2,)) and cfg.held_out == (0, 1, 2)
    assert cfg.fold(2).held_out == (2,) and cfg.fold(2).train_networks == (0, 1)
    assert all(n.n_val == smoke.n_val == 100 for n in cfg.networks) and cfg.transfer.n_val == smoke.n_val
    assert all(n.n_train == 400 and n.train.epochs == 1 for n in (*cfg.networks, cfg.transfer))
    assert cfg.banks["conv+linear"].include_linear and not cfg.banks["conv"].include_linear
    assert cfg.protocol.samples == len(cfg.gan_seeds) == smoke.gan_seeds == 3
    full = part2.configs()
    assert len(full.networks) == 10 and full.folds == ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))
    last = full.fold(4)
    assert last.held_out == (8, 9) and last.train_networks == tuple(range(8))
    assert last.gan.networks == last.train_networks  # the held-out networks are never trained on
    assert full.protocol.samples == 4 == len(full.gan_seeds)
    assert all(n.n_val == DEFAULT_N_VAL and n.n_train is None for n in full.networks)
    assert full.transfer.model == "lenet5-caffe"
    assert full.banks["conv"].retrain_seeds == 3 and full.banks["conv"].criteria == part2.CRITERIA
    # a landscape on every network
    assert full.banks["conv"].exhaustive_limit >= 96 and full.landscape_sparsity == 0.9
    assert min(full.protocol.retrain_seeds()) > 2  # disjoint from the bank's seeds 0-2
    assert full.grid == ((0.0, 0.0), (0.1, 0.0), (0.3, 0.0), (0.0, 1.0), (0.1, 1.0), (0.3, 1.0))
    over = part2.mask_space_overview(full)
    row = over[(over["model"] == "lenet5") & (over["setting"] == "conv") & np.isclose(over["sparsity"], 0.9)]
    assert int(row["n_masks_no_collapse"].iloc[0]) == 96
    with pytest.raises(ValueError, match="configs takes a Chapter6Params"):
        part2.configs({"networks": 3})


def test_a_size_passed_with_smoke_is_refused_never_dropped():
    # the example: before, smoke silently gave 3 networks, 3 seeds and 1 epoch
    with pytest.raises(ValueError, match=r"smoke=True fixes networks=3, gan_seeds=3, samples=3, "
                                         r"but networks=6, gan_seeds=5, samples=5 was passed too"):
        part2.params_from_cell(smoke=True, networks=6, gan_seeds=5, samples=5, retrain_epochs=4)
    # retrain_epochs: smoke keeps the default (1), so a value passed with smoke is applied
    four = part2.params_from_cell(smoke=True, retrain_epochs=4)
    assert four == replace(part2.SMOKE_PARAMS, retrain_epochs=4)
    # the cell's defaults with smoke: the smoke run; what smoke does not set is applied
    assert part2.params_from_cell(smoke=True, **CELL) == part2.SMOKE_PARAMS
    one = part2.params_from_cell(smoke=True, **{**CELL, "seed": 1, "sparsities": [0.9]})
    assert one == replace(part2.SMOKE_PARAMS, seed=1, sparsities=(0.9,))
    assert "seed" not in part2.smoke_sets() and "networks" in part2.smoke_sets()
    # without smoke every value is taken as given
    assert part2.params_from_cell(smoke=False, networks=6).networks == 6
    with pytest.raises(ValueError, match=r"unknown chapter 6 parameters \['netwoks'\]"):
        part2.params_from_cell(smoke=False, netwoks=6)
    with pytest.raises(ValueError, match="smoke must be True or False"):
        part2.params_from_cell(smoke="yes")


def test_params_from_namespace_reads_every_parameter_by_name_and_ignores_the_rest():
    cell = {**CELL, "likelihood_steps": part2.DEFAULTS.likelihood_steps}
    namespace = {"smoke": False, **cell, "executor": "local", "ray_address": None, "pd": object()}
    assert part2.params_from_namespace(namespace) == part2.params_from_cell(smoke=False, **cell)
    assert part2.params_from_namespace(namespace) == part2.DEFAULTS
    smoke = part2.params_from_namespace({**namespace, "smoke": True, "seed": 1})
    assert smoke == part2.params_from_cell(smoke=True, **{**cell, "seed": 1})
    assert smoke == replace(part2.SMOKE_PARAMS, seed=1)
    for name in ("criteria", "smoke"):
        with pytest.raises(ValueError, match=rf"lacks the chapter 6 parameters \['{name}'\]"):
            part2.params_from_namespace({k: v for k, v in namespace.items() if k != name})
    with pytest.raises(ValueError, match="smoke=True fixes networks=3"):  # params_from_cell's checks hold
        part2.params_from_namespace({**namespace, "smoke": True, "networks": 6})


@pytest.mark.parametrize("kw, needle", [
    ({"networks": 5, "folds": 6}, "folds=6 must be at most networks=5"),
    ({"networks": 3, "folds": 2}, r"folds=2 .* leave at least two networks to train on in every fold "
                                  r"\(the largest holds 2 out"),
    ({"folds": 1}, r"Chapter6Params.folds must be an integer >= 2, got 1"),
    ({"networks": 2, "folds": 2}, r"Chapter6Params.networks must be an integer >= 3, got 2"),
    ({"samples": 10}, "samples=10 must equal gan_seeds=4"),
    ({"gan_seeds": 5}, "samples=4 must equal gan_seeds=5"),
    ({"gan_seeds": 1, "samples": 1}, r"Chapter6Params.gan_seeds must be an integer >= 2, got 1"),
    ({"seed": -1}, r"Chapter6Params.seed must be an integer >= 0, got -1"),
    ({"n_val": 0}, r"Chapter6Params.n_val must be an integer >= 1, got 0"),
    ({"retrain_epochs": 0}, "retrain_epochs"),
    ({"sparsities": (0.8, 1.0)}, r"sparsities entry must be in \[0, 1\)"),
    ({"sparsities": ()}, "sparsities is empty"),
    ({"entropy_weights": (0.0, -0.1)}, "entropy_weights entry"),
    ({"criteria": ("l1",)}, "criteria must be distinct names from"),
    ({"criteria": ("tp-lamp", "tp-lamp")}, "criteria must be distinct names from"),
    ({"smoke": 1}, "smoke must be True or False"),
    ({"data": "cifar"}, "cifar"),
    ({"transfer_model": "resnet"}, "resnet"),
])
def test_part2_params_reject_bad_values(kw, needle):
    with pytest.raises(ValueError, match=needle):
        part2.Chapter6Params(**kw)


def test_part2_params_accept_the_edges():
    p = part2.Chapter6Params(networks=4, folds=2, n_val=1, gan_seeds=2, samples=2, sparsities=[0.0])
    assert p.sparsities == (0.0,) and p.n_val == 1
    cfg = part2.configs(p)
    assert cfg.fold(1).train_networks == (0, 1) and cfg.fold(1).held_out == (2, 3)
    assert part2.configs(part2.Chapter6Params(networks=3, folds=3)).folds == ((0,), (1,), (2,))


def _seed_families(cfg) -> dict[str, set[int]]:
    banks = cfg.banks.values()
    return {
        "network init": {n.init_seed for n in cfg.networks},
        "network training": {n.train.seed for n in cfg.networks},
        "data split": {n.data_seed for n in (*cfg.networks, cfg.transfer)},
        "transfer network": {cfg.transfer.init_seed, cfg.transfer.train.seed},
        "bank draws": {b.seed for b in banks},
        "bank retraining": {b.retrain.seed + r for b in banks for r in range(b.retrain_seeds)},
        "generators and critics": set(cfg.gan_seeds),
        "protocol draws": {f.protocol.seed + i for f in map(cfg.fold, range(len(cfg.folds)))
                           for i in range(f.protocol.samples)},
        "protocol retraining": {s for f in map(cfg.fold, range(len(cfg.folds)))
                                for s in f.protocol.retrain_seeds()},
    }


@pytest.mark.parametrize("smoke", [False, True])
def test_replicates_share_no_seed(smoke):
    base = part2.SMOKE_PARAMS if smoke else part2.DEFAULTS
    first, second = _cfg(base, seed=0), _cfg(base, seed=1)
    assert (first.seed, second.seed) == (0, 1)
    a, b = _seed_families(first), _seed_families(second)
    for family in a:
        assert a[family] and not a[family] & b[family], family
    # within a replicate the protocol's retraining seeds are not the bank's
    assert not a["bank retraining"] & a["protocol retraining"]
    assert second.networks != first.networks and second.transfer != first.transfer
    # everything else is the same study
    assert second.sparsities == first.sparsities and second.grid == first.grid
    assert len(second.networks) == len(first.networks) and second.folds == first.folds


def test_folds_hold_every_network_out_exactly_once():
    for n, k in ((10, 5), (10, 3), (7, 2), (3, 3)):
        folds = part2.fold_networks(n, k)
        assert len(folds) == k and sorted(i for f in folds for i in f) == list(range(n))
        assert max(map(len, folds)) - min(map(len, folds)) <= 1
    assert part2.fold_networks(10, 3) == ((0, 1, 2, 3), (4, 5, 6), (7, 8, 9))
    with pytest.raises(ValueError, match="folds=4 must be at most networks=3"):
        part2.fold_networks(3, 4)
    cfg = part2.configs()
    for k, held in enumerate(cfg.folds):
        f = cfg.fold(k)
        assert f.held_out == held and set(f.train_networks) == set(range(10)) - set(held)
        assert f.gan.networks == f.train_networks and f.fold_index == k
        assert f.protocol.seed == cfg.protocol.seed + k * 4 * 16 == f.protocol.retrain.seed
        assert f.gan_seeds == cfg.gan_seeds and f.banks == cfg.banks  # same seeds, other networks
    assert cfg.held_out == tuple(range(10))  # the chapter measures every network
    with pytest.raises(ValueError, match=r"take one fold's configs with cfg.fold\(k\), k < 5"):
        cfg.train_networks
    with pytest.raises(ValueError, match="fold=5 must be below the number of folds, 5"):
        cfg.fold(5)
    with pytest.raises(ValueError, match="already fold 1's configs"):
        cfg.fold(1).fold(0)


def test_a_replicate_draws_its_own_data_split():
    from prunegan.runs.baseline import load_data

    first, second = part2.configs(part2.SMOKE_PARAMS), _cfg(part2.SMOKE_PARAMS, seed=1)
    assert {n.data_seed for n in first.networks} == {0} and first.transfer.data_seed == 0  # Part 1's split
    assert {n.data_seed for n in second.networks} == {1} and second.transfer.data_seed == 1
    a, b = load_data(first.networks[0]), load_data(second.networks[0])
    assert (a.n_val, len(a.y_test)) == (b.n_val, len(b.y_test)) == (100, 200)  # same sizes, other images
    assert not torch.equal(a.x_val, b.x_val) and not torch.equal(a.x_test, b.x_test)
    # within a replicate every network (and the transfer network) sees the same split
    assert torch.equal(load_data(second.networks[2]).x_test, b.x_test)


def test_critic_candidates_meet_no_other_seed_within_or_across_replicates():
    first, second = _cfg(seed=0), _cfg(seed=1)

    def masks(fold):  # every method's mask i is drawn with seed protocol.seed + i
        return set(range(fold.protocol.seed, fold.protocol.seed + fold.protocol.samples))

    def candidates(fold):
        p = fold.protocol
        start = p.seed + part2.CANDIDATE_OFFSET
        return set(range(start, start + p.critic_candidates * p.samples))
    for cfg in (first, second):  # within a replicate, no two folds share a mask, retraining or candidate seed
        folds = [cfg.fold(k) for k in range(len(cfg.folds))]
        for i, a in enumerate(folds):
            for b in folds[i + 1:]:
                assert not masks(a) & masks(b) and not candidates(a) & candidates(b)
                assert not set(a.protocol.retrain_seeds()) & set(b.protocol.retrain_seeds())
            assert not candidates(a) & set().union(*map(masks, folds))
    first, second = first.fold(4), second.fold(0)
    assert not candidates(first) & candidates(second)
    assert not candidates(first) & (masks(first) | masks(second))
    assert not candidates(second) & (masks(first) | masks(second))
    # the leave-one-network-out choice fits with a seed no pair is measured with
    assert first.choice_seed not in first.gan_seeds and second.choice_seed not in second.gan_seeds


def test_configs_refuse_sizes_that_would_make_replicates_share_seeds():
    for kw in ({"retrain_seeds": part2.BANK_STRIDE + 1}, {"networks": part2.SEED_STRIDE + 1},
               {"gan_seeds": part2.SEED_STRIDE, "samples": part2.SEED_STRIDE},
               {"critic_candidates": (part2.PROTOCOL_STRIDE - part2.CANDIDATE_OFFSET) // (5 * 4) + 1}):
        with pytest.raises(ValueError, match="replicates would meet"):
            part2.Chapter6Params(**kw)
    part2.Chapter6Params(retrain_seeds=part2.BANK_STRIDE)  # at the limit: allowed
    part2.Chapter6Params(networks=part2.SEED_STRIDE)


# ---------------------------------------------------------------------------------------- part 2: landscapes
def _landscape_bank(networks=(0, 1, 2), val=None):
    """A stand-in bank: every collapse-free 90 % mask of LeNet-5's convs on each network (method
    ``exhaustive``), labels known, plus a method's draw of one landscape mask (a duplicate there)."""
    from types import SimpleNamespace

    from prunegan import models
    from prunegan.core import counts
    from prunegan.core.masks import ChannelMask

    sizes = {"conv1": 6, "conv2": 16}
    masks = [ChannelMask.from_vector(torch.tensor(b), sizes) for b in counts.all_masks([6, 16], 0.9, 1)]
    rows = []
    for n in networks:
        for j, m in enumerate(masks):
            acc = 0.5 + 0.004 * ((j * (n + 3)) % 96)
            rows.append({"method": "exhaustive", "baseline": n, "sparsity": 0.9, "key": m.key(),
                         "mask": m.to_dict(),
                         "retrained_acc": acc, "val_acc": acc - 0.01 if val is None else val})
        rows.append({**rows[-5], "method": "noisy-l1", "retrained_acc": 5.0, "val_acc": 5.0})
    rows.append({**rows[0], "method": "exhaustive", "sparsity": 0.8})  # another sparsity: not this landscape
    frame = pd.DataFrame(rows)
    bank = SimpleNamespace(frame=frame,
                           baselines=[SimpleNamespace(model=models.build("lenet5", seed=n)) for n in
                                                   range(max(networks) + 1)],
                           config=SimpleNamespace(include_linear=False))
    return bank, masks


def test_landscapes_use_every_exhaustive_row_once():
    bank, masks = _landscape_bank()
    rows = part2.landscape_rows(bank, 0.9, (1, 2))
    assert len(rows) == 2 * 96 and set(rows["baseline"]) == {1, 2} and (rows["method"] == "exhaustive").all()
    land = part2.landscapes(bank, 0.9, (0, 1), "retrained_acc", setting="conv").set_index("network")
    assert list(land.columns) == ["setting", "sparsity", "masks", "p50", "p85", "p100"]
    labels = 0.5 + 0.004 * np.array([(j * 4) % 96 for j in range(96)])
    # not the 5.0 draw
    assert land.loc[1, "masks"] == 96 and land.loc[1, "p100"] == pytest.approx(labels.max())
    assert land.loc[1, "p85"] == pytest.approx(np.quantile(labels, 0.85))
    val = part2.landscapes(bank, 0.9, (1,), "val_acc").set_index("network")
    assert val.loc[1, "p50"] == pytest.approx(np.quantile(labels - 0.01, 0.5))


def test_an_untrained_generator_expects_the_landscape_mean():
    from prunegan.gan import GanConfig, Generator

    bank, _ = _landscape_bank()
    g = Generator(GanConfig(features=part2.STRUCTURAL_FEATURES), history=[{"step": 0}])  # uniform
    labels = part2.landscape_rows(bank, 0.9, (2,))["retrained_acc"]
    assert part2.expected_on_landscape(g, bank, 2, 0.9, "retrained_acc") == pytest.approx(labels.mean())
    cfg = _cfg(networks=3, folds=3, gan_seeds=2, samples=2)
    reported = pd.DataFrame({"setting": ["conv"], "network": [2]})
    gens = [Generator(GanConfig(features=part2.STRUCTURAL_FEATURES, seed=s), history=[{"step": 0}])
            for s in (0, 1)]
    table = part2.expected_table({"gan": gens}, bank, cfg, reported)
    gan, mode = table[table["method"] == "gan"], table[table["method"] == "gan-mode"]
    assert len(gan) == 2 and gan["seed"].tolist() == [0, 1]
    assert gan["expected_acc"].tolist() == pytest.approx([labels.mean()] * 2)
    assert gan["percentile"].iloc[0] == pytest.approx(100 * (labels < labels.mean()).mean())
    # the most probable mask's own label on the landscape and its exact percentile there
    rows = part2.landscape_rows(bank, 0.9, (2,))
    top = gens[0].mode(bank.baselines[2].model, 0.9)
    acc = float(rows.loc[rows["key"] == top.key(), "retrained_acc"].iloc[0])
    assert mode["seed"].tolist() == [0, 1] and mode["expected_acc"].tolist() == pytest.approx([acc, acc])
    assert mode["percentile"].iloc[0] == pytest.approx(100 * (labels < acc).mean())


def _signal_rows(values: dict) -> pd.DataFrame:
    """A feature_signal table: feature -> per-network Spearman values (networks 0, 1, 2, ...)."""
    return pd.DataFrame([{"feature": f, "network": n, "spearman": v, "n_layers": 2, "n_channels": 22}
                         for f, vals in values.items() for n, v in enumerate(vals)])


def test_selected_features_reads_only_the_given_networks():
    a, b = [f for f in part2.CHANNEL_FEATURES if f not in part2.BASE_FEATURES][:2]
    # a: a clear signal on networks 0-2, none on 3; b: a signal only on network 3 (one network: no CI)
    per_net = _signal_rows({a: (0.5, 0.6, 0.55, -0.9), b: (0.0, 0.01, -0.01, 0.9)})
    assert part2.selected_features(per_net, (0, 1, 2)) == part2.BASE_FEATURES + (a,)
    assert part2.selected_features(per_net) == part2.BASE_FEATURES  # network 3 breaks a's CI
    # the magnitude features are read whatever their signal: never listed twice
    per_l1 = _signal_rows({"l1_z_layer": (0.5, 0.6, 0.55, 0.5)})
    assert part2.selected_features(per_l1) == part2.BASE_FEATURES
    with pytest.raises(ValueError, match=r"no feature-signal rows for networks \(7,\)"):
        part2.selected_features(per_net, (7,))


def test_design_choice_is_leave_one_network_out_with_features_selected_in_each_split(monkeypatch):
    from prunegan.gan import Generator

    bank, _ = _landscape_bank(networks=(0, 1, 2, 3))
    cfg = _cfg(networks=4, folds=4, entropy_weights=(0.0, 0.5), critic_weights=(0.0,), gan_seeds=2,
               samples=2).fold(3)  # network 3 held out
    a = [f for f in part2.CHANNEL_FEATURES if f not in part2.BASE_FEATURES][0]
    # a carries a signal on networks 1 and 2 only: chosen in the split that leaves network 0 out, and
    # in no split that keeps network 0 (its Spearman there is the opposite sign)
    per_net = _signal_rows({a: (-0.8, 0.5, 0.52, 0.9)})
    critics, fits = [], []
    monkeypatch.setattr(part2.learned.gan, "fit_critics",
                        lambda b, networks, seeds, **kw: [critics.append({**kw, "networks": n, "seed": s})
                                                          or n for n, s in zip(networks, seeds)])
    monkeypatch.setattr(part2.learned.gan, "fit_many",
                        lambda b, configs, critics, **kw: fits.extend(zip(configs, critics))
                        or [Generator(c, history=[{"step": 0}]) for c in configs])
    choice = part2.design_choice(bank, cfg, per_net, progress=False)
    assert len(choice) == 2 * 3 and set(choice["network"]) == {0, 1, 2}  # never the held-out network 3
    seed = cfg.choice_seed
    assert seed not in cfg.gan_seeds  # chosen with a seed no pair is measured with
    s = part2.BASE_FEATURES
    assert {(c["networks"], c["seed"], c["features"]) for c in critics} == {
        ((1, 2), seed, s + (a,)), ((0, 2), seed, s), ((0, 1), seed, s)}
    for (config, critic), row in zip(fits, choice.itertuples()):
        assert row.network not in config.networks and set(config.networks) | {row.network} == {0, 1, 2}
        assert critic == config.networks  # the critic of the same split
        assert (config.entropy_weight, config.critic_weight) == (row.entropy_weight, row.critic_weight)
        assert config.features == (s + (a,) if row.network == 0 else s) and config.seed == cfg.choice_seed
        magnitude = ", ".join(part2.MAGNITUDE_FEATURES)
        assert row.features == (f"{magnitude}, {a}" if row.network == 0 else magnitude)
        labels = part2.landscape_rows(bank, 0.9, (row.network,))["val_acc"]
        assert row.expected_val_acc == pytest.approx(labels.mean())  # uniform generators
        assert row.percentile == pytest.approx(100 * (labels < labels.mean()).mean())


def _design_frame(values: dict) -> pd.DataFrame:
    return pd.DataFrame([{"entropy_weight": e, "critic_weight": c, "network": n, "expected_val_acc": v}
                         for (e, c), vals in values.items() for n, v in enumerate(vals)])


def test_a_design_replaces_the_simplest_only_when_its_advantage_clears_its_ci():
    base = (0.70, 0.80, 0.75, 0.72)
    # (0.1, 0): +1 point on every network (CI [1, 1], clears); (0.3, 0): a larger mean (+5.75) but one
    # network at -4 (CI reaches below 0); (0, 1): worse everywhere
    choice = _design_frame({(0.0, 0.0): base, (0.1, 0.0): [v + 0.01 for v in base],
                            (0.3, 0.0): (0.79, 0.89, 0.84, 0.68), (0.0, 1.0): [v - 0.02 for v in base]})
    adv = part2.design_advantages(choice)
    assert adv[["entropy_weight", "critic_weight"]].apply(tuple, axis=1).tolist() == [
        (0.0, 0.0), (0.1, 0.0), (0.3, 0.0), (0.0, 1.0)]  # grid order
    assert adv["advantage"].tolist() == pytest.approx([0.0, 1.0, 5.75, -2.0])
    assert adv["clears"].tolist() == [False, True, False, False]
    assert adv.loc[2, "ci_low"] < 0 < adv.loc[1, "ci_low"] and adv["networks"].tolist() == [4] * 4
    assert part2.chosen_design(choice) == (0.1, 0.0)  # the larger mean does not clear its CI
    # the same means but (0.1, 0)'s advantage no longer clears (one network at -1): the simplest stays
    noisy = _design_frame({(0.0, 0.0): base, (0.1, 0.0): (0.72, 0.82, 0.77, 0.71),
                           (0.3, 0.0): (0.79, 0.89, 0.84, 0.68), (0.0, 1.0): [v - 0.02 for v in base]})
    assert not part2.design_advantages(noisy)["clears"].any()
    assert part2.chosen_design(noisy) == (0.0, 0.0)
    # two that clear: the larger mean advantage; on a tie, the first in grid order
    both = _design_frame({(0.0, 0.0): base, (0.1, 0.0): [v + 0.01 for v in base],
                          (0.0, 1.0): [v + 0.03 for v in base]})
    assert part2.chosen_design(both) == (0.0, 1.0)
    tie = _design_frame({(0.0, 0.0): base, (0.1, 0.0): [v + 0.02 for v in base],
                         (0.0, 1.0): [v + 0.02 for v in base]})
    assert part2.chosen_design(tie) == (0.1, 0.0)


def test_the_simplest_design_is_the_smallest_critic_then_entropy_weight():
    choice = _design_frame({(0.3, 1.0): (0.9,), (0.1, 0.0): (0.5,), (0.3, 0.0): (0.6,)})
    assert part2.simplest_design(choice) == (0.1, 0.0)
    assert part2.chosen_design(choice) == (0.1, 0.0)  # one network: no CI, nothing clears


def test_design_overview_marks_the_design_each_fold_chose():
    from types import SimpleNamespace as F

    base = (0.70, 0.80, 0.75)
    t0 = _design_frame({(0.0, 0.0): base, (0.1, 0.0): [v + 0.01 for v in base]})
    t1 = _design_frame({(0.0, 0.0): base, (0.1, 0.0): (0.71, 0.79, 0.76)})
    folds = [F(k=0, design_table=t0, chosen=part2.chosen_design(t0)),
             F(k=1, design_table=t1, chosen=part2.chosen_design(t1))]
    out = part2.design_overview(folds)
    assert out["fold"].tolist() == [0, 0, 1, 1]
    assert out["chosen"].tolist() == [False, True, True, False]
    assert out["clears"].tolist() == [False, True, False, False]


# ---------------------------------------------------------------------------------------- part 2: criteria
def _choice_frame(best=None, networks=range(8)):
    """Validation accuracies of the criterion candidates on the training networks: ``best``:
    (setting, sparsity) → the criterion that is best there."""
    best = best or {("conv", 0.8): "tp-lamp-min1", ("conv", 0.9): "tp-lamp-min1",
                    ("conv+linear", 0.8): "l1-min1", ("conv+linear", 0.9): "l1-min1"}
    rows = []
    for (setting, s), winner in best.items():
        for m in part2.CRITERION_CANDIDATES:
            for n in networks:
                for r in range(3):
                    rows.append({"setting": setting, "sparsity": s, "method": m, "network": n, "seed": r,
                                 "val_acc": (0.80 if m == winner else 0.50) + 0.01 * r})
    return pd.DataFrame(rows)


def test_best_criteria_mean_over_networks_and_seeds_ties_first():
    best = part2.best_criteria(_choice_frame())
    assert len(best) == 4 * len(part2.CRITERION_CANDIDATES)
    assert best.groupby(["setting", "sparsity"])["best"].sum().tolist() == [1, 1, 1, 1]
    lamp = best[(best["setting"] == "conv") & (best["method"] == "tp-lamp-min1")]
    assert lamp["best"].all() and lamp["val_acc"].tolist() == pytest.approx([0.81, 0.81])
    assert part2.chosen_criterion(best, "conv", 0.9) == "tp-lamp-min1"
    assert part2.chosen_criterion(best, "conv+linear", 0.8 + 1e-12) == "l1-min1"
    # the mean, not the best single value: A reaches 0.95 on one network, B is better on average
    spread = pd.DataFrame([{"setting": "conv", "sparsity": 0.9, "method": m, "network": n, "val_acc": v}
                           for m, vals in (("l1-min1", (0.95, 0.20)), ("uniform-l1", (0.60, 0.60)))
                           for n, v in enumerate(vals)])
    assert part2.chosen_criterion(part2.best_criteria(spread), "conv", 0.9) == "uniform-l1"
    # ties: both marked tied, one row names both, the first in list order is the one measured
    tie = spread.assign(val_acc=0.6)
    t = part2.best_criteria(tie)
    assert t["best"].tolist() == [True, False] and part2.chosen_criterion(t, "conv", 0.9) == "l1-min1"
    assert t["tied"].tolist() == [True, True] and t["ties"].tolist() == ["l1-min1 = uniform-l1", ""]
    assert part2.chosen_criterion(t, "conv", 0.9, ties=True) == "l1-min1 = uniform-l1"
    # float rounding below the tolerance is a tie; the smallest real difference (one image of 500 in
    # one of 2 values) is not
    for gap, tied in ((part2.TIE_ATOL / 10, True), (1 / (500 * 2), False)):
        near = spread.assign(val_acc=np.where(spread["method"] == "uniform-l1", 0.6, 0.6 + gap))
        t = part2.best_criteria(near)
        assert t["tied"].tolist() == [True, tied], gap
        assert t["ties"].iloc[0] == ("l1-min1 = uniform-l1" if tied else "l1-min1")
    assert part2.chosen_criterion(best, "conv", 0.9, ties=True) == "tp-lamp-min1"  # no tie: one name
    with pytest.raises(ValueError, match="no standard criterion was chosen for 'conv' at sparsity 0.5"):
        part2.chosen_criterion(best, "conv", 0.5)
    with pytest.raises(ValueError, match="'transfer'"):
        part2.chosen_criterion(best, "transfer", 0.9)


def test_criterion_ties_give_one_row_with_every_name_and_whether_the_masks_were_the_same():
    rows = []
    for m, acc in (("l1-min1", 0.7), ("tp-magnitude-min1", 0.7), ("tp-lamp-min1", 0.6), ("uniform-l1", 0.7)):
        for n in (0, 1):
            key = "A" if m in ("l1-min1", "uniform-l1") else f"{m}{n}"
            rows.append({"setting": "conv", "sparsity": 0.9, "method": m, "network": n, "val_acc": acc,
                         "key": key})
    choice = pd.DataFrame(rows)
    best = part2.best_criteria(choice)
    ties = part2.criterion_ties(best, choice)
    assert len(ties) == 1
    row = ties.iloc[0]
    assert row["criteria"] == "l1-min1 = tp-magnitude-min1 = uniform-l1" and row["n_tied"] == 3
    assert row["measured"] == "l1-min1" and row["val_acc"] == pytest.approx(0.7)
    assert not row["same_masks"]  # tp-magnitude's masks differ: the same accuracy by coincidence
    same = choice[choice["method"] != "tp-magnitude-min1"]
    assert part2.criterion_ties(part2.best_criteria(same), same).iloc[0]["same_masks"]
    assert "same_masks" not in part2.criterion_ties(best)  # without the per-network rows
    df = part2.with_best_criterion(pd.DataFrame([{"setting": "conv", "sparsity": 0.9, "method": "l1-min1",
                                                  "label": "L1", "trial": 0, "retrained_acc": 0.5}]), best)
    assert df.loc[df["method"] == "best-criterion", "label"].tolist() == [
        "best standard criterion (l1-min1 = tp-magnitude-min1 = uniform-l1)"]


def test_standard_methods_are_the_criteria_with_one_channel_per_layer_and_layerwise_uniform():
    for il in (False, True):
        ms = part2.standard_methods(il)
        assert [m.name for m in ms] == ["l1-min1", "tp-magnitude-min1", "tp-lamp-min1", "tp-fpgm-min1",
                                        "uniform-l1",
                                        "uniform-random"]
        assert all(m.min_channels_per_layer == 1 and m.include_linear == il for m in ms)
    assert set(part2.CRITERION_CANDIDATES) <= {m.name for m in part2.standard_methods(False)}
    assert "uniform-random" not in part2.CRITERION_CANDIDATES  # random: not one mask per network


# ---------------------------------------------------------------------------------------- part 2: methods
class KeepChannel:
    """A stand-in generator ``c``: its masks keep conv1's channel ``c`` and conv2's channel 0."""

    def __init__(self, c: int) -> None:
        self.c = c

    def scores(self, layers, sparsity, rng, *, min_channels_per_layer=1, model=None, **kw):
        one = lambda n, i: torch.nn.functional.one_hot(torch.tensor(i), n).float()  # noqa: E731
        return {"conv1": one(6, self.c), "conv2": one(16, 0)}

    def sample(self, model, sparsity, n, *, seed, include_linear=False):
        from prunegan.pruning import strategies
        return [strategies.prune(model, "gan", sparsity, seed=seed + j, generator=self) for j in range(n)]

    def mode(self, model, sparsity, *, include_linear=False):
        return self.sample(model, sparsity, 1, seed=0, include_linear=include_linear)[0]


class PickIndex:
    """A stand-in critic ``i``: always prefers candidate ``i`` of its ``k``."""

    def __init__(self, i: int) -> None:
        self.i = i

    def features(self, model, *, include_linear=False, inputs=None):
        return None

    def best_of(self, feats, masks, sparsity):
        return self.i % len(masks)


def test_pair_i_of_every_learned_method_uses_its_seed_i_instance():
    from prunegan import models
    from prunegan.pruning.strategies import Method
    from prunegan.runs import protocol

    from prunegan.pruning.scorers import l1_norms
    from prunegan.pruning.strategies import within_layers

    cfg = part2.configs(part2.SMOKE_PARAMS)  # 3 pairs, 3 critic candidates
    net = models.build("lenet5", seed=0)
    l1_top = int(l1_norms({"conv1": net.conv1})["conv1"].argmax())
    n = cfg.protocol.samples
    gens = {"gan": [KeepChannel(i) for i in range(n)],
            "gan-discriminator-only": [KeepChannel(5 - i) for i in range(n)]}
    es = part2.entries(include_linear=False, generators=gens, critics=[PickIndex(i) for i in range(n)],
                       sparsity=0.9, cfg=cfg)
    jobs = protocol.jobs(net, 0.9, es, cfg.protocol, include_linear=False)
    by = {}
    for j in jobs:
        by.setdefault(j.labels["method"], []).append(j)
    assert set(by) == {"gan", "gan-mode", "gan-discriminator-only", "gan+critic", "random-min1+critic",
                       "uniform-collapse-free",
                       "random-min1", *(m.name for m in part2.standard_methods(False)), *part2.BASELINES}
    assert all(len(v) == n for v in by.values())
    assert {f"gan-alloc-{c}" for c in part2.ALLOCATION_CRITERIA} | {"uniform-taylor"} <= set(by)
    for i in range(n):
        assert by["gan"][i].mask["conv1"].nonzero().flatten().tolist() == [i]
        assert by["gan-discriminator-only"][i].mask["conv1"].nonzero().flatten().tolist() == [5 - i]
        # generator i's candidates, and generator i's most probable mask
        assert by["gan+critic"][i].mask["conv1"].nonzero().flatten().tolist() == [i]
        assert by["gan-mode"][i].mask["conv1"].nonzero().flatten().tolist() == [i]
        assert by["gan-mode"][i].labels["label"] == "GAN's most probable mask"
        # the baselines keep GAN mask i's count in every layer, the criterion's channels within each
        for c in part2.ALLOCATION_CRITERIA:
            alloc = by[f"gan-alloc-{c}"][i].mask
            assert alloc.kept_per_layer() == by["gan"][i].mask.kept_per_layer()
            assert alloc == within_layers(net, by["gan"][i].mask, c)
        assert by["gan-alloc-l1"][i].mask["conv1"].nonzero().flatten().tolist() == [l1_top]
        k = cfg.protocol.critic_candidates
        cands = protocol.method_candidates(Method("random", (), 1))(
            net, 0.9, cfg.protocol.seed + part2.CANDIDATE_OFFSET + i * k, k)
        assert by["random-min1+critic"][i].mask == cands[i % k]  # critic i's favourite
        assert {j.retrain.seed for j in jobs if j.labels["trial"] == i} == {cfg.protocol.retrain.seed + i}
    assert by["random-min1"][1].mask == Method("random", (), 1).prune(net, 0.9, seed=cfg.protocol.seed + 1)


# ---------------------------------------------------------------------------------------- part 2: verdicts
NOISE = [0.01 * ((i * 7) % 5 - 2) for i in range(20)]  # mean 0 over the 20 trials
FIXED = ("l1-min1", "tp-lamp-min1", "uniform-l1", "best-bank")  # one mask per network


def _accuracies(setting, net):
    acc = {"random-min1": 0.60, "uniform-collapse-free": 0.61,
           "l1-min1": 0.90 if (setting, net) == ("conv+linear", 9)
           else 0.70, "tp-lamp-min1": 0.75, "uniform-l1": 0.65, "random-min1+critic": 0.75, "gan": 0.79,
           "gan-mode": 0.76,
           "gan+critic": 0.81, "gan-likelihood": 0.70, "gan-from-scratch": 0.62}
    if setting == "conv+linear":
        acc["best-bank"] = 0.80
    return acc


def _chapter_frame():
    """Held-out networks 8 and 9 in both settings and the transfer network 0, at 80 and 90 %, 20 pairs.
    Paired differences (points): GAN − random-min1 = +19 everywhere (the noise cancels); GAN − L1-min1 =
    +9 ± 0.7, but −11 on conv+linear network 9; GAN − best bank mask = −1 ± 0.7."""
    rows = []
    for setting, net in (("conv", 8), ("conv", 9), ("conv+linear", 8), ("conv+linear", 9), ("transfer", 0)):
        for s in (0.8, 0.9):
            for method, a in _accuracies(setting, net).items():
                for i in range(20):
                    fixed = method in FIXED
                    rows.append({"setting": setting, "network": net, "sparsity": s, "method": method,
                                 "label": method.upper(), "trial": i,
                                 "retrained_acc": a + (0 if fixed else NOISE[i]),
                                 "collapsed": False, "key": method if fixed else f"{method}{i}",
                                 "seconds": 1.0,
                                 "propose_seconds": 0.0})
    return pd.DataFrame(rows)


def _expected():
    """Exact expectations on the conv landscapes at 90 %, five generator seeds: network 8 tight and above
    its 85th percentile (0.78), network 9 spread (SD 1.6 points) with a CI reaching below its (0.75)."""
    rows = [{"method": m, "setting": "conv", "network": n, "sparsity": 0.9, "seed": s,
             "expected_acc": base + step * s}
            for m, (b8, b9) in (("gan", (0.80, 0.70)), ("gan-likelihood", (0.50, 0.50)),
                                ("gan-mode", (0.79, 0.76)))
            for n, base, step in ((8, b8, 0.001 if m == "gan" else 0.0), (9, b9, 0.02 if m == "gan" else 0.0))
            for s in range(5)]
    lands = pd.DataFrame([{"setting": "conv", "network": 8, "sparsity": 0.9, "masks": 96, "p50": 0.6,
                           "p85": 0.78,
                           "p100": 0.9}, {"setting": "conv", "network": 9, "sparsity": 0.9, "masks": 96,
                                          "p50": 0.6,
                                          "p85": 0.75, "p100": 0.9}])
    return pd.DataFrame(rows), lands


@pytest.fixture(scope="module")
def verdicts():
    from prunegan.analysis import comparison
    from prunegan.analysis.targets import check

    best = part2.best_criteria(_choice_frame())
    df = part2.with_best_criterion(_chapter_frame(), best)
    expected, lands = _expected()
    stats = part2.statistics(df, expected, lands)
    checks = check(part2.TARGETS, stats)
    return {"best": best, "df": df, "stats": stats, "checks": checks, "cells": comparison.cell_table(df)}


def test_targets_are_data_with_unique_names_and_never_compare_a_method_with_itself():
    from prunegan.analysis.targets import Target

    assert all(isinstance(t, Target) for t in part2.TARGETS)
    names = [t.name for t in part2.TARGETS]
    assert len(set(names)) == len(names)
    for t in part2.TARGETS:
        assert t.other != t.method
        if t.statistic in ("paired", "networks_paired"):
            assert t.method in part2.VARIANTS and t.bound == "ci_low"
            assert t.other in {"random-min1", "l1-min1", "best-criterion", "best-bank", "random-min1+critic",
                               "gan-likelihood"}
        # the LeNet-5 settings are judged over networks; the transfer network (one network) over its pairs
        if t.statistic != "fits_diverged":  # a count of generators, no CI
            assert t.statistic.startswith("networks_") == (t.settings != ("transfer",)), t.name
    by = {t.name: t for t in part2.TARGETS}
    assert by["beats random-min1"].threshold == 0.0 and by["at least L1-min1"].threshold == -1.0
    assert by["within 2 points of the best bank mask"].threshold == -2.0
    sd = by["SD across generator seeds at most 1.5 points"]
    assert (sd.bound, sd.comparison, sd.threshold) == ("ci_high", "<=", 1.5)
    land = by["at least the landscape's 85th percentile"]
    assert land.threshold == 0.0 and land.other == "p85" and land.settings == ("conv",)
    assert land.statistic == "networks_landscape" and sd.statistic == "networks_seed_sd"


def test_with_best_criterion_copies_the_chosen_rows_and_transfer_uses_the_conv_choice(verdicts):
    df = verdicts["df"]
    raw = _chapter_frame()
    bc = df[df["method"] == "best-criterion"]
    assert len(df) == len(raw) + len(bc) and len(bc) == 5 * 2 * 20  # every (cell, sparsity), 20 pairs
    for setting, chosen in (("conv", "tp-lamp-min1"), ("conv+linear", "l1-min1"),
                            ("transfer", "tp-lamp-min1")):
        order = ["network", "sparsity", "trial"]
        got = bc[bc["setting"] == setting].sort_values(order)
        src = raw[(raw["setting"] == setting) & (raw["method"] == chosen)].sort_values(order)
        assert got["retrained_acc"].tolist() == src["retrained_acc"].tolist() and len(got) == len(src)
        assert set(got["label"]) == {f"best standard criterion ({chosen})"}
    missing = part2.best_criteria(_choice_frame({("conv", 0.9): "l1-min1"}))
    with pytest.raises(ValueError, match="no standard criterion was chosen for 'conv' at sparsity 0.8"):
        part2.with_best_criterion(raw, missing)


def test_statistics_pair_every_learned_variant_with_every_other_method(verdicts):
    stats = verdicts["stats"]
    paired = stats[stats["statistic"] == "paired"]
    assert set(paired["method"]) == set(part2.VARIANTS)
    assert not (paired["method"] == paired["other"]).any()
    gan = paired[paired["method"] == "gan"].set_index(["setting", "network", "sparsity", "other"])
    assert gan.loc[("conv", 8, 0.9, "random-min1"), "value"] == pytest.approx(19.0)
    assert gan.loc[("conv", 8, 0.9, "random-min1"), "ci_low"] == pytest.approx(19.0)
    assert gan.loc[("conv+linear", 9, 0.8, "l1-min1"), "value"] == pytest.approx(-11.0)
    assert gan.loc[("conv", 9, 0.9, "best-criterion"), "value"] == pytest.approx(4.0)
    assert gan.loc[("transfer", 0, 0.8, "best-criterion"), "value"] == pytest.approx(4.0)
    assert gan.loc[("conv+linear", 8, 0.9, "best-bank"), "n"] == 20
    land = stats[stats["statistic"] == "landscape"]
    assert len(land) == 6 and set(land["method"]) == {"gan", "gan-likelihood", "gan-mode"}
    assert len(stats[stats["statistic"] == "seed_sd"]) == 6
    # over networks: one row per (setting, sparsity, method, other) of the two LeNet-5 settings (2 networks);
    # the transfer setting has one network and gets none
    nets = stats[stats["statistic"] == "networks_paired"]
    assert set(nets["setting"]) == {"conv", "conv+linear"} and set(nets["network"]) == {"all"}
    assert len(nets) == len(paired[paired["setting"] != "transfer"]) // 2
    row = nets.set_index(["setting", "sparsity", "method", "other"]).loc[
        ("conv+linear", 0.8, "gan", "l1-min1")]
    assert (row["n"], row["pairs"], row["value"]) == (2, 40, pytest.approx(-1.0))  # networks: +9 and −11
    half = sps.t.ppf(0.975, 1) * np.std([9.0, -11.0], ddof=1) / np.sqrt(2)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((-1 - half, -1 + half))
    assert len(stats[stats["statistic"] == "networks_landscape"]) == 3
    assert len(stats[stats["statistic"] == "networks_seed_sd"]) == 3
    # without exact expectations: paired statistics only
    only = part2.statistics(verdicts["df"], None, None)
    assert set(only["statistic"]) == {"paired", "networks_paired"} and len(only) == len(paired) + len(nets)


def test_targets_are_checked_on_the_ci_over_networks(verdicts):
    from prunegan.analysis.targets import summary

    s = summary(verdicts["checks"], part2.TARGETS).set_index("target")
    expected = {"at least the landscape's 85th percentile": (0, 1), "beats random-min1": (4, 4),
                "at least L1-min1": (2, 4), "at least the best standard criterion": (2, 4),
                "GAN + critic beats the best standard criterion": (2, 4),
                "within 2 points of the best bank mask": (2, 2), "at least random-min1 + critic": (2, 2),
                "transfer: within 1 point of random-min1": (2, 2),
                "SD across generator seeds at most 1.5 points": (0, 1),
                # the most probable mask: +1 point over LAMP on both conv networks, −14 / +6 against L1 with
                # the hidden units; 1 point above the 85th percentile on both landscapes
                "GAN's most probable mask at least the best standard criterion": (2, 4),
                "GAN's most probable mask beats random-min1": (4, 4),
                "most probable mask: at least the landscape's 85th percentile": (1, 1),
                # GAN 0.79 against likelihood only 0.70 in every pair: +9 points
                "the adversarial stage beats likelihood only": (4, 4),
                # no fit statistics in these rows: the fit targets are not checked here (see below)
                "fit: final generators in-sample within 2 points of the bank": (0, 0),
                "fit: no generator of the GAN diverged": (0, 0)}
    assert {t: (int(s.loc[t, "met"]), int(s.loc[t, "cells"])) for t in s.index} == expected
    c = verdicts["checks"].set_index(["target", "setting", "network", "sparsity"])
    # landscape: network 8 is 2.2 points above its 85th percentile, network 9 1.0 below: +0.6 on average,
    # with a t-interval over the two networks far below 0
    land = c.loc[("at least the landscape's 85th percentile", "conv", "all", 0.9)]
    assert land["value"] == pytest.approx(0.6) and land["ci_low"] < -10 and not land["met"]
    # within 2 of the best bank mask: −1 point on both networks, judged on the CI over networks
    bb = c.loc[("within 2 points of the best bank mask", "conv+linear", "all", 0.9)]
    assert bb["value"] == pytest.approx(-1.0) and bb["ci_low"] == pytest.approx(-1.0) and bb["met"]
    # L1-min1 with the hidden units: +9 on network 8, −11 on network 9: the network decides, not met
    l1 = c.loc[("at least L1-min1", "conv+linear", "all", 0.8)]
    assert l1["value"] == pytest.approx(-1.0) and not l1["met"] and l1["n"] == 2
    # the seed SD pooled within networks: sd² = (0.1² + 2²) · var(0..4) / 2, 8 degrees of freedom
    sd = c.loc[("SD across generator seeds at most 1.5 points", "conv", "all", 0.9)]
    assert sd["value"] == pytest.approx(np.sqrt((0.01 + 4) * 2.5 / 2)) and sd["n"] == 8 and not sd["met"]
    # the transfer network: over its own pairs
    assert c.loc[("transfer: within 1 point of random-min1", "transfer", 0, 0.9), "met"]


def test_ablation_judges_every_variant_by_the_gans_targets(verdicts):
    ab = part2.ablation(verdicts["stats"])
    assert list(ab.index) == list(part2.VARIANTS.values())
    assert "GAN + critic beats the best standard criterion" not in ab.columns  # a target of gan+critic only
    gan, disc = ab.loc[part2.VARIANTS["gan"]], ab.loc[part2.VARIANTS["gan-likelihood"]]
    assert gan["beats random-min1"] == "4/4" and gan["at least L1-min1"] == "2/4"
    assert gan["at least the landscape's 85th percentile"] == "0/1"
    assert disc["at least the landscape's 85th percentile"] == "0/1" and disc["beats random-min1"] == "4/4"
    assert disc["SD across generator seeds at most 1.5 points"] == "1/1"
    search = ab.loc[part2.VARIANTS["random-min1+critic"]]
    assert search["at least random-min1 + critic"] == "–"  # never compared with itself
    assert search["beats random-min1"] == "4/4" and search["at least the landscape's 85th percentile"] == "–"
    uniform = ab.loc[part2.VARIANTS["uniform-collapse-free"]]
    assert uniform["beats random-min1"] == "4/4"  # +1 point in every pair: CI [1, 1]


def test_verdict_states_each_target_with_its_cells(verdicts):
    text = part2.verdict(verdicts["checks"])
    lines = text.splitlines()
    assert len(lines) == len(part2.TARGETS) and all(line.startswith("- ") for line in lines)
    lines = [line for line in lines if "most probable mask" not in line]
    assert lines[1].startswith("- beats random-min1 (paired difference (points), low end of the 95 % CI over "
                               "networks > 0): **met** (4/4 cells) — "
                               "conv 80% (2 networks): +19.0 [+19.0, +19.0]")
    assert ("- at least L1-min1 (paired difference (points), low end of the 95 % CI over networks > −1): "
            "**not met** (2/4 cells)") in text
    assert "conv+linear 80% (2 networks): -1.0 [" in text
    assert lines[0].startswith("- at least the landscape's 85th percentile "
                               "(points from the landscape's percentile, low end of the 95 % CI over "
                               "networks ≥ 0): **not met** (0/1 cells) — "
                               "conv 90% (2 networks): +0.6 [")
    assert lines[0].endswith("points from the 85th percentile.")
    sd_line = next(line for line in lines if line.startswith("- SD across"))
    assert sd_line.startswith("- SD across generator seeds at most 1.5 points "
                                "(SD across seeds (points), high end of the 95 % CI over networks ≤ 1.5): "
                               "**not met** (0/1 cells) — "
                                "conv 90% (pooled within networks, 8 df): 2.24 [")
    assert "transfer net 0 80%: +19.0" in text  # the transfer network: per network, over its pairs
    part = verdicts["checks"][verdicts["checks"]["setting"] != "transfer"]
    not_checked = ("- transfer: within 1 point of random-min1 (paired difference (points), low end of the "
                   "95 % CI over pairs > −1): **not checked**")
    assert not_checked in part2.verdict(part)


def _glued(verdicts, checks=None, best=None) -> dict:
    """The scraps chapter 6 glues from the ``verdicts`` frames (:class:`part2.Chapter6Summary`)."""
    from prunegan.chapters.part2 import summary as sm

    checks = verdicts["checks"] if checks is None else checks
    best = verdicts["best"] if best is None else best
    return sm.Chapter6Summary(margins=sm.margins(verdicts["stats"]), targets=sm.target_results(checks),
                              values=part2.headlines(verdicts["cells"], best),
                              verdict=part2.verdict(checks)).to_scraps()


def test_headlines_glue_means_targets_best_criteria_and_margins(verdicts):
    h = _glued(verdicts)
    assert h["linear_gan_acc_90"] == pytest.approx(0.79) and h["conv_l1_min1_acc_80"] == pytest.approx(0.70)
    assert h["linear_l1_min1_acc_80"] == pytest.approx(0.80)  # mean of networks 8 (0.70) and 9 (0.90)
    assert h["transfer_gan_acc_90"] == pytest.approx(0.79)
    assert h["conv_best_criterion_acc_90"] == pytest.approx(0.75)
    assert h["target_beats_random_min1_met"] == 4 and h["target_beats_random_min1_cells"] == 4
    assert h["target_at_least_l1_min1_met"] == 2
    assert h["target_at_least_the_landscape_s_85th_percentile_met"] == 0
    assert h["best_criterion_conv_90"] == "tp-lamp-min1" and h["best_criterion_linear_80"] == "l1-min1"
    assert h["best_criterion_ties_conv_90"] == "tp-lamp-min1"  # no tie in this frame
    assert h["margin_best_conv_90"] == pytest.approx(4.0)
    assert h["margin_best_conv_90_ci_low"] == pytest.approx(4.0)
    assert h["margin_best_linear_90"] == pytest.approx(-1.0) and h["margin_best_linear_90_ci_low"] < -100
    assert h["margin_random_conv_80"] == pytest.approx(19.0)
    assert h["margin_random_transfer_80"] == pytest.approx(19.0)
    assert h["margin_untrained_conv_80"] == pytest.approx(18.0)  # gan − uniform-collapse-free
    assert h["margin_mode_best_linear_80"] == pytest.approx(-4.0)  # gan-mode − best-criterion
    assert h["margin_mode_best_linear_80_ci_low"] < -100 < 100 < h["margin_mode_best_linear_80_ci_high"]
    assert h["margin_adversarial_conv_80"] == pytest.approx(9.0)  # gan − gan-likelihood (0.79 − 0.70)
    assert h["margin_scratch_best_conv_80"] < h["margin_likelihood_best_conv_80"]  # 0.62 and 0.70 − best
    assert h["margin_uniform_l1_conv_80"] == pytest.approx(14.0)  # gan − uniform-l1 (0.79 − 0.65)
    named = ("best", "random", "untrained", "mode", "adversarial", "likelihood", "scratch", "alloc",
             "uniform")
    assert not any(k.startswith("margin_") and k.split("_")[1] not in named
                   for k in h)  # only the pairs of MARGINS
    # every target gets its counts, even with no cell checked
    empty = _glued(verdicts, checks=verdicts["checks"].iloc[:0])
    assert all(empty[f"target_{part2.summary.slug(t.name)}_cells"] == 0 for t in part2.TARGETS)
    assert empty[part2.summary.TARGET_CELLS] == {t.name: [] for t in part2.TARGETS}
    # read back, every value is the one glued
    assert part2.Chapter6Summary.from_scraps(h).to_scraps() == h


def test_headlines_glue_each_targets_judged_cells_as_plain_values(verdicts):
    import json

    checks = verdicts["checks"]
    h = _glued(verdicts, checks=checks)
    judged = h[part2.summary.TARGET_CELLS]
    assert json.loads(json.dumps(judged, allow_nan=False)) == judged  # plain JSON: scrapbook glues it
    assert list(judged) == [t.name for t in part2.TARGETS]
    for t in part2.TARGETS:
        g = checks[checks["target"] == t.name]
        assert [c["met"] for c in judged[t.name]] == g["met"].tolist()
        assert [c["value"] for c in judged[t.name]] == pytest.approx(g["value"].tolist())
    beats = judged["beats random-min1"]
    assert beats[0]["cell"] == "conv 80%" and beats[0]["text"] == "+19.0 [+19.0, +19.0]"
    assert beats[0]["threshold"] == 0.0 and beats[0]["met"] is True
    # each cell's text is the verdict's, after the cell's name and its parenthesis
    text = part2.verdict(checks)
    for t in part2.TARGETS:
        for c in judged[t.name]:
            assert f"{c['cell']}" in text and f": {c['text']}" in text


def test_headlines_name_the_criterion_most_folds_chose(verdicts):
    folds = [part2.best_criteria(_choice_frame({("conv", 0.9): w})).assign(fold=k)
             for k, w in enumerate(("tp-lamp-min1", "l1-min1", "tp-lamp-min1"))]
    h = _glued(verdicts, best=pd.concat(folds, ignore_index=True))
    assert h["best_criterion_conv_90"] == "tp-lamp-min1" and h["best_criterion_folds_conv_90"] == 2.0
    assert h["best_criterion_ties_conv_90"] == "fold 0: tp-lamp-min1; fold 1: l1-min1; fold 2: tp-lamp-min1"


def test_collapse_sweep_covers_every_feasible_sparsity():
    from prunegan import models
    from prunegan.gan import GanConfig, Generator
    # zero parameters: uniform over collapse-free masks
    g = Generator(GanConfig(seed=0), history=[{"step": 0}])
    sweep = part2.collapse_sweep([g], {"lenet5": models.build("lenet5")}, include_linear=False, n=5)
    # 95 % leaves 1 of 22
    assert sweep["sparsity"].tolist() == pytest.approx([0.05 * i for i in range(1, 19)])
    assert (sweep["collapsed"] == 0).all() and sweep["exact_count"].all() and (sweep["masks"] == 5).all()


def test_extra_numbers_read_the_configs_the_chapter_ran():
    from types import SimpleNamespace

    cfg = _cfg(retrain_epochs=2, networks=6, folds=3, gan_seeds=3, samples=3, seed=1)

    def fold(k, chosen, features, spearman):
        summary = pd.DataFrame({"feature": ["l1_z_layer", "bias"], "mean": [spearman, 0.0],
                                "signal": [bool(features), False]}).assign(fold=k)
        return SimpleNamespace(
            k=k, cfg=cfg.fold(k), chosen=chosen, features=part2.STRUCTURAL_FEATURES + features,
            signal_summary=summary, fit_seconds={"conv": {"gan": 2.0, "critic": 1.0}},
            quality=pd.DataFrame({"setting": ["conv", "conv+linear"], "spearman_collapse_free": [0.5, 0.2]}),
            expected=pd.DataFrame({"method": ["gan"], "expected_acc": [0.7 + 0.01 * k],
                                   "percentile": [40.0]}))
    folds = [fold(0, (0.1, 0.0), ("l1_z_layer",), 0.3), fold(1, (0.3, 1.0), (), 0.1),
             fold(2, (0.1, 0.0), ("l1_z_layer",), 0.2)]
    out = part2.extra_numbers(cfg, {"train": 3500, "val": 500, "test": 1000}, folds)
    assert out["gan_retrain_epochs"] == 2.0 == cfg.protocol.retrain.epochs
    assert out["gan_samples"] == 3.0 and out["gan_seeds"] == 3.0 and out["gan_replicate"] == 1.0
    assert (out["gan_networks"], out["gan_folds"]) == (6.0, 3.0)
    assert (out["gan_networks_train"], out["gan_networks_held_out"]) == (4.0, 2.0)  # per fold
    assert (out["gan_entropy_weight"], out["gan_critic_weight"], out["gan_design_folds"]) == (0.1, 0.0, 2.0)
    assert out["gan_designs"].startswith("fold 0: entropy 0.1, critic 0; fold 1: entropy 0.3, critic 1")
    assert out["gan_features"] == "l1_z_layer (2/3 folds)"
    assert out["gan_features_with_signal"] == pytest.approx(2 / 3)
    assert out["signal_top_feature"] == "l1_z_layer" and out["signal_top_spearman"] == pytest.approx(0.2)
    assert out["critic_spearman_collapse_free_linear"] == pytest.approx(0.2)
    assert out["landscape_gan_expected"] == pytest.approx(0.71) and out["landscape_gan_percentile"] == 40.0
    costs = part2.one_off_costs(100, folds, cfg)
    assert costs["gan"] == "100 bank retrainings + 3 folds × 3 seeds × (GAN 2 s + critic 1 s)"


# ---------------------------------------------------------------------------------- part 2: cross-fitting
def test_cross_fitting_learns_on_the_other_folds_and_measures_on_its_own(monkeypatch):
    from prunegan.chapters.part2 import crossfit

    cfg = _cfg(networks=6, folds=3, gan_seeds=2, samples=2)
    seen = []

    def record(name, out):
        def f(*args, **kw):
            c = next(a for a in args if isinstance(a, part2.Configs))
            seen.append((name, c.fold_index, c.held_out, c.train_networks, kw))
            return out(c, *args, **kw) if callable(out) else out
        return f

    frame = lambda **cols: pd.DataFrame({k: [v] for k, v in cols.items()})  # noqa: E731
    monkeypatch.setattr(crossfit, "feature_choice", record("features", (frame(feature="l1_z_layer"),
                                                                         frame(feature="l1_z_layer", mean=0.1,
                                                                               signal=True),
                                                                         part2.STRUCTURAL_FEATURES)))
    design = frame(entropy_weight=0.0, critic_weight=0.0, network=0, expected_val_acc=0.5)
    monkeypatch.setattr(crossfit, "design_choice", record("design", design))
    monkeypatch.setattr(crossfit, "fit_learned", record("fits", lambda c, *a, **k: (
        {"conv": ["critic"], "conv+linear": ["critic"]},
        {"conv": {"gan": [f"gen{c.fold_index}"]}, "conv+linear": {"gan": ["gen"]}}, frame(setting="conv"),
        {})))
    monkeypatch.setattr(crossfit, "criterion_choice", record("criteria", lambda c, cfg_, setting, **k: frame(
        setting=setting, sparsity=0.9, method="l1-min1", network=c.train_networks[0], val_acc=0.5)))
    monkeypatch.setattr(crossfit, "run_protocol", record("protocol", lambda c, cfg_, setting, *a, **k: (
        pd.DataFrame({"setting": setting, "sparsity": 0.9, "method": "l1-min1", "label": "L1",
                      "network": c.held_out[0], "trial": [0, 1], "retrained_acc": 0.5}))))
    monkeypatch.setattr(crossfit, "landscapes", lambda bank, s, networks, column: pd.DataFrame(
        {"setting": "conv", "network": list(networks)}))
    monkeypatch.setattr(crossfit, "expected_table", record("expected", frame(method="gan", network=-1)))
    monkeypatch.setattr(crossfit, "fit_table",
                        lambda banks, gens, network, s: frame(setting="conv", design="gan"))
    monkeypatch.setattr(crossfit, "in_sample", record("in_sample", frame(setting="conv", gap=0.0)))
    folds = part2.cross_fit({"conv": None, "conv+linear": None}, cfg, execution="somewhere")
    assert [f.cfg.held_out for f in folds] == [(0, 1), (2, 3), (4, 5)]
    for name, k, held, train, kw in seen:  # everything of fold k sees fold k's configs only
        assert held == cfg.folds[k] and set(train) == set(range(6)) - set(held), name
    calls = {name for name, *_ in seen}
    assert calls == {"features", "design", "fits", "criteria", "protocol", "expected", "in_sample"}
    # evaluations are sent where the chapter says; every fold's protocol runs both settings and the transfer
    assert all(kw.get("execution") == "somewhere"
               for name, *_, kw in seen if name in ("criteria", "protocol", "in_sample"))
    assert sum(name == "protocol" for name, *_ in seen) == 3 * 3
    prot = part2.gather(folds, "protocol")
    assert sorted(set(prot["network"])) == [0, 2, 4] and set(prot["fold"]) == {0, 1, 2}
    assert set(prot["method"]) == {"l1-min1", "best-criterion"}  # the fold's best criterion copied
    # the transfer network's pairs: fold k's trials k·samples + i, so every fold's pairs are distinct
    assert sorted(part2.gather(folds, "transfer").query("method == 'l1-min1'")["trial"]) == [0, 1, 2, 3, 4, 5]
    assert part2.fold_of(folds, 3).k == 1 and folds[2].generators["conv"]["gan"] == ["gen2"]
    with pytest.raises(ValueError, match="network 7 is in no fold"):
        part2.fold_of(folds, 7)
    assert [f.cfg.held_out for f in folds] == [(0, 1), (2, 3), (4, 5)]
    assert tuple(folds[1].cfg.train_networks) == (0, 1, 4, 5)


def test_final_design_is_what_most_folds_chose():
    from types import SimpleNamespace as F

    s = part2.STRUCTURAL_FEATURES
    a, b, c = part2.CHANNEL_FEATURES[:3]
    folds = [F(chosen=(0.1, 0.0), features=s + (a, b)), F(chosen=(0.0, 1.0), features=s + (a,)),
             F(chosen=(0.1, 0.0), features=s + (c,)), F(chosen=(0.0, 1.0), features=s + (a, b))]
    design, feats = part2.final_design(folds)
    assert design == (0.1, 0.0)  # two folds each: the first fold's
    assert feats == s + (a, b)  # a: 3 of 4 folds, b: 2 of 4 (half: kept), c: 1 of 4 (dropped)
    design, feats = part2.final_design(folds[1:])
    assert design == (0.0, 1.0) and feats == s + (a,)  # a: 2 of 3 folds; b and c: 1 of 3 (below half)


@pytest.mark.parametrize("gaps, met", [((-1.0, -1.5, -0.5, -1.2), True),    # CI low −2.0 < x: within 2 points
                                       ((-1.0, -3.5, -0.5, -1.2), False)])  # one 3.5 below: CI low < −2
def test_the_fit_targets_on_both_sides_of_their_thresholds(gaps, met):
    from prunegan.analysis.targets import check
    from prunegan.chapters.part2 import fits as fitcheck

    ins = pd.DataFrame({"generator": "final", "setting": "conv", "sparsity": 0.8, "network": range(len(gaps)),
                        "exact": False, "gen_val_acc": 0.8, "bank_val_acc": 0.8, "gap": list(gaps)})
    fit_rows = pd.DataFrame({"setting": "conv", "design": ["gan", "gan", "gan-from-scratch"],
                             "diverged": [False, not met, True]})
    stats = fitcheck.fit_statistics(ins, fit_rows)
    c = check(part2.TARGETS, stats).set_index("target")
    row = c.loc["fit: final generators in-sample within 2 points of the bank"]
    from prunegan.analysis.stats import mean_ci

    mean, lo, _ = mean_ci(gaps)
    assert row["value"] == pytest.approx(mean) and row["ci_low"] == pytest.approx(lo)
    assert bool(row["met"]) is met and (lo > -2.0) is met
    div = c.loc["fit: no generator of the GAN diverged"]
    assert div["value"] == (0 if met else 1) and bool(div["met"]) is met  # from-scratch fits not counted
