"""The README's numbers: each number wired to a scrap (``0.957 <!-- scrap 01_baseline baseline_acc .3f -->``)
compared with the executed notebooks, through a tiny calculator for scrap expressions."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from ..chapters.summary import scraps_by_notebook
from .layout import EXECUTED, README, REPLICATES

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
