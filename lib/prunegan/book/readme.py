"""The README's numbers: each number wired to a scrap (``0.957 <!-- scrap 01_baseline baseline_acc .3f -->``)
compared with the executed notebooks, through a tiny calculator for scrap expressions; each number
wired to a benchmark's measurement file (``2.9× <!-- bench fused_engine chapter6_mix.ratio .1f -->``:
``benchmarks/results/fused_engine.json``, a dotted key) compared with that file; and every
measurement-like number that is wired to neither (:func:`unwired_numbers`)."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from ..chapters.summary import scraps_by_notebook
from .layout import EXECUTED, README, REPLICATES

#: Benchmarks' measurement files that ``<!-- bench NAME KEY FORMAT -->`` reads (``NAME.json``).
BENCH_RESULTS = README.parent / "benchmarks" / "results"
BENCH_COMMENT = re.compile(r"<!--\s*bench\s+(?P<name>[\w-]+)\s+(?P<key>[\w.]+)\s+(?P<fmt>\S+)\s*-->")
#: A whole percentage that is a multiple of 5 (a sparsity of the grid, a 95 % CI): a setting, not a
#: measurement. Any other number that is a setting is marked ``<!-- setting -->`` right after it.
SETTING_PERCENT = re.compile(r"(?:[05]|[1-9][05]|100)\s?%")
VERSION = re.compile(r"\b(?:Python|torch|Book|Ray|ray|version|v)\s?\d+(?:\.[\dx]+)+")
#: What counts as a measurement in prose: a decimal number, a percentage, a ratio (``2.9×``) or a
#: duration (``57 min``, ``8 s``); plain integers (``2 cores``, ``10 epochs``) are settings.
MEASUREMENT = re.compile(r"(?<![\w.`/-])[−+-]?\d[\d,]*(?:\.\d+)?(?:\s?%|\s?×(?!\s?\d)|\s?(?:min|s|ms|h)\b)"
                         r"|(?<![\w.`/-])[−+-]?\d+\.\d+(?![\w.`/-]|\.\d)")

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


def bench_value(name: str, key: str, results: Path = BENCH_RESULTS):
    """The value at dotted ``key`` of ``results/NAME.json``; ``KeyError`` naming what is missing."""
    path = Path(results) / f"{name}.json"
    if not path.exists():
        raise KeyError(f"no benchmark file {path.name}")
    value = json.loads(path.read_text())
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"no {key} in {path.name}")
        value = value[part]
    return value


def check_bench(text: str, results: Path = BENCH_RESULTS, source: str = "README.md") -> list[dict]:
    """Every number of ``text`` wired to a benchmark file, with ``build`` (the file's value formatted)
    and ``ok``. Checked by ``make test``: the files are committed beside the scripts that write them."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in BENCH_COMMENT.finditer(line):
            number = NUMBER_BEFORE.search(line[:m.start()].rstrip().rstrip("×"))
            try:
                build = format(bench_value(m.group("name"), m.group("key"), results), m.group("fmt"))
            except (KeyError, TypeError, ValueError) as exc:
                build = str(exc.args[0]) if exc.args else repr(exc)
            readme = number.group("number") if number else None
            out.append({"source": source, "line": lineno, "readme": readme, "bench": m.group("name"),
                        "key": m.group("key"), "build": build,
                        "ok": readme is not None and normalise(readme) == normalise(build)})
    return out


def unwired_numbers(text: str) -> list[tuple[int, str]]:
    """``(line, number)`` of every measurement-like number (:data:`MEASUREMENT`) in ``text``'s prose
    that no ``scrap``, ``bench`` or ``setting`` comment follows: outside fenced code, inline code, link
    targets and HTML comments, whole percentages that are multiples of 5 aside (:data:`SETTING_PERCENT`).
    A number in the book or README must come from a build or a benchmark file."""
    out, fenced = [], False
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        prose = re.sub(r"`[^`]*`", " ", line)
        prose = re.sub(r"\]\([^)]*\)", "]", prose)  # link targets
        prose = VERSION.sub(" ", prose)  # "Python 3.11", "torch 2.14.1", "Jupyter Book 1.x": not measurements
        wired = [m.start() for m in re.finditer(r"<!--\s*(scrap|bench|setting)\b", prose)]
        prose = re.sub(r"<!--.*?-->", lambda m: " " * len(m.group()), prose)
        for m in MEASUREMENT.finditer(prose):
            if SETTING_PERCENT.fullmatch(m.group().strip()):
                continue
            follow = prose[m.end():]
            comment_next = any(0 <= w - m.end() <= 2 for w in wired) or \
                (follow[:2].strip() in ("", "×") and any(0 <= w - m.end() <= 3 for w in wired))
            if not comment_next:
                out.append((lineno, m.group().strip()))
    return out


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
    for b in check_bench(Path(readme).read_text()):
        results.append({"line": b["line"], "readme": b["readme"],
                        "notebook": f"benchmarks/results/{b['bench']}", "expr": b["key"], "fmt": "",
                        "build": b["build"], "ok": b["ok"], "skipped": False})
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
