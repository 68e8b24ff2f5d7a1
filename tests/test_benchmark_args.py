"""benchmarks/evaluation_speed.py: bad arguments give clear errors; the reference it times sees the
same images and prunes the same channels as the engine."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from prunegan import models, train
from prunegan.pruning import engine, strategies, surgery

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "evaluation_speed.py"


def load_script(name: str):
    """Import ``benchmarks/<name>.py`` as module ``name`` (registered, so the scripts can import each
    other)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPT.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return load_script("evaluation_speed")


def test_defaults_are_valid(bench):
    args = bench.parse_args([])
    bench.check_args(args)
    assert args.data == "mnist-5k" and args.masks >= 1 and args.epochs >= 0


@pytest.mark.parametrize("argv, named", [
    (["--masks", "0"], "--masks 0"),
    (["--masks", "-3"], "--masks -3"),
    (["--epochs", "-1"], "--epochs -1"),
    (["--base-epochs", "-2"], "--base-epochs -2"),
    (["--workers", "0"], "--workers 0"),
    (["--scale-masks", "0"], "--scale-masks 0"),
    (["--scale-epochs", "-1"], "--scale-epochs -1"),
    (["--data", "cifar10"], "'cifar10'"),
    (["--scale-data", "imagenet"], "'imagenet'"),
    (["--scale-data", "mnist-5k"], "'mnist-5k'"),
])
def test_bad_arguments_exit_with_a_message_naming_the_value(bench, capsys, argv, named):
    args = bench.build_parser().parse_args(argv)
    with pytest.raises(ValueError) as err:
        bench.check_args(args)
    assert named in str(err.value)
    with pytest.raises(SystemExit) as exit_:
        bench.parse_args(argv)
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err


def test_unknown_data_set_lists_the_valid_ones(bench):
    with pytest.raises(ValueError, match="mnist-5k") as err:
        bench.check_args(bench.build_parser().parse_args(["--data", "svhn"]))
    assert "fashion-mnist" in str(err.value)


def test_zero_epochs_and_no_scale_run_are_allowed(bench):
    args = bench.parse_args(["--epochs", "0", "--scale-data", "none", "--masks", "1"])
    assert args.epochs == 0 and args.scale_data == "none"


@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_masks_spread_over_0_to_95_percent(bench, n):
    model = models.build("lenet5", seed=0)
    got = bench.mask_set(model, n, seed=0)
    sparsities = [sp for _, sp, _ in got]
    assert len(got) == n and sparsities[0] == 0.0
    assert sparsities == sorted(sparsities)
    if n > 1:
        assert sparsities[-1] == 0.95
    for strategy, sparsity, mask in got:
        assert strategy in ("l1", "random")
        assert mask.n_pruned == round(sparsity * mask.n_channels)


def test_reference_data_are_the_engine_data(bench, small_data):
    few = small_data.subset(50, 40)
    train_set, test_set = bench.reference_sets(few)
    for i in (0, 17, 49):
        x, y = train_set[i]
        torch.testing.assert_close(x, few.x_train[i], atol=1e-6, rtol=0)
        assert y == int(few.y_train[i])
    x, _ = test_set[39]
    torch.testing.assert_close(x, few.x_test[39], atol=1e-6, rtol=0)


def test_reference_pruning_matches_the_engine(bench, trained_lenet, small_data):
    few = small_data.subset(64, 300)
    train_set, test_set = bench.reference_sets(few)
    mask = strategies.prune(trained_lenet, "random", 0.5, seed=4)
    ref = bench.reference_evaluate(trained_lenet, mask, train_set, test_set, epochs=0, seed=0)
    row = engine.evaluate_mask(trained_lenet, mask, few, train.TrainConfig(epochs=0, device="cpu"))
    assert ref["pruned_acc"] == row["pruned_acc"] == train.evaluate(surgery.apply(trained_lenet, mask), few)
    assert ref["retrained_acc"] == ref["pruned_acc"]
    assert ref["pruned_acc"] != train.evaluate(trained_lenet, few)  # the mask really pruned something


def test_lean_reference_data_are_the_engine_data_and_prune_alike(bench, trained_lenet, small_data):
    few = small_data.subset(64, 300)
    train_set, test_set = bench.lean_sets(few)
    x, y = train_set[17]
    assert torch.equal(x, few.x_train[17]) and int(y) == int(few.y_train[17])
    mask = strategies.prune(trained_lenet, "random", 0.5, seed=4)
    lean = bench.reference_evaluate(trained_lenet, mask, train_set, test_set, epochs=0, seed=0)
    row = engine.evaluate_mask(trained_lenet, mask, few, train.TrainConfig(epochs=0, device="cpu"))
    assert lean["pruned_acc"] == row["pruned_acc"] == lean["retrained_acc"]
    # one epoch: the leaner reference shuffles like the reference (same DataLoader, same seed)
    ref_sets = bench.reference_sets(few)
    a = bench.reference_evaluate(trained_lenet, mask, train_set, test_set, epochs=1, seed=3)
    b = bench.reference_evaluate(trained_lenet, mask, *ref_sets, epochs=1, seed=3)
    assert a["retrained_acc"] == pytest.approx(b["retrained_acc"], abs=2 / 300)


# ------------------------------------------------------------------ benchmarks/executor_overhead.py

@pytest.fixture(scope="module")
def overhead():
    return load_script("executor_overhead")


def test_executor_overhead_defaults_are_the_issues_40_masks(overhead):
    args = overhead.parse_args([])
    assert args.masks == 40 and args.epochs == 3 and args.workers == engine.default_workers()


@pytest.mark.parametrize("argv, named", [
    (["--masks", "0"], "--masks 0"),
    (["--epochs", "-1"], "--epochs -1"),
    (["--workers", "0"], "--workers 0"),
    (["--repeats", "0"], "--repeats 0"),
    (["--data", "cifar10"], "'cifar10'"),
])
def test_executor_overhead_bad_arguments(overhead, capsys, argv, named):
    with pytest.raises(ValueError) as err:
        overhead.check_args(overhead.build_parser().parse_args(argv))
    assert named in str(err.value)
    with pytest.raises(SystemExit) as exit_:
        overhead.parse_args(argv)
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err


@pytest.fixture(scope="module")
def label_proxy():
    return load_script("label_proxy")


@pytest.mark.parametrize("argv, needle", [(["--masks", "2"], "--masks 2"), (["--seeds", "0"], "--seeds 0"),
                                          (["--sparsity", "1.0"], "--sparsity 1.0")])
def test_label_proxy_rejects_bad_arguments(label_proxy, argv, needle, capsys):
    with pytest.raises(SystemExit):
        label_proxy.parse_args(argv)
    assert needle in capsys.readouterr().err


def test_label_proxy_bootstrap_brackets_spearman(label_proxy):
    import numpy as np

    a = np.arange(30.0)
    rho, low, high = label_proxy.bootstrap_spearman(a, a + np.random.default_rng(0).normal(0, 5, 30))
    assert low <= rho <= high and 0.5 < rho < 1
    assert label_proxy.bootstrap_spearman(a, -a)[0] == -1.0
