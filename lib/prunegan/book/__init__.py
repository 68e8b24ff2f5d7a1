"""The book's machinery (``make book``), one module per concern: :mod:`.execution` runs the numbered
notebooks headlessly with papermill, :mod:`.prepare` makes the executed copies read as a report,
:mod:`.pairs` checks the notebook pairs, :mod:`.readme` checks the README's numbers; :mod:`.layout`
says where the files live and :mod:`.cli` is the command line.

``python -m prunegan.book execute [--smoke True] [--only 03_random]`` runs ``notebooks/NN_*.ipynb``
in order into ``book/executed/`` (the summary notebook, ``99_*``, last since it reads the others'
scraps). A notebook that fails stops the build with its name; its partial output is not kept. Each
executed copy is prepared for the book (:func:`prepare_for_book`): code cells collapsed, the
parameters shown once with the values the run used, progress-bar widgets dropped.
``python -m prunegan.book replicate [--name 06_gan] [--seed 1]`` runs one chapter with another seed
into ``book/replicates/``.

``python -m prunegan.book check-pairs`` reports every notebook whose two files differ: each
``notebooks/NN_name.py`` (jupytext py:percent text, the source to edit) and ``NN_name.ipynb``
(what papermill runs, committed without outputs) must hold the same cells.

``python -m prunegan.book check-readme`` compares every number of README.md that is wired to a scrap
(``0.957 <!-- scrap 01_baseline baseline_acc .3f -->``) with the executed notebooks and prints each
that differs (:func:`check_readme`).

:mod:`.html_checks` reads the built HTML (``_build/html``) as a reader sees it (:func:`check_site`):
template residue in the prose, tables wider than the text column, figures without caption or alt text.
"""
from .cli import main
from .execution import execute, execute_all, execute_replicate
from .html_checks import check_html, check_site
from .layout import EXECUTED, README, REPLICATES, SOURCE, notebooks, tags
from .pairs import cells, check_pairs, pair_differences
from .prepare import (VISIBILITY_TAGS, WIDGET_STATE, WIDGET_VIEW, hide_inputs, merge_parameters,
                      prepare_for_book, strip_widgets)
from .readme import (NUMBER_BEFORE, REPLICATE_NAME, SCRAP_COMMENT, calculate, check_readme, normalise,
                     readme_quotes, report_readme, was_smoke)

__all__ = ["EXECUTED", "NUMBER_BEFORE", "README", "REPLICATES", "REPLICATE_NAME", "SCRAP_COMMENT", "SOURCE",
           "VISIBILITY_TAGS", "WIDGET_STATE", "WIDGET_VIEW", "calculate", "cells", "check_html",
           "check_pairs", "check_readme", "check_site", "execute", "execute_all", "execute_replicate",
           "hide_inputs", "main", "merge_parameters", "normalise", "notebooks", "pair_differences",
           "prepare_for_book", "readme_quotes", "report_readme", "strip_widgets", "tags", "was_smoke"]
