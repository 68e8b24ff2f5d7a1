"""The Ray executor on a real multi-node cluster: two Ray nodes on this machine with one CPU each
(``ray.cluster_utils.Cluster``, module-scoped), joined by address as a researcher joins a cluster
started with ``ray start``. A small bank is built end to end on it and equals the local bank; Ctrl-C
and a failed task stop the work on the cluster, not only in this process.
"""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from ray_helpers import _raise_once, mask_list, ray_with_hooks, wait_until_idle, with_hook

from prunegan.pruning import engine
from prunegan.pruning.executors import Execution
from prunegan.runs import bank as bank_mod
from prunegan.runs.bank import BankConfig
from prunegan.runs.baseline import BaselineConfig
from prunegan.train import TrainConfig

TINY_TRAIN = TrainConfig(epochs=1, device="cpu")
#: Masks of about 5 s each on one core (1,000 images): 8 of them keep both nodes busy for 20 s.
#: Eight slow configs that differ in their seed: one mask per Ray task (same-config masks are fused).
SLOW_EACH = [TrainConfig(epochs=12, batch_size=32, seed=3 + i, device="cpu") for i in range(8)]


def tiny_bank_config() -> BankConfig:
    bases = tuple(BaselineConfig(init_seed=s, n_train=300, n_test=100,
                                 train=TrainConfig(epochs=1, seed=s, device="cpu"))
                  for s in (0, 1))
    return BankConfig(baselines=bases, sparsities=(0.5, 0.9), temperatures=(1.0,), draws=2,
                      retrain=TINY_TRAIN)


@pytest.fixture(scope="module")
def cluster():
    ray = ray_with_hooks()
    from ray.cluster_utils import Cluster

    assert not ray.is_initialized()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RAY_ADDRESS", raising=False)
        nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        try:
            nodes.add_node(num_cpus=1)
            nodes.wait_for_nodes()
            yield nodes
        finally:
            ray.shutdown()
            nodes.shutdown()


def test_a_bank_built_on_two_nodes_is_the_local_bank(cluster, tmp_path, monkeypatch, caplog):
    ray = ray_with_hooks()
    config = tiny_bank_config()
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "local"))
    local = bank_mod.build(config, execution=Execution(workers=2, progress=False))
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "cluster"))
    with caplog.at_level("INFO", logger="prunegan.pruning.executors"):
        on_cluster = bank_mod.build(config, execution=Execution(kind="ray", address=cluster.address,
                                                                 progress=False))
    alive = [n for n in ray.nodes() if n["Alive"]]
    assert len(alive) == 2 and ray.cluster_resources()["CPU"] == 2
    assert "with Ray on 2 node(s)" in caplog.text  # both nodes evaluated masks
    assert len(on_cluster) == len(local) >= 2 * 16 - 4
    columns = [c for c in local.frame.columns if c != "seconds"]
    assert on_cluster.frame[columns].equals(local.frame[columns])  # same rows, bit for bit


def _interrupt_after_first(seen):
    def on_result(i, row):
        seen.append(i)
        if len(seen) == 1:  # Ctrl-C while the driver waits for the next rows
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
    return on_result


def test_ctrl_c_stops_the_work_on_the_cluster(cluster, trained_lenet, small_data):
    ray = ray_with_hooks()
    masks = mask_list(trained_lenet, 8)
    seen = []
    # Python's own Ctrl-C handler, even where this process started with SIGINT ignored (a background
    # job of a non-interactive shell inherits SIG_IGN, and then no KeyboardInterrupt ever comes)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            # one task in flight (workers=1): the next row is still running when Ctrl-C comes
            engine.evaluate_masks(trained_lenet, masks, small_data, SLOW_EACH, executor="ray",
                                  ray_address=cluster.address, workers=1,
                                  on_result=_interrupt_after_first(seen))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert 1 <= len(seen) < len(masks)  # finished rows reached the driver, the rest did not run to the end
    # (the executor leaves the cluster, which kills the tasks of a driver that left)
    if not ray.is_initialized():
        ray.init(address=cluster.address)
    idle = wait_until_idle(ray, 30)
    assert idle is not None and idle < 1.5, f"the cluster was still busy {idle} s after Ctrl-C"
    # and the next call works
    rows = engine.evaluate_masks(trained_lenet, masks[:1], small_data, TINY_TRAIN, executor="ray",
                                 ray_address=cluster.address)
    assert len(rows) == 1


def test_a_python_error_in_a_task_is_raised_not_retried(cluster, trained_lenet, small_data, tmp_path):
    ray = ray_with_hooks()
    marker = tmp_path / "raise"
    model = with_hook(trained_lenet, _raise_once, marker)
    marker.touch()
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="boom inside a Ray task"):
        engine.evaluate_masks(model, mask_list(trained_lenet, 8), small_data, SLOW_EACH, executor="ray",
                              ray_address=cluster.address)
    assert not marker.exists()
    assert time.perf_counter() - start < 30
    # not retried: a retry would have succeeded (the marker is gone) and returned rows instead
    if not ray.is_initialized():
        ray.init(address=cluster.address)
    idle = wait_until_idle(ray, 30)
    assert idle is not None and idle < 1.5, f"the other masks still ran {idle} s after the error"
