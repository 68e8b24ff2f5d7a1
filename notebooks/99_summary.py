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
executed_dir = "../book/executed"   # where papermill wrote the executed chapters
smoke = False

# %%
from IPython.display import Pretty
from myst_nb import glue

from prunegan import study

scraps = study.read_scraps(executed_dir)
for name, value in scraps["value"].items():  # sentences are glued as plain text (no quotes)
    glue(name, Pretty(value) if isinstance(value, str) else value, display=False)
scraps
