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
smoke = False

# %%
import pandas as pd
from myst_nb import glue

from prunegan import book
from prunegan.chapters import summary

pd.set_option("display.max_rows", None)  # every scrap, not only the first and last five
scraps = summary.read_scraps(executed_dir or book.EXECUTED)
for name, value in scraps["value"].items():  # verdicts as Markdown prose, other text without quotes
    glue(name, summary.glue_value(name, value), display=False)
summary.scrap_table(scraps)
