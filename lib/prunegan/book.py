"""The book's machinery (``make book``): execute the numbered notebooks headlessly with papermill,
prepare the executed copies for reading, check the notebook pairs, and check the README's numbers.

``python -m prunegan.book execute [--smoke True] [--only 03_random]`` runs ``notebooks/NN_*.ipynb``
in order into ``book/executed/`` (the summary notebook, ``99_*``, last since it reads the others'
scraps). A notebook that fails stops the build with its name; its partial output is not kept. Each
executed copy is prepared for the book (:func:`prepare_for_book`): code cells collapsed, the
parameters shown once with the values the run used, progress-bar widgets dropped.

``python -m prunegan.book check-pairs`` reports every notebook whose two files differ: each
``notebooks/NN_name.py`` (jupytext py:percent text, the source to edit) and ``NN_name.ipynb``
(what papermill runs, committed without outputs) must hold the same cells.

``python -m prunegan.book check-readme`` compares every number of README.md that is wired to a scrap
(``0.957 <!-- scrap 01_baseline baseline_acc .3f -->``) with the executed notebooks and prints each
that differs (:func:`check_readme`).
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import time
from pathlib import Path

from .chapters.summary import scraps_by_notebook
from .core.store import REPO_ROOT, atomic_write

SOURCE = REPO_ROOT / "notebooks"
EXECUTED = REPO_ROOT / "book" / "executed"
#: Independent replicates of a chapter (``-p seed r``), outside the book: ``NN_name_seed<r>.ipynb``.
REPLICATES = REPO_ROOT / "book" / "replicates"
README = REPO_ROOT / "README.md"

#: Tags that already decide how a code cell shows; :func:`hide_inputs` leaves such cells alone.
VISIBILITY_TAGS = {"hide-input", "hide-output", "hide-cell", "remove-input", "remove-output", "remove-cell"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def notebooks(source: Path = SOURCE) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` in execution order."""
    return sorted(p for p in source.glob("[0-9][0-9]_*.ipynb"))


def tags(cell) -> list[str]:
    """A notebook cell's tags (an empty list when it has none)."""
    return list(cell.get("metadata", {}).get("tags", []))


# ------------------------------------------------------------------------------- notebook pairs
def cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    """(type, source, tags) of every cell: what the two files of a pair must agree on."""
    return [(c.cell_type, c.source, tuple(tags(c))) for c in nb.cells]


def pair_differences(text: Path, ipynb: Path) -> list[str]:
    """How the notebook ``ipynb`` differs from its text file ``text`` (both read with jupytext):
    missing files, the number of cells, and each cell whose type, source or tags differ. Empty when
    the pair is in step."""
    import jupytext

    missing = [str(p) for p in (text, ipynb) if not p.exists()]
    if missing:
        return [f"missing {m}" for m in missing]
    a, b = cells(jupytext.read(text)), cells(jupytext.read(ipynb))
    out = []
    if len(a) != len(b):
        out.append(f"{text.name} has {len(a)} cells, {ipynb.name} {len(b)}")
    for i, ((type_a, source_a, tags_a), (type_b, source_b, tags_b)) in enumerate(zip(a, b), 1):
        if type_a != type_b:
            out.append(f"cell {i}: type differs ({type_a} / {type_b})")
        if source_a != source_b:
            lines_a, lines_b = source_a.splitlines(), source_b.splitlines()
            first = next((n for n, (p, q) in enumerate(zip(lines_a, lines_b), 1) if p != q),
                         min(len(lines_a), len(lines_b)) + 1)
            out.append(f"cell {i}: source differs (first differing line {first})")
        if tags_a != tags_b:
            out.append(f"cell {i}: tags differ ({list(tags_a)} / {list(tags_b)})")
    return out


def check_pairs(source: Path = SOURCE) -> dict[str, list[str]]:
    """Differences of every pair in ``source`` (a numbered .ipynb or .py without its other half
    counts too), by notebook name; only pairs that differ are listed."""
    names = sorted({p.stem for p in source.glob("[0-9][0-9]_*.ipynb")} |
                   {p.stem for p in source.glob("[0-9][0-9]_*.py")})
    found = {n: pair_differences(source / f"{n}.py", source / f"{n}.ipynb") for n in names}
    return {n: d for n, d in found.items() if d}


# ------------------------------------------------------------------------------------- execution
def execute(path: Path, output: Path, parameters: dict, *, cwd: Path | None = None) -> Path:
    """Run one notebook with papermill (kernel ``python3``) and prepare it for the book
    (:func:`prepare_for_book`), writing ``output`` atomically."""
    import nbformat
    import papermill as pm

    # papermill keeps the executed notebook in memory (no output path); only the prepared notebook
    # is written, through the store's atomic write, so a failed run leaves no file behind.
    nb = pm.execute_notebook(str(path), None, parameters=parameters, kernel_name="python3",
                             cwd=str(cwd or path.parent), progress_bar=False)
    return atomic_write(output, lambda tmp: nbformat.write(prepare_for_book(nb), tmp))


def execute_all(*, smoke: bool = False, only: list[str] | None = None, source: Path = SOURCE,
                target: Path = EXECUTED) -> list[Path]:
    """Execute every numbered notebook (or those whose name starts with one of ``only``)."""
    done = []
    for path in notebooks(source):
        if only and not any(path.stem.startswith(o) for o in only):
            continue
        start = time.perf_counter()
        print(f"[book] executing {path.name} (smoke={smoke}) ...", flush=True)
        done.append(execute(path, target / path.name, {"smoke": smoke}))
        print(f"[book] {path.name} done in {time.perf_counter() - start:.0f} s", flush=True)
    return done


def execute_replicate(name: str = "06_gan", seed: int = 1, *, source: Path = SOURCE,
                      target: Path = REPLICATES) -> Path:
    """Execute notebook ``name`` with ``seed`` (a replicate: every seed family shifted) into
    ``target/<name>_seed<seed>.ipynb``; the README's replicate numbers quote it."""
    path = source / f"{name}.ipynb"
    if not path.exists():
        raise FileNotFoundError(f"no notebook {path}; valid: {', '.join(p.stem for p in notebooks(source))}")
    start = time.perf_counter()
    print(f"[book] executing {path.name} with seed={seed} (replicate) ...", flush=True)
    out = execute(path, target / f"{name}_seed{seed}.ipynb", {"seed": seed})
    print(f"[book] replicate {name} seed {seed} done in {time.perf_counter() - start:.0f} s", flush=True)
    return out


# ------------------------------------------------------------------- executed copies for the book
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


# ------------------------------------------------------------------------------ README numbers
#: ``<!-- scrap NOTEBOOK EXPR FORMAT -->`` right after the number it wires (EXPR: a scrap name, or
#: scrap names and numbers joined by + - * /, e.g. ``trials_collapse_rate*trials_n``).
SCRAP_COMMENT = re.compile(r"<!--\s*scrap\s+(?P<notebook>\S+)\s+(?P<expr>\S+)\s+(?P<fmt>\S+)\s*-->")
NUMBER_BEFORE = re.compile(r"(?P<number>[−+-]?\d[\d,]*(?:\.\d+)?(?:\s?%)?|`[^`\n]+`)\s*$")


#: A replicate's notebook name: ``NN_name_seed<r>``.
REPLICATE_NAME = re.compile(r"\d\d_\w+_seed\d+")


def normalise(number: str) -> str:
    """``"−0.12"`` → ``"-0.12"``, ``"65 %"`` → ``"65%"``: how the README and Python write numbers."""
    return number.replace("−", "-").replace("\u202f", "").replace("\xa0", "").replace(" ", "")


def calculate(expr: str, scraps: dict):
    """The value of ``expr`` (a scrap name, or names and numbers joined by + - * / and parentheses)
    over ``scraps``. Nothing else is accepted: this is a tiny calculator, not ``eval``."""
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}

    def value(node):
        if isinstance(node, ast.Name):
            if node.id not in scraps:
                raise KeyError(node.id)
            return scraps[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        raise ValueError(f"not a scrap expression: {expr!r}")

    return value(ast.parse(expr, mode="eval").body)


def readme_quotes(text: str) -> list[dict]:
    """Every number of ``text`` wired to a scrap: line, README value, notebook, expression, format.
    A comment with no number right before it is returned with ``readme`` = ``None``."""
    quotes = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in SCRAP_COMMENT.finditer(line):
            number = NUMBER_BEFORE.search(line[:m.start()])
            # a number, or a name in backticks (a text scrap such as a criterion's name, format ``s``)
            quotes.append({"line": lineno, "readme": number.group("number").strip("`") if number else None,
                           "notebook": m.group("notebook"), "expr": m.group("expr"), "fmt": m.group("fmt")})
    return quotes


def was_smoke(executed_dir: Path) -> bool:
    """Whether any executed notebook in ``executed_dir`` ran with ``smoke=True`` (papermill's record)."""
    for path in Path(executed_dir).glob("[0-9][0-9]_*.ipynb"):
        meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
        if meta.get("parameters", {}).get("smoke"):
            return True
    return False


def check_readme(readme: Path = README, executed_dir: Path = EXECUTED,
                 replicates_dir: Path | None = REPLICATES) -> list[dict]:
    """Every wired number of ``readme`` checked against the scraps of ``executed_dir`` (and of the
    replicates in ``replicates_dir``): each quote of :func:`readme_quotes` with ``build`` (the scrap
    value formatted with the quote's format, or why there is none), ``ok`` (README and build agree,
    spaces and the minus sign aside) and ``skipped`` (a replicate that was not run: not checked)."""
    scraps = scraps_by_notebook(executed_dir)
    ran = replicates_dir is not None and Path(replicates_dir).is_dir()
    replicas = scraps_by_notebook(replicates_dir) if ran else {}
    scraps.update(replicas)
    results = []
    for q in readme_quotes(Path(readme).read_text()):
        if q["notebook"] not in scraps and REPLICATE_NAME.fullmatch(q["notebook"]):
            results.append({**q, "build": "replicate not run (make replicate)", "ok": True, "skipped": True})
            continue
        if q["notebook"] not in scraps:
            build = f"no executed notebook {q['notebook']}"
        else:
            try:
                value = calculate(q["expr"], scraps[q["notebook"]])
                build = "None" if value is None else format(value, q["fmt"])
            except KeyError as exc:
                build = f"no scrap {exc.args[0]} in {q['notebook']}"
            except (TypeError, ValueError, ZeroDivisionError) as exc:
                build = f"cannot format: {exc}"
        ok = q["readme"] is not None and normalise(q["readme"]) == normalise(build)
        results.append({**q, "build": build, "ok": ok, "skipped": False})
    return results


def report_readme(results: list[dict], *, smoke: bool) -> str:
    """The printout of :func:`check_readme`: one line per number that differs (README line,
    notebook and scrap, README value, build value), framed by what the differences mean."""
    bad = [r for r in results if not r["ok"]]
    lines = [f"README.md:{r['line']}: {r['notebook']} {r['expr']}: README {r['readme']!s}, build {r['build']}"
             for r in bad]
    if not results:
        return "README check: no number in README.md is wired to a scrap (<!-- scrap ... -->)."
    skipped = [r for r in results if r.get("skipped")]
    note = (f" ({len(skipped)} numbers of replicates that were not run are not checked: `make replicate`)"
            if skipped else "")
    if not bad:
        return (f"README check: all {len(results) - len(skipped)} checked numbers match the executed "
                f"notebooks{note}.")
    if smoke:
        return "\n".join([f"README check: this was a smoke build (smoke=True) and the README quotes a full "
                          f"build, so {len(bad)} of {len(results)} numbers differ as expected:"] + lines)
    return "\n".join([f"README check: {len(bad)} of {len(results)} numbers in README.md differ from this "
                      "build (update README.md; the build's values are the second ones):"] + lines)


# ------------------------------------------------------------------------------------------- CLI
def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prunegan.book", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="execute the notebooks into book/executed/")
    run.add_argument("--smoke", type=_bool, default=False, help="tiny fast run (True/False)")
    run.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03_random")
    rep = sub.add_parser("replicate", help="execute a chapter with another seed into book/replicates/")
    rep.add_argument("--name", default="06_gan")
    rep.add_argument("--seed", type=int, default=1)
    pairs = sub.add_parser("check-pairs", help="report notebook pairs (.py / .ipynb) that differ")
    pairs.add_argument("--source", type=Path, default=SOURCE)
    check = sub.add_parser("check-readme",
                           help="compare README.md's wired numbers with the executed notebooks")
    check.add_argument("--readme", type=Path, default=README)
    check.add_argument("--executed", type=Path, default=EXECUTED)
    check.add_argument("--strict", action="store_true",
                       help="exit 1 when a number differs (a smoke build never fails)")
    args = parser.parse_args(argv)
    if args.command == "execute":
        execute_all(smoke=args.smoke, only=args.only)
    elif args.command == "replicate":
        execute_replicate(args.name, args.seed)
    elif args.command == "check-pairs":
        found = check_pairs(args.source)
        for name, problems in found.items():
            print(f"{name}: " + "; ".join(problems))
        print("notebook pairs: " + (f"{len(found)} out of step (run `make sync`)" if found
                                    else "all in step"))
        return 1 if found else 0
    elif args.command == "check-readme":
        if not notebooks(args.executed):
            print(f"README check: no executed notebook in {args.executed}; run `make book` first.")
            return 1
        smoke = was_smoke(args.executed)
        results = check_readme(args.readme, args.executed)
        print(report_readme(results, smoke=smoke))
        return 1 if args.strict and not smoke and not all(r["ok"] for r in results) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
