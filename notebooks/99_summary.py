# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Summary of measured numbers
#
# This page reads the headline numbers that the executed chapters stored (with scrapbook) and makes
# them available to the findings page (with myst-nb's `glue`), so that no number in the prose is typed
# by hand. Below, every number, under the chapter it comes from (click a chapter to open its list).

# %% tags=["parameters"]
executed_dir = None     # folder of the executed chapters; None: this repository's book/executed/
replicates_dir = None   # folder of chapter 6's replicates (make replicate); None: book/replicates/
smoke = False

# %%
from IPython.display import HTML, display
from myst_nb import glue

from prunegan import book
from prunegan.plots import save_figure
from prunegan.plots import part2 as plots
from prunegan.chapters import answer, summary
from prunegan.chapters.format import markdown_table
from prunegan.chapters.part2 import limits

scraps = summary.read_scraps(executed_dir or book.EXECUTED)
for name, value in scraps["value"].items():  # verdicts as Markdown prose, other text without quotes
    glue(name, summary.glue_value(name, value), display=False)
display(HTML(summary.scrap_details(scraps)))

# %% [markdown]
# ## The answer, and the targets in each replicate
#
# Written from chapter 6's scraps (replicate 0: `make book`; replicate 1, when it was run: `make replicate`,
# in `book/replicates/`); the findings page shows both.

# %%
replicates = answer.gather(executed_dir or book.EXECUTED, replicates_dir or book.REPLICATES)
first = replicates["replicate 0"]
if first:
    glue("gan_answer", summary.MarkdownText(answer.answer(first)), display=False)
    epochs = answer.count(first.retrain_epochs, "epoch")
    glue("gan_retrain_epochs_text", summary.glue_value("gan_retrain_epochs_text", epochs), display=False)
    verdicts = summary.MarkdownText(answer.verdict_markdown(replicates))
    glue("gan_verdict_table", verdicts, display=False)
    glue("gan_agreement", summary.MarkdownText(answer.agreement(replicates)), display=False)
    glue("gan_gap_table", summary.MarkdownText(answer.gap_markdown(first)), display=False)
    limits_table = summary.MarkdownText(markdown_table(limits.limits_table(first.limits)))
    glue("gan_limits_table", limits_table, display=False)
    size_table = summary.MarkdownText(markdown_table(limits.size_table(first.sizes)))
    glue("gan_size_table", size_table, display=False)
    forest = plots.forest(summary.forest_frame(first.forest), "gan", "best-criterion", threshold=-1.0)
    print("forest plot:", save_figure(forest, summary.findings_forest(executed_dir or book.EXECUTED)))
    display(verdicts)
