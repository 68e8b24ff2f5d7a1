"""The one runner: content-addressed evaluation cache, dedup, resume, corrupt files, versioning, workers."""
from __future__ import annotations

import json

import pytest
from prunegan.core import store
from prunegan.pruning import engine, fused, strategies
from prunegan.pruning.executors import Execution
from prunegan.runs import baseline as baseline_mod
from prunegan.runs import runner
from prunegan.train import TrainConfig

QUIET = Execution(progress=False)

BASE = baseline_mod.BaselineConfig(n_train=300, n_test=200, train=TrainConfig(epochs=1, device="cpu"))
RETRAIN = TrainConfig(epochs=1, device="cpu")


@pytest.fixture()
def base():
    return baseline_mod.baseline(BASE, progress=False)


def _jobs(base, seeds=(0, 1, 2), sparsity=0.5):
    return [runner.Job(strategies.prune(base.model, "random", sparsity, seed=s), RETRAIN, {"trial": i})
            for i, s in enumerate(seeds)]


def _count_evaluations(monkeypatch):
    """A list that gets one entry per mask the engine evaluates (alone or in a fused group)."""
    calls = []
    real = engine.evaluate_group

    def counting(model, masks, *args, **kwargs):
        calls.extend([1] * len(masks))
        return real(model, masks, *args, **kwargs)

    monkeypatch.setattr(engine, "evaluate_group", counting)
    return calls


def test_rows_carry_labels_and_equal_a_direct_evaluation(base):
    jobs = _jobs(base)
    df = runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    assert df["trial"].tolist() == [0, 1, 2]
    direct = engine.evaluate_mask(base.model, jobs[1].mask, base.data, RETRAIN)
    assert df.loc[1, "retrained_acc"] == direct["retrained_acc"]
    assert df.loc[1, "pruned_acc"] == direct["pruned_acc"]
    assert df.loc[1, "key"] == jobs[1].mask.key() and df.loc[1, "mask"] == jobs[1].mask.to_dict()


def test_identical_jobs_are_evaluated_once_and_shared_across_calls(base, monkeypatch):
    calls = _count_evaluations(monkeypatch)
    jobs = _jobs(base, seeds=(0, 0, 1))  # the first two are the same mask with the same retraining
    df = runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    assert len(calls) == 2 and df.loc[0, "retrained_acc"] == df.loc[1, "retrained_acc"]
    other_labels = [runner.Job(j.mask, j.retrain, {"from": "another experiment"}) for j in jobs]
    runner.run(base, other_labels, execution=Execution(workers=1, progress=False))
    assert len(calls) == 2  # same masks and retraining: read back, whoever asked first
    runner.run(base, [runner.Job(jobs[0].mask, TrainConfig(epochs=1, device="cpu", seed=9))],
               execution=Execution(workers=1, progress=False))
    assert len(calls) == 3  # another retraining seed is another evaluation


def test_interrupted_run_resumes_where_it_stopped_with_the_same_numbers(base, monkeypatch, tmp_path):
    monkeypatch.setitem(fused.GROUP_SIZE, "cpu", 2)  # 6 masks of one config: 3 fused groups of 2
    jobs = [runner.Job(strategies.prune(base.model, "random", 0.7, seed=s, min_channels_per_layer=1), RETRAIN,
                       {"trial": s}) for s in range(6)]  # no collapsed layer: every mask fusable
    real = engine.evaluate_group
    groups = []

    def flaky(model, masks, *args, **kwargs):
        groups.append(len(masks))
        if len(groups) == 3:
            raise KeyboardInterrupt
        return real(model, masks, *args, **kwargs)

    monkeypatch.setattr(engine, "evaluate_group", flaky)
    with pytest.raises(KeyboardInterrupt):
        runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    cache = runner.evaluations(base)
    assert groups == [2, 2, 2] and len(list(cache.path.glob("rows/*.json"))) == 4  # two groups kept
    assert not list(cache.path.rglob("*.tmp"))  # no half-written file
    groups.clear()
    monkeypatch.setattr(engine, "evaluate_group", lambda m, ms, *a, **k: (groups.append(len(ms)),
                                                                          real(m, ms, *a, **k))[1])
    resumed = runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    assert len(resumed) == 6 and groups == [2]  # only the unfinished group, as it was
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "uninterrupted"))
    whole = runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    cols = ["trial", "key", "pruned_acc", "retrained_acc", "retrained_val_acc"]
    assert resumed[cols].equals(whole[cols])  # bit-identical to a run that was never interrupted


def test_corrupt_evaluation_is_reported_and_recomputed(base):
    jobs = _jobs(base, seeds=(0,))
    first = runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    path = runner.evaluations(base).file(jobs[0].cache_name())
    path.write_text('{"truncated": ')
    with pytest.warns(store.CorruptCacheWarning, match=path.name):
        again = runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    assert json.loads(path.read_text())["retrained_acc"] == again.loc[0, "retrained_acc"]
    assert again.loc[0, "retrained_acc"] == first.loc[0, "retrained_acc"]  # deterministic recomputation


def test_a_bumped_results_version_recomputes_instead_of_reusing(base, monkeypatch):
    jobs = _jobs(base, seeds=(0,))
    runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    calls = _count_evaluations(monkeypatch)
    runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    assert calls == []
    monkeypatch.setattr(store, "RESULTS_VERSION", store.RESULTS_VERSION + 1)
    newer = baseline_mod.baseline(BASE, progress=False)  # the baseline's key changes too
    assert newer.run.path != base.run.path
    runner.run(newer, jobs, execution=Execution(workers=1, progress=False))
    assert len(calls) == 1


def test_rows_do_not_depend_on_the_number_of_workers(base, tmp_path, monkeypatch):
    jobs = _jobs(base, seeds=(0, 1, 2, 3))
    one = runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "two"))
    two = runner.run(base, jobs, execution=Execution(workers=2, progress=False))
    cols = ["mask", "pruned_acc", "retrained_acc", "macs", "params"]
    assert one[cols].equals(two[cols])


def test_bad_jobs_raise_clear_errors(base):
    with pytest.raises(ValueError, match="ChannelMask"):
        runner.Job({"conv1": [1]}, RETRAIN)
    with pytest.raises(ValueError, match="TrainConfig"):
        runner.Job(_jobs(base)[0].mask, {"epochs": 1})
    with pytest.raises(ValueError, match="Job objects"):
        runner.run(base, ["not a job"], execution=QUIET)
    with pytest.raises(ValueError, match="form"):
        runner.run(base, _jobs(base), form="sparse", execution=QUIET)


def test_rows_record_the_machine_that_computed_them_and_keep_it_when_read_back(base, monkeypatch):
    """Provenance (torch version, processor) is stored with every row but is not part of its key:
    a row restored from a cache made on another CPU kind is reused and still names that CPU."""
    from prunegan.core import provenance

    jobs = _jobs(base, seeds=(0,))
    df = runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    here = provenance.describe("cpu")
    assert df.loc[0, "torch_version"] == here["torch_version"]
    assert df.loc[0, "device_name"] == here["device_name"]
    path = runner.evaluations(base).file(jobs[0].cache_name())
    stored = json.loads(path.read_text())
    assert {k: stored[k] for k in provenance.FIELDS} == here
    stored.update(device_name="Another CPU kind", torch_version="2.0.0")
    path.write_text(json.dumps(stored))
    calls = _count_evaluations(monkeypatch)
    again = runner.run(base, jobs, execution=Execution(workers=1, progress=False))
    assert calls == []  # same key: reused, not recomputed
    assert again.loc[0, "device_name"] == "Another CPU kind" and again.loc[0, "torch_version"] == "2.0.0"
    assert again.loc[0, "retrained_acc"] == df.loc[0, "retrained_acc"]
    # (the CPU's instruction set and the kernels' level stay as stored too)
    assert provenance.summary(again) == (f"Another CPU kind ({here['cpu_isa']} CPU), "
                                         f"{here['cpu_capability']} kernels, torch 2.0.0 (1 row)")


def test_rows_from_worker_processes_record_provenance(base):
    import torch

    df = runner.run(base, _jobs(base, seeds=(0, 1)), execution=Execution(workers=2, progress=False))
    assert df["device_name"].notna().all() and (df["torch_version"] == torch.__version__).all()
