"""The trained network every experiment starts from, cached under ``results/baseline_<hash>/``."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from torch import nn

from .. import data as data_mod
from .. import models
from ..core.store import Run
from ..core.validate import check_int
from ..train import CPU_THREADS, TrainConfig, cpu_threads, evaluate, fit, resolve_device


@dataclass(frozen=True)
class BaselineConfig:
    """``model`` trained on ``data`` (split by ``data_seed``; first ``n_train`` / ``n_test`` images
    only when set, for smoke runs) from initial weights drawn with ``init_seed``. ``n_val`` of the
    training images (the last ones, after the smoke subset) are held out as a validation split:
    neither the network nor any retraining of its pruned copies sees them."""

    model: str = "lenet5"
    data: str = "mnist-5k"
    data_seed: int = 0
    init_seed: int = 0
    n_train: int | None = None
    n_test: int | None = None
    n_val: int = 0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=10))

    def __post_init__(self) -> None:
        models.MODELS.get(self.model)
        data_mod.LOADERS.get(self.data)
        for name in ("data_seed", "init_seed"):
            check_int(f"BaselineConfig.{name}", getattr(self, name), 0)
        for name in ("n_train", "n_test"):
            check_int(f"BaselineConfig.{name}", getattr(self, name), 1, allow_none=True)
        check_int("BaselineConfig.n_val", self.n_val, 0)
        if self.n_train is not None and self.n_val >= self.n_train:
            raise ValueError(f"BaselineConfig.n_val={self.n_val} must be below n_train={self.n_train}")


@dataclass
class Baseline:
    """A trained network with its data, learning curve (one row per epoch) and test accuracy."""

    config: BaselineConfig
    model: nn.Module
    data: data_mod.Dataset
    history: list[dict]
    accuracy: float
    run: Run


@functools.lru_cache(maxsize=4)
def _load_data(name: str, seed: int, n_train: int | None, n_test: int | None, n_val: int,
               device: str) -> data_mod.Dataset:
    return data_mod.load(name, seed=seed, device=device).subset(n_train, n_test).with_validation(n_val)


def load_data(config: BaselineConfig) -> data_mod.Dataset:
    """The (possibly subset) data set of a baseline, on its training device; cached in memory."""
    device = str(resolve_device(config.train.device))
    return _load_data(config.data, config.data_seed, config.n_train, config.n_test, config.n_val, device)


def baseline(config: BaselineConfig = BaselineConfig(), *, progress: bool = True) -> Baseline:
    """Train (or load from the cache) the baseline network of ``config``."""
    run = Run("baseline", config)
    data = load_data(config)
    model = models.build(config.model, num_classes=data.num_classes, seed=config.init_seed)
    state, history = run.load_torch("model.pt"), run.read_json("history.json")
    if state is None or history is None:
        # A fixed thread count: float sums, and so the trained weights, depend on it.
        threads = CPU_THREADS if data.device.type == "cpu" else None
        with cpu_threads(threads):
            history = fit(model, data, config.train, progress=progress)
        run.save_torch("model.pt", model.state_dict())
        run.write_json("history.json", history)
    else:
        model.load_state_dict(state)
    model.to(data.device).eval()
    return Baseline(config, model, data, history, evaluate(model, data), run)
