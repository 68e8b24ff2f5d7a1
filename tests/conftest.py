"""Shared fixtures. Keep this small: module-specific helpers live in their test files.

- ``isolated_dirs`` (autouse): ``PRUNEGAN_RESULTS`` and ``PRUNEGAN_DATA`` point at fresh temporary
  folders, so no test reads or writes the repository's ``results/`` or the user's data cache.
- ``mnist5k``: the embedded data set (4,000 / 1,000), loaded once per session.
- ``small_data``: its first 1,000 training and 300 test images.
- ``trained_lenet``: LeNet5 trained one epoch on ``small_data`` (CPU, seed 0). Shared by many
  tests: never change it in place (``copy.deepcopy`` it first).

The unit tests train tiny networks on small batches; with more than one intra-op thread such runs
are several times *slower* on a busy 2-core machine (threads wait for each other), so the session
uses one thread (``PRUNEGAN_TEST_THREADS`` overrides it).
"""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

# prunegan before torch: importing it pins numpy's SIMD dispatch, which numpy reads when it is
# imported (and `import torch` imports numpy); prunegan.kernels.
from prunegan import data, models, train  # noqa: I001
import torch


def pytest_configure(config):
    torch.set_num_threads(int(os.environ.get("PRUNEGAN_TEST_THREADS", "1")))


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory, monkeypatch):
    results = tmp_path_factory.mktemp("results")
    data_dir = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(results))
    monkeypatch.setenv("PRUNEGAN_DATA", str(data_dir))
    return SimpleNamespace(results=results, data=data_dir)


@pytest.fixture(scope="session")
def mnist5k(tmp_path_factory) -> data.Dataset:
    with pytest.MonkeyPatch.context() as mp:  # session-scoped: set up before isolated_dirs
        mp.setenv("PRUNEGAN_DATA", str(tmp_path_factory.mktemp("session_data")))
        return data.load("mnist-5k", seed=0)


@pytest.fixture(scope="session")
def small_data(mnist5k) -> data.Dataset:
    return mnist5k.subset(1000, 300)


@pytest.fixture(scope="session")
def trained_lenet(small_data) -> torch.nn.Module:
    model = models.build("lenet5", seed=0)
    train.fit(model, small_data, train.TrainConfig(epochs=1, lr=3e-3, seed=0, device="cpu"),
              eval_every_epoch=False)
    model.eval()
    return model


@pytest.fixture(scope="module")
def images():
    """The first 64 embedded validation images (``(64, 1, 28, 28)`` floats)."""
    return data.default_inputs()[:64]


@pytest.fixture(scope="module")
def labels():
    """Their labels (``(64,)`` int64)."""
    return data.default_labels()[:64]
