"""Every notebook runs headlessly under papermill with ``smoke=True``, its scraps hold sane values,
the executed copies are prepared for reading, the README's wired numbers all resolve, and the book
builds from the executed copies with warnings as errors (verdicts as prose, the custom CSS in)."""
from __future__ import annotations

import html
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import scrapbook as sb

from prunegan import book
from prunegan.book.replicate_page import write_page

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Path:
    """All notebooks executed with smoke=True into a temporary book/executed/ folder."""
    out = tmp_path_factory.mktemp("book") / "executed"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRUNEGAN_RESULTS", str(tmp_path_factory.mktemp("results")))
        for path in book.notebooks():
            params = {"smoke": True}
            if path.name.startswith("99_"):
                params["executed_dir"] = str(out)
            book.execute(path, out / path.name, params)
    return out


def scraps(executed: Path, stem: str) -> dict:
    return {k: s.data for k, s in sb.read_notebook(str(executed / f"{stem}.ipynb")).scraps.items()}


def test_source_notebooks_are_committed_clean_and_parameterised():
    for path in book.notebooks():
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert not any(c.get("outputs") for c in code), f"{path.name} has outputs"
        assert any("parameters" in c["metadata"].get("tags", [])
                   for c in code), f"{path.name}: no parameters cell"
        params = next(c for c in code if "parameters" in c["metadata"].get("tags", []))
        assert "smoke" in "".join(params["source"]), f"{path.name}: no smoke parameter"
        source = "".join("".join(c["source"]) for c in code)
        assert "def " not in source and "class " not in source and "pip install" not in source, path.name


def test_baseline_scraps(executed):
    s = scraps(executed, "01_baseline")
    assert 0.1 < s["baseline_acc"] <= 1 and s["n_train"] == 400 and s["n_test"] == 200
    assert s["n_channels"] == 22 and s["dense_params"] == 61706


def test_sweep_scraps(executed):
    l1 = scraps(executed, "02_l1_sweep")
    assert 0 <= l1["l1_retrained_acc_90"] <= 1 and l1["l1_collapsed_90"] in (0, 1)
    rnd = scraps(executed, "03_random")
    assert rnd["random_trials"] == 2 and 0 <= rnd["random_collapse_rate"] <= 1


def test_trials_scraps(executed):
    s = scraps(executed, "04_trials")
    assert s["trials_n"] == 3 and s["trials_sparsity"] == 0.9
    assert 0 <= s["trials_stuck_and_collapsed"] <= s["trials_stuck"] <= 3


def test_layer_sparsity_scraps(executed):
    s = scraps(executed, "05_layer_sparsity")
    assert s["stuck_collapsed_min0"] + s["stuck_without_collapse_min0"] == s["stuck_min0"] <= s["runs_min0"]
    assert 0 <= s["random90_collapse_rate_min0"] <= 1


def test_gan_scraps(executed):
    values = scraps(executed, "06_gan")
    # the smoke run compares at 80 and 90 %: every method's accuracy per setting, the standard criteria,
    # the margins over the best one and over random, the targets' counts and the choices made
    for name in ("conv_gan_acc_90", "conv_random_min1_acc_90", "conv_l1_min1_acc_90", "conv_best_bank_acc_90",
                 "conv_best_criterion_acc_90", "conv_tp_lamp_min1_acc_80", "conv_uniform_l1_acc_90",
                 "conv_uniform_random_acc_90", "conv_random_min1_critic_acc_90", "linear_gan_acc_90",
                 "linear_best_bank_acc_90", "transfer_gan_acc_90", "transfer_random_min1_acc_90",
                 "margin_best_conv_90", "margin_random_linear_80", "best_criterion_conv_90",
                 "target_beats_random_min1_cells", "target_at_least_the_best_standard_criterion_cells",
                 "landscape_gan_expected", "gan_entropy_weight", "gan_critic_weight", "gan_features",
                 "critic_spearman_collapse_free_conv", "gan_verdict"):
        assert name in values, f"scrap {name} missing; have {sorted(values)}"
    # structured scraps: the forest plot's rows (drawn again on the findings page) and the judged cells
    forest = values.pop("figdata_forest_gan_best")
    assert forest["method"] == "gan" and forest["other"] == "best-criterion" and forest["rows"]
    assert {r["statistic"] for r in forest["rows"]} == {"paired", "networks_paired"}
    assert isinstance(values.pop("target_cells"), dict)
    for name in ("fit_gan_conv_fits", "fit_scratch_linear_learned", "fit_final_gap_linear_80",
                 "margin_adversarial_conv_80", "margin_likelihood_best_linear_90",
                 "linear_gan_likelihood_acc_80"):
        assert name in values, f"scrap {name} missing"
    for name, v in values.items():
        if isinstance(v, str):
            continue
        assert isinstance(v, float) and math.isfinite(v), (name, v)
        if "_acc_" in name:
            assert 0.0 <= v <= 1.0, (name, v)
        if name.startswith("target_") and name.endswith("_met"):
            assert 0 <= v <= values[name.removesuffix("_met") + "_cells"], name
    # the smoke run has 3 networks (2 to learn from, 1 held out) and 3 generator seeds
    assert values["gan_networks_train"] == 2 and values["gan_networks_held_out"] == 1
    assert values["gan_seeds"] == 3
    assert values["gan_n_val"] == 100 and values["best_criterion_conv_90"] in {
        "l1-min1", "tp-magnitude-min1", "tp-lamp-min1", "tp-fpgm-min1", "uniform-l1"}
    assert values["gan_verdict"].startswith("- ") and "**not checked**" not in values["gan_verdict"]


def test_summary_regathers_every_scrap(executed):
    nb = json.loads((executed / "99_summary.ipynb").read_text())
    mimes = {m for c in nb["cells"] for o in c.get("outputs", []) for m in o.get("data", {})}
    assert not any(m.startswith("application/scrapbook") for m in mimes)  # myst-nb glue only, never scrapbook
    text = json.dumps(nb)
    for name in ("baseline_acc", "l1_retrained_acc_90", "random90_collapse_rate_min0"):
        assert name in text


def test_executed_copies_are_prepared_for_reading(executed):
    """Parameters shown once with the values the run used, every other code cell collapsed,
    no progress-bar widget (tqdm makes them under Jupyter) nor their state."""
    for path in sorted(executed.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        tags = [c["metadata"].get("tags", []) for c in code]
        assert not any("injected-parameters" in t for t in tags), path.name
        params = [c for c, t in zip(code, tags) if "parameters" in t]
        assert len(params) == 1, path.name
        source = "".join(params[0]["source"])
        assert re.search(r"^smoke = True +# tiny fast run for tests$", source, re.M) or \
            re.search(r"^smoke = True$", source, re.M), (path.name, source)
        assert "smoke = False" not in source, path.name
        assert all("hide-input" in t for t in tags if "parameters" not in t), path.name
        assert "widgets" not in nb["metadata"], path.name
        mimes = {m for c in code for o in c.get("outputs", []) for m in o.get("data", {})}
        assert book.WIDGET_VIEW not in mimes, path.name
        compile(source, "parameters", "exec")
    summary = "".join(next(c for c in json.loads((executed / "99_summary.ipynb").read_text())["cells"]
                           if "parameters" in c["metadata"].get("tags", []))["source"])
    assert f"executed_dir = {str(executed)!r}".replace("'", '"') in summary


def test_every_readme_number_names_a_scrap_of_the_build(executed, capsys):
    """The smoke build's values differ from the README's (a full build), but every wired number
    must resolve to a scrap; ``check-readme`` says the differences are expected and exits 0."""
    results = book.check_readme(REPO / "README.md", executed)
    assert len(results) >= 20
    unresolved = [r for r in results if r["build"].startswith(("no ", "cannot"))]
    assert not unresolved, unresolved
    assert book.was_smoke(executed)
    assert book.main(["check-readme", "--executed", str(executed), "--strict"]) == 0
    assert "this was a smoke build" in capsys.readouterr().out


def test_papermill_cli_runs_a_notebook_with_a_parameter(tmp_path, monkeypatch):
    """The command the README shows, with smoke on to keep it short."""
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "results"))
    out = tmp_path / "out.ipynb"
    cmd = [str(Path(sys.executable).parent / "papermill"), "notebooks/03_random.ipynb", str(out),
           "-p", "trials", "3", "-p", "smoke", "True", "--no-progress-bar"]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    assert scraps(tmp_path, "out")["random_trials"] == 3


def test_book_builds_with_warnings_as_errors(executed, tmp_path):
    root = tmp_path / "site"
    shutil.copytree(REPO / "book", root / "book",
                    ignore=shutil.ignore_patterns("executed", "replicates", "replicate1.ipynb"))
    shutil.copytree(executed, root / "book" / "executed")
    # the smoke chapter 6 stands in for replicate 1: its page shares the book with chapter 6 (labels!)
    (root / "book" / "replicates").mkdir()
    shutil.copy(executed / "06_gan.ipynb", root / "book" / "replicates" / "06_gan_seed1.ipynb")
    write_page(root / "book" / "replicates", root / "book" / "replicate1.ipynb")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, root / name)
    jb = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run([str(jb), "build", str(root), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    findings = (root / "_build/html/book/findings.html").read_text()
    assert "baseline_acc" not in findings and "accuracy of" in findings  # the glue was resolved
    assert (root / "_build/html/book/executed/05_layer_sparsity.html").exists()
    # verdicts are prose: present on the page, never inside inline code or a monospaced block
    def text_of(fragment: str) -> str:
        return html.unescape(re.sub(r"<[^>]+>", "", fragment))

    page = text_of(findings)
    monospaced = text_of(" ".join(re.findall(r"<(?:pre|code)[^>]*>(.*?)</(?:pre|code)>", findings, re.S)))
    for name in ("collapse_verdict", "gan_verdict"):
        text = scraps(executed, "05_layer_sparsity" if name == "collapse_verdict" else "06_gan")[name]
        start = re.sub(r"^[-*\s]+", "", text.splitlines()[0]).replace("**", "")[:40]
        assert start in page, (name, start)
        assert start not in monospaced, name
    # the custom style sheet is in, and the chapters load no widget JavaScript
    assert (root / "_build/html/_static/prunegan.css").exists() and "prunegan.css" in findings
    replicate = text_of((root / "_build/html/book/replicate1.html").read_text())
    assert "replicate 1" in replicate and "seed=1" in replicate and "has not been built" not in replicate
    chapter = (root / "_build/html/book/executed/06_gan.html").read_text()
    assert "widget-state" not in chapter and "embed-amd" not in chapter and "hide-input" in chapter
