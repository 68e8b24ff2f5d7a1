"""prunegan.train: TrainConfig validation, seeded fit, evaluate."""
from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

from prunegan import models, train
from prunegan.train import TrainConfig

CPU = dict(device="cpu")


@pytest.fixture(scope="module")
def tiny(small_data):
    return small_data.subset(200, 100)


def weights(model):
    return [p.detach().clone() for p in model.parameters()]


# -------------------------------------------------------------------------------------- TrainConfig

def test_defaults_are_valid_and_round_trip():
    config = TrainConfig()
    assert config.optimizer == "adam" and config.device == "auto" and config.epochs >= 1
    assert TrainConfig(**config.to_dict()) == config
    assert TrainConfig(epochs=3, lr=0.1, optimizer="sgd", **CPU).to_dict()["optimizer"] == "sgd"


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().epochs = 3


@pytest.mark.parametrize("field, bad", [
    ("epochs", -1), ("epochs", 1.5), ("epochs", True), ("epochs", "3"), ("epochs", None),
    ("batch_size", 0), ("batch_size", -4), ("batch_size", 32.0),
    ("seed", -1), ("seed", 0.5),
    ("lr", -1e-3), ("lr", math.nan), ("lr", "fast"), ("lr", None), ("lr", True),
    ("weight_decay", -0.1), ("weight_decay", math.nan),
    ("optimizer", "rmsprop"), ("optimizer", "Adam"), ("optimizer", None),
    ("device", "tpu"), ("device", "gpu"), ("device", 3.5),
])
def test_bad_config_values_raise(field, bad):
    with pytest.raises(ValueError) as err:
        TrainConfig(**{field: bad})
    assert repr(bad) in str(err.value)
    if field != "device":
        assert field in str(err.value)


def test_unknown_optimizer_lists_valid_ones():
    with pytest.raises(ValueError, match="adam.*sgd"):
        TrainConfig(optimizer="adamw")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_when_unavailable_raises(device):
    with pytest.raises(ValueError, match="CUDA is not available"):
        TrainConfig(device=device)
    with pytest.raises(ValueError, match="CUDA is not available"):
        train.resolve_device(device)


def test_resolve_device():
    assert train.resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert train.resolve_device("auto").type == expected


# --------------------------------------------------------------------------------------------- fit

def test_same_seed_identical_weights_different_seed_different(tiny):
    config = TrainConfig(epochs=1, batch_size=32, seed=4, **CPU)
    a, b, c = (models.build("lenet5", seed=0) for _ in range(3))
    init = weights(a)
    few = tiny.subset(96, 50)
    ha = train.fit(a, few, config)
    hb = train.fit(b, few, config)
    train.fit(c, few, dataclasses.replace(config, seed=5))
    assert ha == hb
    assert all(torch.equal(x, y) for x, y in zip(weights(a), weights(b)))
    assert not all(torch.equal(x, y) for x, y in zip(weights(a), weights(c)))  # batch order differs
    assert not any(torch.equal(x, y) for x, y in zip(weights(a), init))  # every tensor was trained


def test_history_rows(tiny):
    model = models.build("lenet5")
    history = train.fit(model, tiny.subset(100, 50), TrainConfig(epochs=2, batch_size=50, **CPU))
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(set(row) == {"epoch", "loss", "test_acc"} for row in history)
    assert all(math.isfinite(row["loss"]) and row["loss"] > 0 for row in history)
    assert all(0.0 <= row["test_acc"] <= 1.0 for row in history)
    assert history[-1]["test_acc"] == train.evaluate(model, tiny.subset(100, 50))
    quiet = train.fit(models.build("lenet5"), tiny.subset(32, 10), TrainConfig(epochs=1, **CPU),
                      eval_every_epoch=False)
    assert set(quiet[0]) == {"epoch", "loss"}


def test_zero_epochs_changes_nothing(tiny):
    model = models.build("lenet5")
    before = weights(model)
    assert train.fit(model, tiny, TrainConfig(epochs=0, **CPU)) == []
    assert all(torch.equal(x, y) for x, y in zip(weights(model), before))


def test_training_learns(trained_lenet, small_data):
    # the shared fixture: LeNet5, one epoch on 1,000 images; chance is 0.1
    assert train.evaluate(trained_lenet, small_data) > 0.5
    assert train.evaluate(models.build("lenet5"), small_data) < 0.3


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_loss_decreases(tiny, optimizer):
    model = models.build("lenet5", seed=1)
    history = train.fit(model, tiny.subset(100, 10),
                        TrainConfig(epochs=3, batch_size=20, lr=1e-2 if optimizer == "sgd" else 2e-3,
                                                 optimizer=optimizer, **CPU), eval_every_epoch=False)
    assert history[-1]["loss"] < history[0]["loss"]


def test_weight_decay_shrinks_weights(tiny):
    config = TrainConfig(epochs=1, batch_size=20, lr=1e-2, optimizer="sgd", **CPU)
    plain, decayed = models.build("lenet5"), models.build("lenet5")
    few = tiny.subset(100, 10)
    train.fit(plain, few, config, eval_every_epoch=False)
    train.fit(decayed, few, dataclasses.replace(config, weight_decay=0.5), eval_every_epoch=False)
    norm = lambda m: sum(float(p.detach().norm()) for p in m.parameters())  # noqa: E731
    assert norm(decayed) < norm(plain)


def test_fit_leaves_global_rng_alone(tiny):
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    train.fit(models.build("lenet5"), tiny.subset(64, 10), TrainConfig(epochs=1, **CPU),
              eval_every_epoch=False)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------------------------------- evaluate

def test_evaluate_is_top1_accuracy(trained_lenet, small_data):
    with torch.no_grad():
        predicted_test = trained_lenet(small_data.x_test).argmax(1)
        expected_test = float((predicted_test == small_data.y_test).float().mean())
        predicted_train = trained_lenet(small_data.x_train).argmax(1)
        expected_train = float((predicted_train == small_data.y_train).float().mean())
    acc = train.evaluate(trained_lenet, small_data)
    assert 0.0 <= acc <= 1.0
    assert acc == pytest.approx(expected_test)
    assert train.evaluate(trained_lenet, small_data, batch_size=7) == pytest.approx(expected_test)
    assert train.evaluate(trained_lenet, small_data, split="train") == pytest.approx(expected_train)


def test_evaluate_restores_training_mode(trained_lenet, small_data):
    model = copy.deepcopy(trained_lenet).train()
    train.evaluate(model, small_data.subset(10, 10))
    assert model.training
    model.eval()
    train.evaluate(model, small_data.subset(10, 10))
    assert not model.training


def test_evaluate_bad_split(trained_lenet, small_data):
    with pytest.raises(ValueError, match="split must be 'test', 'val' or 'train', got 'valid'"):
        train.evaluate(trained_lenet, small_data, split="valid")
    # a data set without a validation split: the error names the way to make one
    with pytest.raises(ValueError, match=r"has no validation split; make one with Dataset.with_validation"):
        train.evaluate(trained_lenet, small_data, split="val")


def test_evaluate_on_the_validation_split(trained_lenet, small_data):
    d = small_data.with_validation(200)
    with torch.no_grad():
        expected = float((trained_lenet(d.x_val).argmax(1) == d.y_val).float().mean())
        removed = trained_lenet(small_data.x_train[800:]).argmax(1)
        on_removed = float((removed == small_data.y_train[800:]).float().mean())
    on_val = train.evaluate(trained_lenet, d, split="val")
    assert on_val == pytest.approx(expected) == pytest.approx(on_removed)
    assert train.evaluate(trained_lenet, d, split="val", batch_size=33) == pytest.approx(expected)
    # test split unchanged
    assert train.evaluate(trained_lenet, d) == train.evaluate(trained_lenet, small_data)


def test_fit_never_sees_the_validation_images(tiny):
    """Training on a data set with a validation split gives the same weights as training on its
    training images alone, whatever the validation images are."""
    from prunegan.data import Dataset

    d = tiny.subset(96, 20).with_validation(32)
    alone = Dataset(d.name, d.x_train, d.y_train, d.x_test, d.y_test)
    poisoned = Dataset(d.name, d.x_train, d.y_train, d.x_test, d.y_test, d.num_classes,
                       torch.full_like(d.x_val, float("nan")), torch.zeros_like(d.y_val))
    config = TrainConfig(epochs=1, batch_size=16, seed=1, **CPU)
    nets = [models.build("lenet5", seed=0) for _ in range(3)]
    for net, dataset in zip(nets, (d, alone, poisoned)):
        train.fit(net, dataset, config, eval_every_epoch=False)
    for a, b, c in zip(*(weights(n) for n in nets)):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert len(d.y_train) == 64


# ----------------------------------------------------------------------------------- CPU threads
def test_cpu_threads_sets_and_restores():
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with train.cpu_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="boom"), train.cpu_threads(1):
            raise RuntimeError("boom")
        assert torch.get_num_threads() == 2  # restored after an error too
        with train.cpu_threads(None):
            assert torch.get_num_threads() == 2
        with train.cpu_threads(2):  # already so: nothing to change
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("bad", [0, -1, -2, 1.5, "2", True])
def test_cpu_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="threads") as err:
        with train.cpu_threads(bad):
            pass
    assert repr(bad) in str(err.value)
