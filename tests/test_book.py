"""prunegan.book without running a kernel: executed copies prepared for reading (parameters shown
once, inputs collapsed, widgets dropped), verdicts glued as Markdown prose, scrap values formatted."""
from __future__ import annotations

import IPython
import nbformat
import pytest
from IPython.display import Pretty
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from prunegan import book

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
    nb = book.merge_parameters(executed_like(injected='# Parameters\nsparsities = [0.8]\nexecuted_dir = "/x/y"\n'))
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
     ["<ul>", "<li>GAN masks collapsed: 25.0% (<strong>not met</strong>).</li>", "<li>At 90%: GAN 0.226.</li>"],
     ["<p>- ", "**"]),
    ("At 80%: GAN 0.704.\n  GAN better than random: no.", ["At 80%: GAN 0.704.<br />"], ["<ul>", "<pre>", "<code>"]),
])
def test_verdicts_render_as_markdown_prose(text, html_has, html_lacks):
    value = book.glue_value("gan_verdict", text)
    bundle, _ = IPython.core.formatters.format_display_data(value)
    assert set(bundle) == {"text/plain", "text/markdown", "text/html"}
    assert bundle["text/markdown"] == text and bundle["text/plain"] == text  # no object repr, no quotes
    for part in html_has:
        assert part in bundle["text/html"]
    for part in html_lacks:
        assert part not in bundle["text/html"]


def test_glue_value_keeps_other_scraps_as_they_were():
    assert isinstance(book.glue_value("model_name", "lenet5-caffe"), Pretty)
    assert book.glue_value("baseline_acc", 0.957) == 0.957
    assert book.glue_value("trials_retrained_mean_no_collapse", None) is None


@pytest.mark.parametrize("value, shown", [
    (0.95733, "0.957"), (0.1, "0.100"), (-0.0321, "-0.032"), (1.0, "1"), (0.0, "0.000"), (61706, "61,706"),
    (4000.0, "4,000"), (416.12345, "416.1"), (True, "True"), (None, "—"), (float("nan"), "—"),
    ("- first line\n- second **line**", "first line · second line"), ("plain", "plain"),
    ("**Yes**: " + "word " * 20, "Yes: word word word word …"),
])
def test_format_value(value, shown):
    assert book.format_value(value) == shown


def test_scrap_table_lists_every_scrap_with_its_chapter():
    import pandas as pd

    names = pd.Index(["baseline_acc", "n_channels", "gan_verdict"], name="name")
    scraps = pd.DataFrame({"value": pd.Series([0.9573, 22, "- a\n- b"], index=names, dtype=object),
                           "notebook": pd.Series(["01_baseline", "01_baseline", "06_gan"], index=names)})
    table = book.scrap_table(scraps)
    assert list(table.columns) == ["value", "chapter"]
    assert table.to_dict("index") == {"baseline_acc": {"chapter": "01_baseline", "value": "0.957"},
                                      "n_channels": {"chapter": "01_baseline", "value": "22"},
                                      "gan_verdict": {"chapter": "06_gan", "value": "a · b"}}
