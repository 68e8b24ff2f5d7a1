"""Executed copies prepared for the book: the parameters shown once with the values the run used,
progress-bar widgets dropped, every other code cell's input collapsed."""
from __future__ import annotations

import ast
import re

from .layout import tags

#: Tags that already decide how a code cell shows; :func:`hide_inputs` leaves such cells alone.
VISIBILITY_TAGS = {"hide-input", "hide-output", "hide-cell", "remove-input", "remove-output", "remove-cell"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def prepare_for_book(nb):
    """Make an executed notebook read as a report (in place; returns ``nb``): the parameters shown
    once (:func:`merge_parameters`), progress-bar widgets dropped (:func:`strip_widgets`), and
    every other code cell's input collapsed behind a click (:func:`hide_inputs`)."""
    merge_parameters(nb)
    strip_widgets(nb)
    hide_inputs(nb)
    return nb


def hide_inputs(nb, *, keep_visible: tuple[str, ...] = ("parameters",)):
    """Tag every code cell ``hide-input`` (Jupyter Book shows its output and folds its code behind a
    "Show code cell source" toggle), except cells tagged with one of ``keep_visible`` (the
    parameters, so a reader sees at once what the chapter ran with) and cells whose tags already
    decide (``remove-cell``, ``hide-output``, ...)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        current = tags(cell)
        if VISIBILITY_TAGS & set(current) or set(keep_visible) & set(current):
            continue
        cell.metadata["tags"] = current + ["hide-input"]
    return nb


def strip_widgets(nb):
    """Drop widget outputs (tqdm's progress bars become ipywidgets under Jupyter) and the saved
    widget state: a static page cannot run them, and Jupyter Book would load their JavaScript from
    a CDN for nothing. Other outputs of the same cells are kept."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if WIDGET_VIEW not in o.get("data", {})]
    nb.metadata.pop("widgets", None)
    return nb


def _assignments(source: str) -> dict[str, ast.Assign]:
    """Top-level ``name = value`` statements of ``source``, by name (the last one wins)."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node
    return found


def merge_parameters(nb):
    """Show the parameters once: papermill puts an ``injected-parameters`` cell after the
    ``parameters`` cell; rewrite the parameters cell's assignments with the injected values (each
    line keeps its comment, aligned where it was), append injected names the cell lacks, and drop
    the injected cell. A notebook without both cells is left as it is."""
    params = next((c for c in nb.cells if c.cell_type == "code" and "parameters" in tags(c)), None)
    injected = [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" in tags(c)]
    if params is None or not injected:
        return nb
    values = {}
    for cell in injected:
        for name, node in _assignments(cell.source).items():
            values[name] = ast.get_source_segment(cell.source, node.value)
    lines = params.source.split("\n")
    found = _assignments(params.source)
    # replace from the bottom up so that earlier positions stay valid
    for name, node in sorted(found.items(), key=lambda kv: -kv[1].lineno):
        if name not in values:
            continue
        first, last = node.value.lineno - 1, node.value.end_lineno - 1
        head, tail = lines[first][:node.value.col_offset], lines[last][node.value.end_col_offset:]
        comment = re.fullmatch(r"(\s*)(#.*)", tail)
        if comment:  # keep the comment in its column (at least two spaces after the value)
            if first == last:
                column = len(lines[last]) - len(comment.group(2))
            else:
                column = len(head + values[name]) + 2
            tail = " " * max(2, column - len(head + values[name])) + comment.group(2)
        lines[first:last + 1] = [head + values[name] + tail]
    extra = [f"{name} = {value}  # injected by papermill" for name, value in values.items()
             if name not in found]
    params.source = "\n".join(lines + extra)
    nb.cells = [c for c in nb.cells if not any(c is i for i in injected)]
    return nb
