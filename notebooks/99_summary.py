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
# by hand. The table lists every number, with the chapter it comes from.

# %% tags=["parameters"]
executed_dir = None     # folder of the executed chapters; None: this repository's book/executed/
replicates_dir = None   # folder of chapter 6's replicates (make replicate); None: book/replicates/
smoke = False

# %%
import pandas as pd
from IPython.display import display
from myst_nb import glue

from prunegan import book
from prunegan.chapters import answer, summary

pd.set_option("display.max_rows", None)  # every scrap, not only the first and last five
scraps = summary.read_scraps(executed_dir or book.EXECUTED)
for name, value in scraps["value"].items():  # verdicts as Markdown prose, other text without quotes
    glue(name, summary.glue_value(name, value), display=False)
summary.scrap_table(scraps)

# %% [markdown]
# ## The answer, and the targets in each replicate
#
# Written from chapter 6's scraps (replicate 0: `make book`; replicate 1, when it was run: `make replicate`,
# in `book/replicates/`); the findings page shows both.

# %%
replicates = {"replicate 0": summary.scraps_by_notebook(executed_dir or book.EXECUTED).get("06_gan", {})}
replicates.update({f"replicate {name.rsplit('seed', 1)[1]}": values for name, values in
                   sorted(summary.scraps_by_notebook(replicates_dir or book.REPLICATES).items())
                   if name.startswith("06_gan_seed")})
if replicates["replicate 0"]:
    glue("gan_answer", summary.MarkdownText(answer.answer(replicates["replicate 0"])), display=False)
    glue("gan_verdict_table", answer.verdict_table(replicates), display=False)
    glue("gan_agreement", summary.MarkdownText(answer.agreement(replicates)), display=False)
    display(answer.verdict_table(replicates))

