"""prunegan.book without running a kernel: executed copies prepared for reading (parameters shown
once, inputs collapsed, widgets dropped), verdicts glued as Markdown prose, scrap values formatted,
and the README's wired numbers checked against executed notebooks."""
from __future__ import annotations

import re
from pathlib import Path

import IPython
import nbformat
import pytest
from IPython.display import Pretty
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from prunegan import book
from prunegan.chapters import summary

REPO = Path(__file__).resolve().parents[1]

PARAMETERS = '''model = "lenet5"        # prunegan.models.names()
epochs = 10             # baseline training epochs
sparsities = [0.5,
              0.9]      # a value on two lines
smoke = False           # tiny fast run for tests'''


def executed_like(*, injected: str | None = '# Parameters\nsmoke = True\nepochs = 1\n', widgets: bool = True):
    """A notebook as papermill leaves it: parameters cell, injected cell, outputs (one a widget)."""
    cells = [new_markdown_cell("# Title"), new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})]
    if injected is not None:
        cells.append(new_code_cell(injected, metadata={"tags": ["injected-parameters"]}))
    bar = new_output("display_data", data={book.WIDGET_VIEW: {"model_id": "abc", "version_major": 2},
                                          "text/plain": "  0%|          | 0/3 [00:00<?, ?it/s]"})
    table = new_output("execute_result", data={"text/plain": "a table"}, execution_count=3)
    cells += [new_code_cell("df = run()\ndf", outputs=[bar, table] if widgets else [table]),
              new_code_cell("secret()", metadata={"tags": ["remove-cell"]}),
              new_markdown_cell("Prose.")]
    nb = new_notebook(cells=cells)
    if widgets:
        nb.metadata["widgets"] = {book.WIDGET_STATE: {"state": {}}}
    return nb


# ---------------------------------------------------------------------------------- parameters
def test_merge_parameters_shows_the_injected_values_once_and_keeps_the_comments():
    nb = book.merge_parameters(executed_like())
    assert not any("injected-parameters" in book.tags(c) for c in nb.cells)
    params = [c for c in nb.cells if "parameters" in book.tags(c)]
    assert len(params) == 1
    lines = params[0].source.splitlines()
    assert [line.split("#")[0].rstrip() for line in lines] == [
        'model = "lenet5"', "epochs = 1", "sparsities = [0.5,", "              0.9]", "smoke = True"]
    # every comment kept, in the column where it was
    assert [(line.index("#"), line[line.index("#"):]) for line in lines if "#" in line] == [
        (line.index("#"), line[line.index("#"):]) for line in PARAMETERS.splitlines() if "#" in line]


def test_merge_parameters_replaces_multiline_values_and_appends_unknown_names():
    injected = '# Parameters\nsparsities = [0.8]\nexecuted_dir = "/x/y"\n'
    nb = book.merge_parameters(executed_like(injected=injected))
    source = next(c for c in nb.cells if "parameters" in book.tags(c)).source
    assert "sparsities = [0.8]  # a value on two lines" in source.splitlines()
    assert "0.5" not in source
    assert source.splitlines()[-1] == 'executed_dir = "/x/y"  # injected by papermill'
    compile(source, "parameters", "exec")  # still valid Python


def test_merge_parameters_leaves_a_notebook_without_injected_cell_alone():
    nb = executed_like(injected=None)
    before = nbformat.writes(nb)
    assert nbformat.writes(book.merge_parameters(nb)) == before


# --------------------------------------------------------------------------- inputs and widgets
def test_hide_inputs_collapses_every_code_cell_but_the_parameters():
    nb = book.prepare_for_book(executed_like())
    code = {c.source.split("\n")[0]: book.tags(c) for c in nb.cells if c.cell_type == "code"}
    assert code == {'model = "lenet5"        # prunegan.models.names()': ["parameters"],
                    "df = run()": ["hide-input"], "secret()": ["remove-cell"]}
    assert all("tags" not in c.metadata for c in nb.cells if c.cell_type == "markdown")
    # idempotent: preparing twice adds nothing
    assert nbformat.writes(book.prepare_for_book(nb)) == nbformat.writes(nb)


def test_strip_widgets_drops_progress_bars_and_their_state_but_keeps_other_outputs():
    nb = book.strip_widgets(executed_like())
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert [o["data"]["text/plain"] for o in outputs] == ["a table"]
    assert "widgets" not in nb.metadata
    assert book.WIDGET_VIEW not in nbformat.writes(nb)


# ------------------------------------------------------------------------------------ verdicts
@pytest.mark.parametrize("text, html_has, html_lacks", [
    ("**Yes**: every stuck run had a collapsed layer.", ["<p><strong>Yes</strong>: every"], ["<ul>", "**"]),
    ("- GAN masks collapsed: 25.0% (**not met**).\n- At 90%: GAN 0.226.",
     ["<ul>", "<li>GAN masks collapsed: 25.0% (<strong>not met</strong>).</li>",
      "<li>At 90%: GAN 0.226.</li>"],
     ["<p>- ", "**"]),
    ("At 80%: GAN 0.704.\n  GAN better than random: no.", ["At 80%: GAN 0.704.<br />"],
     ["<ul>", "<pre>", "<code>"]),
    ("| target | replicate 0 |\n|:--|:--|\n| beats random | 4/4 met |",
     ['<table class="table">', ">target</th>", ">4/4 met</td>"], ["| target", "|:--"]),
])
def test_verdicts_render_as_markdown_prose(text, html_has, html_lacks):
    value = summary.glue_value("gan_verdict", text)
    bundle, _ = IPython.core.formatters.format_display_data(value)
    assert set(bundle) == {"text/plain", "text/markdown", "text/html"}
    assert bundle["text/markdown"] == text and bundle["text/plain"] == text  # no object repr, no quotes
    for part in html_has:
        assert part in bundle["text/html"]
    for part in html_lacks:
        assert part not in bundle["text/html"]


def test_glue_value_keeps_other_scraps_as_they_were():
    assert isinstance(summary.glue_value("model_name", "lenet5-caffe"), Pretty)
    assert summary.glue_value("baseline_acc", 0.957) == 0.957
    assert summary.glue_value("trials_retrained_mean_no_collapse", None) is None


@pytest.mark.parametrize("value, shown", [
    (0.95733, "0.957"), (0.1, "0.100"), (-0.0321, "-0.032"), (1.0, "1"), (0.0, "0.000"), (61706, "61,706"),
    (4000.0, "4,000"), (416.12345, "416.1"), (True, "True"), (None, "—"), (float("nan"), "—"),
    ("- first line\n- second **line**", "first line · second line"), ("plain", "plain"),
    ("**Yes**: " + "word " * 20, "Yes: word word word word …"),
])
def test_format_value(value, shown):
    assert summary.format_value(value) == shown


def test_scrap_table_lists_every_scrap_with_its_chapter():
    import pandas as pd

    names = pd.Index(["baseline_acc", "n_channels", "gan_verdict"], name="name")
    scraps = pd.DataFrame({"value": pd.Series([0.9573, 22, "- a\n- b"], index=names, dtype=object),
                           "notebook": pd.Series(["01_baseline", "01_baseline", "06_gan"], index=names)})
    table = summary.scrap_table(scraps)
    assert list(table.columns) == ["value", "chapter"]
    assert table.to_dict("index") == {"baseline_acc": {"chapter": "01_baseline", "value": "0.957"},
                                      "n_channels": {"chapter": "01_baseline", "value": "22"},
                                      "gan_verdict": {"chapter": "06_gan", "value": "a · b"}}



def test_scrap_details_lists_every_scrap_under_its_chapter_without_a_table():
    import pandas as pd

    names = pd.Index(["baseline_acc", "n_channels", "gan_verdict"], name="name")
    verdict = "- a <b> & " + "word " * 20 + "\n- b"
    scraps = pd.DataFrame({"value": pd.Series([0.9573, 22, verdict], index=names, dtype=object),
                           "notebook": pd.Series(["01_baseline", "01_baseline", "06_gan"], index=names)})
    html = summary.scrap_details(scraps)
    assert "<table" not in html  # a definition list wraps where a one-line table cell would not
    assert html.count("<details>") == 2
    assert "<strong>01_baseline</strong>: 2 values" in html and "<strong>06_gan</strong>: 1 value<" in html
    assert "<dt><code>baseline_acc</code></dt><dd>0.957</dd>" in html
    assert html.index("n_channels") < html.index("06_gan")  # each scrap under its own chapter
    assert "a &lt;b&gt; &amp; word" in html and "<b>" not in html  # values are escaped
    assert "word " * 20 + "· b" in html  # a verdict is not cut at the 28 characters of a table cell
    assert "…" in summary.scrap_details(scraps, max_text=20)

# ------------------------------------------------------------------------------- README numbers
def write_executed(folder: Path, stem: str, scraps: dict, *, smoke: bool = False) -> None:
    """An executed notebook holding ``scraps`` in scrapbook's output format."""
    outputs = [new_output("display_data",
                          data={"application/scrapbook.scrap.json+json":
                                {"name": k, "data": v, "encoder": "json", "version": 1}},
                          metadata={"scrapbook": {"name": k, "data": True, "display": False}})
               for k, v in scraps.items()]
    nb = new_notebook(cells=[new_code_cell("sb.glue(...)", outputs=outputs)])
    nb.metadata["papermill"] = {"parameters": {"smoke": smoke}}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{stem}.ipynb")


README_TABLE = (  # one table row a line, as in README.md
    "# results\n"
    "| what | value |\n"
    "|---|---|\n"
    "| baseline (10 <!-- scrap 01_baseline epochs d --> epochs) "
    "| {acc} <!-- scrap 01_baseline baseline_acc .3f --> (original: 0.989) |\n"
    "| collapsed at 90 % | 65 % <!-- scrap 04_trials rate .0% --> "
    "(13 <!-- scrap 04_trials rate*n .0f --> of 20 <!-- scrap 04_trials n d -->) |\n"
    "| GAN | 0.226 (95 % CI −0.12 <!-- scrap 06_gan lo .2f -->–0.58 <!-- scrap 06_gan hi .2f -->), "
    "images 4,000 <!-- scrap 01_baseline n_train , --> |\n"
)


@pytest.fixture
def executed(tmp_path) -> Path:
    folder = tmp_path / "executed"
    write_executed(folder, "01_baseline", {"baseline_acc": 0.95733, "epochs": 10, "n_train": 4000})
    write_executed(folder, "04_trials", {"rate": 0.65, "n": 20})
    write_executed(folder, "06_gan", {"lo": -0.1234, "hi": 0.5791})
    return folder


def test_readme_quotes_reads_each_wired_number():
    quotes = book.readme_quotes(README_TABLE.format(acc="0.957"))
    assert [(q["readme"], q["notebook"], q["expr"], q["fmt"]) for q in quotes] == [
        ("10", "01_baseline", "epochs", "d"), ("0.957", "01_baseline", "baseline_acc", ".3f"),
        ("65 %", "04_trials", "rate", ".0%"), ("13", "04_trials", "rate*n", ".0f"),
        ("20", "04_trials", "n", "d"),
        ("−0.12", "06_gan", "lo", ".2f"), ("0.58", "06_gan", "hi", ".2f"),
        ("4,000", "01_baseline", "n_train", ","),
    ]


def test_a_readme_that_matches_the_build_passes(executed, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README_TABLE.format(acc="0.957"))
    results = book.check_readme(readme, executed)
    assert len(results) == 8 and all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    assert "all 8 checked numbers match" in book.report_readme(results, smoke=False)
    assert book.main(["check-readme", "--readme", str(readme), "--executed", str(executed), "--strict"]) == 0


def test_a_wrong_readme_number_is_reported_with_both_values(executed, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README_TABLE.format(acc="0.958"))
    bad = [r for r in book.check_readme(readme, executed) if not r["ok"]]
    assert [(r["expr"], r["readme"], r["build"]) for r in bad] == [("baseline_acc", "0.958", "0.957")]
    # prints only
    assert book.main(["check-readme", "--readme", str(readme), "--executed", str(executed)]) == 0
    out = capsys.readouterr().out
    assert "README.md:4: 01_baseline baseline_acc: README 0.958, build 0.957" in out
    assert "1 of 8 numbers in README.md differ from this build" in out.splitlines()[0]
    assert book.main(["check-readme", "--readme", str(readme), "--executed", str(executed), "--strict"]) == 1


def test_a_smoke_build_says_its_differences_are_expected_and_never_fails(executed, tmp_path, capsys):
    write_executed(executed, "01_baseline", {"baseline_acc": 0.185, "epochs": 1, "n_train": 400}, smoke=True)
    readme = tmp_path / "README.md"
    readme.write_text(README_TABLE.format(acc="0.957"))
    assert book.was_smoke(executed)
    assert book.main(["check-readme", "--readme", str(readme), "--executed", str(executed), "--strict"]) == 0
    out = capsys.readouterr().out
    assert "README 0.957, build 0.185" in out and "this was a smoke build" in out.splitlines()[0]


def test_missing_scraps_and_notebooks_are_reported(executed, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("a 0.5 <!-- scrap 01_baseline nope .1f --> b 0.5 <!-- scrap 07_new x .1f --> "
                      "c <!-- scrap 01_baseline baseline_acc .3f -->")
    results = book.check_readme(readme, executed)
    assert [r["build"] for r in results] == ["no scrap nope in 01_baseline",
                                             "no executed notebook 07_new", "0.957"]
    assert not any(r["ok"] for r in results)  # the last has no number before its comment


def test_replicate_numbers_are_checked_when_the_replicate_ran_and_skipped_otherwise(executed,
                                                                                    tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("base 0.957 <!-- scrap 01_baseline baseline_acc .3f --> "
                      "rep 0.5 <!-- scrap 06_gan_seed1 x .1f -->")
    replicates = tmp_path / "replicates"
    results = book.check_readme(readme, executed, replicates)  # not run: skipped, not a difference
    assert [r["skipped"] for r in results] == [False, True] and all(r["ok"] for r in results)
    write_executed(replicates, "06_gan_seed1", {"x": 0.7})  # run, and different: a difference
    results = book.check_readme(readme, executed, replicates)
    assert results[1]["build"] == "0.7" and not results[1]["ok"] and not results[1]["skipped"]
    write_executed(replicates, "06_gan_seed1", {"x": 0.5})
    assert all(r["ok"] for r in book.check_readme(readme, executed, replicates))
    # a name that is not a replicate's is never skipped
    readme.write_text("b 0.5 <!-- scrap 07_new x .1f -->")
    assert not book.check_readme(readme, executed, replicates)[0]["ok"]


def test_a_name_in_backticks_is_checked_against_a_text_scrap(executed, tmp_path):
    write_executed(executed, "06_gan", {"best": "tp-lamp-min1"})
    readme = tmp_path / "README.md"
    readme.write_text("best `tp-lamp-min1` <!-- scrap 06_gan best s --> "
                      "and `l1-min1` <!-- scrap 06_gan best s -->")
    quotes = book.readme_quotes(readme.read_text())
    assert [q["readme"] for q in quotes] == ["tp-lamp-min1", "l1-min1"]
    assert [r["ok"] for r in book.check_readme(readme, executed, None)] == [True, False]


def test_check_readme_without_a_build_says_so(tmp_path, capsys):
    assert book.main(["check-readme", "--executed", str(tmp_path / "nothing")]) == 1
    assert "no executed notebook" in capsys.readouterr().out


def test_calculate_is_a_calculator_not_eval():
    scraps = {"a": 0.65, "n": 20}
    assert book.calculate("a*n", scraps) == pytest.approx(13)
    assert book.calculate("-(a - 1) / 2", scraps) == pytest.approx(0.175)
    for bad in ("__import__('os')", "a.real", "n ** 2", "[a]"):
        with pytest.raises(ValueError):
            book.calculate(bad, scraps)
    with pytest.raises(KeyError):
        book.calculate("b", scraps)


def test_the_readme_findings_are_wired_to_scraps():
    """Every wired number of the real README names a numbered notebook and a usable format; the
    numbers themselves are checked against a build by ``make book`` (and their names by the
    notebook tests)."""
    text = (REPO / "README.md").read_text()
    table = text[text.index("## What it finds"):]
    table = table[:table.index("\n## ", 1)]
    quotes = book.readme_quotes(table)
    assert len(quotes) >= 20
    stems = {p.stem for p in book.notebooks()}
    for q in quotes:
        assert q["readme"] is not None, q
        assert q["notebook"] in stems or (book.REPLICATE_NAME.fullmatch(q["notebook"])
                                          and q["notebook"].rsplit("_seed", 1)[0] in stems), q
        format("a" if q["fmt"] == "s" else 1 if q["fmt"].endswith("d") else 0.5, q["fmt"])  # a valid format
        names = set(re.findall(r"[A-Za-z_]\w*", q["expr"]))
        assert names and book.calculate(q["expr"], dict.fromkeys(names, 1.0)) is not None


# ------------------------------------------------------------------------------- make book on CI
@pytest.mark.parametrize("switch, strict", [(None, False), ("CHECK_README=strict", True)])
def test_make_book_checks_the_readme_strictly_only_when_asked(switch, strict):
    """``make book`` prints the README's differences; ``make book CHECK_README=strict`` (CI) makes
    ``check-readme`` exit non-zero on one (``make -n``: the commands, none run)."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    args = ["make", "-n", "-C", str(REPO), "book"] + ([switch] if switch else [])
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    check = [line for line in out.splitlines() if "prunegan.book check-readme" in line]
    assert len(check) == 1 and check[0].split()[-1] == ("--strict" if strict else "check-readme")


def test_make_refuses_an_unknown_check_readme_value():
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(["make", "-n", "-C", str(REPO), "book", "CHECK_README=strcit"], capture_output=True,
                          text=True)
    assert done.returncode != 0 and "CHECK_README is empty or strict" in done.stderr


# ------------------------------------------------------------------------------------ execution
def test_execute_writes_the_prepared_notebook_atomically_and_nothing_when_it_fails(tmp_path):
    """One kernel run each (a few seconds): the executed copy is prepared for the book (parameters
    merged, inputs hidden) and a failing notebook leaves no file, partial or temporary, behind."""
    source = tmp_path / "src"
    source.mkdir()
    ok = new_notebook(cells=[new_code_cell("smoke = False", metadata={"tags": ["parameters"]}),
                             new_code_cell("print('smoke' if smoke else 'full')")])
    ok.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(ok, source / "01_ok.ipynb")
    out = tmp_path / "executed"
    written = book.execute(source / "01_ok.ipynb", out / "01_ok.ipynb", {"smoke": True})
    assert written == out / "01_ok.ipynb" and sorted(p.name for p in out.iterdir()) == ["01_ok.ipynb"]
    nb = nbformat.read(written, as_version=4)
    assert [book.tags(c) for c in nb.cells] == [["parameters"], ["hide-input"]]
    assert nb.cells[0].source == "smoke = True"
    assert nb.cells[1].outputs[0]["text"] == "smoke\n"

    bad = new_notebook(cells=[new_code_cell("raise RuntimeError('boom')")], metadata=ok.metadata)
    nbformat.write(bad, source / "02_bad.ipynb")
    with pytest.raises(Exception, match="boom"):
        book.execute(source / "02_bad.ipynb", out / "02_bad.ipynb", {})
    assert sorted(p.name for p in out.iterdir()) == ["01_ok.ipynb"]


def test_execute_all_and_replicate_run_the_chosen_notebooks_framed_by_timing_lines(tmp_path, monkeypatch,
                                                                                    capsys):
    """Both go through one timed runner (no kernel: ``execute`` is replaced): ``--only`` prefixes pick
    the notebooks in order, the parameters are smoke or seed, and each run prints a start line and a
    ``done in N s`` line; a replicate of an unknown notebook names the valid ones."""
    from prunegan.book import execution

    source = tmp_path / "notebooks"
    source.mkdir()
    for name in ("01_base", "02_sweep", "03_random", "99_summary"):
        (source / f"{name}.ipynb").write_text("{}")
    calls = []
    monkeypatch.setattr(execution, "execute", lambda path, output, params: calls.append(
        (path.name, output, params)) or output)
    out = tmp_path / "executed"
    done = book.execute_all(smoke=True, only=["01", "03_r"], source=source, target=out)
    assert done == [out / "01_base.ipynb", out / "03_random.ipynb"]
    assert calls == [("01_base.ipynb", out / "01_base.ipynb", {"smoke": True}),
                     ("03_random.ipynb", out / "03_random.ipynb", {"smoke": True})]
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "[book] executing 01_base.ipynb (smoke=True) ..."
    assert re.fullmatch(r"\[book\] 01_base\.ipynb done in \d+ s", printed[1])
    assert printed[2] == "[book] executing 03_random.ipynb (smoke=True) ..." and len(printed) == 4
    assert len(book.execute_all(source=source, target=out)) == 4  # no prefix: every notebook
    capsys.readouterr()

    calls.clear()
    reps = tmp_path / "replicates"
    assert book.execute_replicate("02_sweep", 3, source=source, target=reps) == reps / "02_sweep_seed3.ipynb"
    assert calls == [("02_sweep.ipynb", reps / "02_sweep_seed3.ipynb", {"seed": 3})]
    first, second = capsys.readouterr().out.splitlines()
    assert first == "[book] executing 02_sweep.ipynb with seed=3 (replicate) ..."
    assert re.fullmatch(r"\[book\] replicate 02_sweep seed 3 done in \d+ s", second)
    with pytest.raises(FileNotFoundError, match="valid: 01_base, 02_sweep, 03_random, 99_summary"):
        book.execute_replicate("04_none", 1, source=source, target=reps)


def test_the_package_runs_as_a_command(tmp_path):
    """``python -m prunegan.book`` (the package's ``__main__``) answers like :func:`prunegan.book.main`:
    exit 0 on pairs in step, 1 on a text file without its notebook."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "prunegan.book", "check-pairs", "--source", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip() == "notebook pairs: all in step", done
    (tmp_path / "01_lonely.py").write_text("# %%\nx = 1\n")
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 1 and done.stdout.startswith("01_lonely: missing "), done


# ------------------------------------------------------------------ numbers wired to benchmark files
def test_bench_numbers_are_checked_against_their_file(tmp_path):
    from prunegan.book import readme

    (tmp_path / "speed.json").write_text('{"mix": {"ratio": 2.934, "n": 12}}')
    text = ("fused is 2.9× <!-- bench speed mix.ratio .1f --> faster over 12 <!-- bench speed mix.n d --> "
            "groups; wrong: 3.1× <!-- bench speed mix.ratio .1f -->; 7 <!-- bench speed mix.gone d -->; "
            "0.5 <!-- bench absent x .1f -->")
    rows = readme.check_bench(text, tmp_path)
    assert [(r["readme"], r["build"], r["ok"]) for r in rows] == [
        ("2.9", "2.9", True), ("12", "12", True), ("3.1", "2.9", False),
        ("7", "no mix.gone in speed.json", False), ("0.5", "no benchmark file absent.json", False)]


def test_unwired_numbers_finds_measurements_but_not_settings_code_or_versions():
    from prunegan.book import readme

    text = "\n".join([
        "# Results 2026",
        "accuracy 0.958 <!-- scrap 01_baseline baseline_acc .3f --> in 10 epochs on 2 cores",  # wired
        "a ratio of 2.9× <!-- bench speed mix.ratio .1f --> and 65 % <!-- scrap 04 rate .0% -->",  # wired
        "it took 57 min and 3.2 points, 67 % of runs, 2.8× faster, 8 s",  # five unwired
        "at 90 % sparsity, a 95 % CI, a threshold of 0.02 <!-- setting -->",  # settings
        "Python 3.11, torch 2.14.1, Jupyter Book 1.x, `0.25`, [v](https://x.org/a/1.5)",  # not measurements
        "```", "took 99.9 s in code", "```",
    ])
    assert readme.unwired_numbers(text) == [(4, "57 min"), (4, "3.2"), (4, "67 %"), (4, "2.8×"), (4, "8 s")]


def test_the_replicate_page_is_a_retitled_copy_or_says_it_was_not_built(tmp_path):
    import nbformat

    from prunegan.book.replicate_page import PREFIX, write_page

    page = write_page(tmp_path / "none", tmp_path / "replicate1.ipynb")  # no replicate run
    text = nbformat.read(page, as_version=4).cells[0].source
    assert text.startswith("# 6 (replicate 1).") and "has not been built" in text and "make replicate" in text
    reps = tmp_path / "replicates"
    reps.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 6. A GAN that proposes pruning masks\n\nIntro."),
                nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_markdown_cell(":::{glue:figure} fig_x\n:name: fig-forest\nSee "
                                              "{numref}`fig-forest`.\n:::")]
    nbformat.write(nb, reps / "06_gan_seed1.ipynb")
    cells = nbformat.read(write_page(reps, tmp_path / "replicate1.ipynb"), as_version=4).cells
    assert cells[0].source.splitlines()[0] == ("# 6 (replicate 1). Chapter 6 with seed 1: other networks, "
                                               "data split and seeds")
    assert "A GAN that proposes" not in cells[0].source and "Intro." in cells[0].source
    assert cells[1].source == "x = 1"  # code untouched
    assert f":name: {PREFIX}fig-forest" in cells[2].source
    assert f"{{numref}}`{PREFIX}fig-forest`" in cells[2].source
