"""benchmarks/book_compute.py: counts trainings and image-epochs from a results cache written by the
library's own cache folders; clear errors for a missing or empty folder."""
from __future__ import annotations

import pytest

from prunegan.core.store import Run
from prunegan.runs.baseline import BaselineConfig
from prunegan.train import TrainConfig

from test_benchmark_args import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("book_compute")


def test_counts_baselines_and_retrainings_with_the_validation_cut(bench, tmp_path):
    base = BaselineConfig(n_train=400, n_test=200, n_val=100, train=TrainConfig(epochs=2))
    Run("baseline", base, root=tmp_path)
    evals = Run("evals", {"baseline": base, "form": "compact"}, root=tmp_path)
    for i, epochs in enumerate((1, 1, 3)):
        evals.write_json(f"rows/{i}.json", {"retrain": TrainConfig(epochs=epochs), "retrained_acc": 0.5})
    counts = bench.count(tmp_path)
    assert counts == {("baseline", "mnist-5k", 300, 2): 1, ("retraining", "mnist-5k", 300, 1): 2,
                      ("retraining", "mnist-5k", 300, 3): 1}


def test_main_prints_the_total(bench, tmp_path, capsys):
    base = BaselineConfig(n_train=400, n_test=200, n_val=0, train=TrainConfig(epochs=1))
    Run("baseline", base, root=tmp_path)
    bench.main(["--results", str(tmp_path)])
    assert capsys.readouterr().out.strip().endswith("total: 0.00 M image-epochs")


@pytest.mark.parametrize("make, named", [(False, "is not a folder"),
                                         (True, "holds no baseline_* or evals_*")])
def test_bad_results_folder_is_named(bench, tmp_path, capsys, make, named):
    folder = tmp_path / "results"
    if make:
        folder.mkdir()
    with pytest.raises(SystemExit):
        bench.main(["--results", str(folder)])
    err = capsys.readouterr().err
    assert f"--results {folder}" in err and named in err
