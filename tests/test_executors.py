"""prunegan.pruning.executors: the local process pool and Ray give the same rows; a killed Ray worker
is retried or its row recomputed on resume, never lost or half-written; bad executor names, a missing
Ray and unreachable addresses fail at once with clear errors.

Ray is pinned (requirements.txt): where it is missing these tests fail with the install hint, they
are not skipped. The tests that need no running Ray come first; the others share one local Ray
instance with 2 CPUs (module-scoped, shut down at the end). test_executors_cluster.py has the
multi-node test and what happens on Ctrl-C or a failed task.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import re
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from ray_helpers import (CLOSED, _die_once, arm_after_first, import_ray, mask_list, ray_with_hooks, with_hook,
                         without_seconds)

from prunegan import train
from prunegan.core import provenance
from prunegan.pruning import engine, executors
from prunegan.pruning.executors import Execution
from prunegan.pruning.executors import ray_connect, ray_tasks
from prunegan.runs import baseline as baseline_mod
from prunegan.runs import runner

REPO = Path(__file__).resolve().parents[1]
RETRAIN = train.TrainConfig(epochs=1, batch_size=32, lr=1e-3, seed=3, device="cpu")


@pytest.fixture(scope="module")
def data(small_data):
    return small_data.subset(400, 200)


# ------------------------------------------------------------------ bad input (no Ray running)

def test_unknown_executor_lists_the_valid_ones(trained_lenet, data):
    assert executors.names() == ["local", "ray"]
    masks = mask_list(trained_lenet, 1)
    for bad in ("spark", "Ray", "", None, 1):
        with pytest.raises(ValueError, match=r"unknown executor .*valid: local, ray") as err:
            engine.evaluate_masks(trained_lenet, masks, data, RETRAIN, executor=bad)
        assert repr(bad) in str(err.value)
    with pytest.raises(ValueError, match="valid: local, ray"):  # even with nothing to evaluate
        engine.evaluate_masks(trained_lenet, [], data, RETRAIN, executor="dask")


def test_an_execution_is_checked_when_built_and_the_runner_takes_only_one(data, monkeypatch):
    with pytest.raises(ValueError, match="unknown executor 'dask'; valid: local, ray"):
        Execution(kind="dask")
    with pytest.raises(ValueError, match="only used with executor='ray'"):
        Execution(address="auto")
    with pytest.raises(ValueError, match="workers"):
        Execution(workers=0)
    with pytest.raises(ValueError, match="progress must be True or False, got 'yes'"):
        Execution(progress="yes")
    calls = []
    monkeypatch.setattr(runner, "_evaluations", lambda *a, **k: calls.append(1))
    base = baseline_mod.Baseline(baseline_mod.BaselineConfig(), None, data, {}, 0.0, None)
    with pytest.raises(ValueError, match="execution must be a prunegan.pruning.executors.Execution, got 'ra"):
        runner.run(base, [], execution="ray")
    assert calls == []  # before the cache is read


class _Reached(Exception):
    pass


def test_experiments_pass_the_executor_to_the_runner(monkeypatch):
    from prunegan.runs import bank, sweep

    seen = []

    def fake_run(base, jobs, **kwargs):
        seen.append(kwargs["execution"])
        raise _Reached

    monkeypatch.setattr(runner, "run", fake_run)
    base = baseline_mod.BaselineConfig(n_train=300, n_test=100,
                                       train=train.TrainConfig(epochs=1, device="cpu"))
    sweep_config = sweep.SweepConfig(baseline=base, sparsities=(0.5,), retrain=RETRAIN)
    bank_config = bank.BankConfig(baselines=(base,), sparsities=(0.5,), temperatures=(1.0,), draws=1,
                                  retrain=RETRAIN)
    calls = [lambda **kw: sweep.sweep(sweep_config, **kw),
             lambda **kw: sweep.trials(sweep_config, 0.5, 2, **kw),
             lambda **kw: bank.build(bank_config, **kw), lambda **kw: bank.build_one(bank_config, 0, **kw)]
    where = Execution(kind="ray", address="10.0.0.1:6379", workers=3, progress=False)
    for call in calls:
        with pytest.raises(_Reached):
            call(execution=where)
        with pytest.raises(_Reached):
            call()
    assert all(e is where for e in seen[::2])  # passed on unopened
    assert seen[1::2] == [Execution()] * len(calls)


@pytest.mark.parametrize("executor, address, needle", [
    ("local", "auto", "ray_address='auto' is only used with executor='ray', got executor='local'"),
    ("local", CLOSED, "only used with executor='ray'"),
    ("ray", "", "ray_address must be None, 'auto' or a cluster address"),
    ("ray", "  ", "ray_address must be None"),
    ("ray", 6379, "got 6379"),
])
def test_bad_ray_address_values(trained_lenet, data, executor, address, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        engine.evaluate_masks(trained_lenet, mask_list(trained_lenet, 1), data, RETRAIN, executor=executor,
                              ray_address=address)


def test_missing_ray_says_how_to_install_the_pin(trained_lenet, data, monkeypatch):
    pin = next(line.strip() for line in (REPO / "requirements.txt").read_text().splitlines()
               if line.startswith("ray=="))
    assert executors.RAY_REQUIREMENT == pin  # the hint installs exactly the pinned release
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(ImportError, match=re.escape(f"pip install {pin}")):
        engine.evaluate_masks(trained_lenet, mask_list(trained_lenet, 1), data, RETRAIN, executor="ray")
    # the local executor does not need Ray
    assert len(engine.evaluate_masks(trained_lenet, mask_list(trained_lenet, 1), data, RETRAIN,
                                     workers=1)) == 1


@pytest.mark.parametrize("address",
                         ["not-an-address", "10.0.0.1", "host:port", "10.0.0.1:99999", "ray://:10001"])
def test_malformed_address_is_named(trained_lenet, data, address):
    import_ray()
    with pytest.raises(ValueError, match=re.escape(repr(address)) + ".*host:port"):
        engine.evaluate_masks(trained_lenet, mask_list(trained_lenet, 1), data, RETRAIN, executor="ray",
                              ray_address=address)


def test_address_forms():
    assert ray_connect.host_port("10.0.0.1:6379") == ("10.0.0.1", 6379)
    assert ray_connect.host_port("ray://head.example:10001") == ("head.example", 10001)
    assert ray_connect.host_port("[::1]:6379") == ("::1", 6379)


@pytest.mark.parametrize("how", ["argument", "RAY_ADDRESS", "auto + RAY_ADDRESS"])
def test_unreachable_address_fails_fast_and_names_it(trained_lenet, data, monkeypatch, how):
    ray = import_ray()
    assert not ray.is_initialized(), "these tests must run before the module's Ray instance starts"
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    address = {"argument": CLOSED, "RAY_ADDRESS": None, "auto + RAY_ADDRESS": "auto"}[how]
    if how != "argument":
        monkeypatch.setenv("RAY_ADDRESS", CLOSED)
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=re.escape(repr(CLOSED))):
        engine.evaluate_masks(trained_lenet, mask_list(trained_lenet, 1), data, RETRAIN, executor="ray",
                              ray_address=address)
    assert time.perf_counter() - start < 60
    assert not ray.is_initialized()


@contextlib.contextmanager
def _not_ray(answer: bytes | None):
    """A loopback TCP server that is not Ray: it accepts connections and then sends ``answer`` and
    closes (``None``: says nothing and keeps the connection open). Yields its address."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    held = []

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            if answer is None:
                held.append(conn)
            else:
                with conn:
                    conn.recv(64)
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


@pytest.mark.parametrize("answer, why", [(None, "it sent nothing back"),
                                         (b"HTTP/1.1 400 Bad Request\r\n\r\n", "not HTTP/2"),
                                         (b"", "it closed the connection")])
def test_a_port_that_is_not_ray_fails_fast_and_names_it(trained_lenet, data, monkeypatch, answer, why):
    """Something listens, but not Ray: ``ray.init`` would retry it for minutes; the executor gives
    up after CONNECT_TIMEOUT_S (here 1 s) with the address and what the port did."""
    ray = import_ray()
    assert not ray.is_initialized(), "these tests must run before the module's Ray instance starts"
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_USE_TLS", raising=False)
    monkeypatch.setattr(ray_connect, "CONNECT_TIMEOUT_S", 1.0)
    monkeypatch.setattr(ray, "init",
                        lambda *a, **k: pytest.fail("ray.init was called on a port that is not Ray"))
    with _not_ray(answer) as address:
        start = time.perf_counter()
        with pytest.raises(ConnectionError,
                           match=re.escape(repr(address)) + " .*not a Ray cluster: .*" + why):
            engine.evaluate_masks(trained_lenet, mask_list(trained_lenet, 1), data, RETRAIN, executor="ray",
                                  ray_address=address)
        assert time.perf_counter() - start < 5
    assert ray_connect.CONNECT_TIMEOUT_S * 2 < 60  # connect + answer: within the minute the issue allows


def test_an_http2_answer_passes_the_check():
    """What a gRPC server (Ray's head node) sends first: a SETTINGS frame on stream 0."""
    settings = bytes([0, 0, 6, 4, 0, 0, 0, 0, 0]) + bytes([0, 3, 0, 0, 0, 100])
    with _not_ray(settings) as address:
        ray_connect.check_reachable(address, timeout=2.0)  # no error


def test_inputs_are_checked_once_per_call(trained_lenet, data, monkeypatch):
    """The engine checks its inputs once, at the entry; the runner checks all its jobs once before it
    reads its cache, and hands the uncached ones on without checking them again."""
    checks = []
    real_check = executors.check
    monkeypatch.setattr(executors.common, "check", lambda *a: (checks.append(a), real_check(*a))[1])
    masks = mask_list(trained_lenet, 2)
    assert len(engine.evaluate_masks(trained_lenet, masks, data, RETRAIN, workers=1)) == 2
    assert checks == [("local", None)]
    base = baseline_mod.Baseline(baseline_mod.BaselineConfig(), trained_lenet, data, {}, 0.0, None)
    handed_on = []
    real_evaluate = runner.evaluate_checked
    monkeypatch.setattr(runner, "evaluate_checked", lambda m, ms, *a, **k: (handed_on.append(len(ms)),
                                                                           real_evaluate(m, ms, *a, **k))[1])
    checks.clear()
    df = runner.run(base, [runner.Job(m, RETRAIN) for m in masks + masks[:1]],
                    execution=Execution(workers=1, progress=False))
    assert len(df) == 3 and checks == [("local", None)] and handed_on == [2]  # the Execution's check
    with pytest.raises(ValueError, match="one config or one per mask"):
        engine.check_request(trained_lenet, masks, [RETRAIN] * 3)
    with pytest.raises(ValueError, match="TrainConfig"):
        engine.check_request(trained_lenet, masks, [RETRAIN, {"epochs": 1}])


# ------------------------------------------------------------------ a local Ray instance, 2 CPUs

@pytest.fixture(scope="module")
def local_ray():
    ray = ray_with_hooks()
    assert not ray.is_initialized()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RAY_ADDRESS", raising=False)
        executors.connect(None, workers=2)  # what evaluate_masks(executor="ray", workers=2) does
        yield ray
    ray.shutdown()


def test_a_local_instance_has_the_requested_cpus(local_ray):
    assert local_ray.cluster_resources()["CPU"] == 2
    assert len([n for n in local_ray.nodes() if n["Alive"]]) == 1


def test_ray_rows_are_the_local_rows(local_ray, trained_lenet, data, monkeypatch, caplog):
    masks = mask_list(trained_lenet, 5)
    configs = [dataclasses.replace(RETRAIN, seed=s) for s in (3, 3, 7, 8, 3)]
    assert sorted(map(sorted, engine.groups(trained_lenet, masks, configs))) == [[0, 1, 4], [2], [3]]
    expected = without_seconds(engine.evaluate_masks(trained_lenet, masks, data, configs, workers=1))
    assert len({r["retrained_acc"] for r in expected}) > 1
    before = copy.deepcopy(trained_lenet.state_dict())
    pooled = engine.evaluate_masks(trained_lenet, masks, data, configs, workers=2)
    puts = []
    real_put = local_ray.put
    monkeypatch.setattr(local_ray, "put",
                        lambda value, **kw: (puts.append(type(value).__name__), real_put(value, **kw))[1])
    seen = []
    with caplog.at_level("INFO", logger="prunegan.pruning.executors"):
        on_ray = engine.evaluate_masks(trained_lenet, masks, data, configs, executor="ray",
                                       on_result=lambda i, row: seen.append((i, without_seconds([row])[0])))
    one_at_a_time = engine.evaluate_masks(trained_lenet, masks, data, configs, executor="ray", workers=1)
    assert without_seconds(pooled) == expected
    assert without_seconds(on_ray) == expected  # bit-identical: == on floats
    assert without_seconds(one_at_a_time) == expected
    assert all(r["seconds"] > 0 for r in on_ray)
    assert all({k: r[k] for k in provenance.FIELDS} == provenance.describe() for r in on_ray)  # the node's
    assert sorted(seen, key=lambda t: t[0]) == list(enumerate(expected))  # every row once, in the driver
    # the model and the data went to the object store once for the whole call, not once per mask
    assert sorted(puts[:2]) == ["Dataset", "LeNet5"] and len(puts) == 2 + 2  # (two calls)
    assert "evaluated 5 masks with Ray on 1 node(s)" in caplog.text
    after = trained_lenet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_connected_process_keeps_its_connection(local_ray, trained_lenet, data):
    connected = local_ray.get_runtime_context().gcs_address
    masks = mask_list(trained_lenet, 1)
    for address in ("auto", connected):
        assert len(engine.evaluate_masks(trained_lenet, masks, data, RETRAIN, executor="ray",
                                         ray_address=address)) == 1
    assert local_ray.get_runtime_context().gcs_address == connected
    with pytest.raises(ValueError, match=re.escape(repr(connected)) + ".*" + re.escape(repr(CLOSED))):
        engine.evaluate_masks(trained_lenet, masks, data, RETRAIN, executor="ray", ray_address=CLOSED)


def test_a_killed_worker_is_retried_and_nothing_is_lost(local_ray, trained_lenet, data, tmp_path):
    marker = tmp_path / "kill"
    model = with_hook(trained_lenet, _die_once, marker)
    masks = mask_list(trained_lenet, 6)
    configs = _one_by_one(6)  # one mask per task: the hook runs in evaluate_mask's network
    expected = without_seconds(engine.evaluate_masks(model, masks, data, configs, workers=1))  # not armed
    on_result, seen = arm_after_first(marker)
    rows = engine.evaluate_masks(model, masks, data, configs, executor="ray", on_result=on_result)
    assert not marker.exists(), "no worker was killed"
    assert without_seconds(rows) == expected
    assert sorted(seen) == list(range(6))  # each row reached the driver once


BASE = baseline_mod.BaselineConfig(n_train=300, n_test=200, train=train.TrainConfig(epochs=1, device="cpu"))


def _one_by_one(n):
    """``n`` retraining configs that differ in their seed: each mask is its own group (not fused)."""
    return [dataclasses.replace(RETRAIN, seed=100 + i) for i in range(n)]


def _jobs(model, n):
    masks = mask_list(model, n)
    return [runner.Job(m, c, {"trial": i}) for i, (m, c) in enumerate(zip(masks, _one_by_one(n)))]


def test_the_runner_on_ray_gives_the_local_frame(local_ray, tmp_path, monkeypatch):
    base = baseline_mod.baseline(BASE, progress=False)
    jobs = _jobs(base.model, 4)
    local = runner.run(base, jobs, execution=Execution(workers=2, progress=False))
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "ray"))
    on_ray = runner.run(base, jobs, execution=Execution(kind="ray", progress=False))
    cols = ["trial", "key", "pruned_acc", "retrained_acc", "macs", "params", "kept"]
    assert on_ray[cols].equals(local[cols])
    assert len(list(runner.evaluations(base).path.glob("rows/*.json"))) == 4
    # all cached: executor="ray" reads the rows back and needs no Ray at all
    monkeypatch.setitem(sys.modules, "ray", None)
    again = runner.run(base, jobs, execution=Execution(kind="ray", progress=False))
    assert again[cols].equals(local[cols])


def test_a_crashed_run_resumes_without_missing_or_half_rows(local_ray, tmp_path, monkeypatch):
    # (last: the failure disconnects this process from Ray, which stops the local instance)
    base = baseline_mod.baseline(BASE, progress=False)
    jobs = _jobs(base.model, 6)
    expected = runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "ray"))
    marker = tmp_path / "kill"
    crashing = dataclasses.replace(base, model=with_hook(base.model, _die_once, marker))
    monkeypatch.setattr(ray_tasks, "RAY_MAX_RETRIES", 0)  # no retry: the run fails
    real = runner.evaluate_checked
    asked = []

    def spy(model, masks, *args, on_result=None, **kwargs):
        asked.append(len(masks))
        wrapped, _ = arm_after_first(marker, on_result)
        return real(model, masks, *args, on_result=wrapped if len(asked) == 1 else on_result, **kwargs)

    monkeypatch.setattr(runner, "evaluate_checked", spy)
    with pytest.raises(local_ray.exceptions.RayError):
        runner.run(crashing, jobs, execution=Execution(kind="ray", progress=False))
    assert not marker.exists()
    cache = runner.evaluations(base)
    done = len(list(cache.path.glob("rows/*.json")))
    assert 1 <= done < 6  # what finished is kept ...
    assert not list(cache.path.rglob("*.tmp"))  # ... and nothing half-written
    assert not local_ray.is_initialized()  # the other tasks were stopped with the instance
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    resumed = runner.run(base, jobs, execution=Execution(kind="ray", workers=2, progress=False))
    assert asked == [6, 6 - done]  # only the missing rows were recomputed ...
    assert local_ray.cluster_resources()["CPU"] == 2  # ... on a new local instance with `workers` CPUs
    cols = ["trial", "key", "pruned_acc", "retrained_acc", "macs", "params"]
    assert resumed[cols].equals(expected[cols])
