"""prunegan installed into a user's own environment (issue 28).

- pyproject.toml declares the library's runtime dependencies as ranges, and extras for the rest (``book``,
  ``ray``, ``dev``); requirements.txt (the one list of exact pins) satisfies every range.
- Every third-party module that ``lib/prunegan`` imports is declared: in the core set, or in the extra of
  the only modules that use it (the book machinery for ``book``; elsewhere imported lazily, with a clear
  error naming how to install it).
- The wheel, installed outside the checkout (``pip install --target``, the venv's packages standing in for
  the environment's), runs the README's "GAN on your own network" example and the ``prunegan`` console
  command from another folder, with only the core dependencies importable, and its results cache is in
  the user's cache folder, not inside the environment.
"""
from __future__ import annotations

import ast
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "lib" / "prunegan"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

#: Book machinery: the subpackages that only ``make book`` uses; their imports belong to the ``book`` extra.
BOOK_MACHINERY = ("book", "chapters")

#: Outside the book machinery, imports of a dependency declared only in an extra: (module, imported
#: top-level name) → the extra. Each must sit inside a function (lazy), never at module level.
LAZY_EXTRA_IMPORTS = {
    ("pruning/executors/ray_connect.py", "ray"): "ray",  # import_ray(): ImportError with the install hint
    ("pruning/executors/ray_tasks.py", "ray"): "ray",  # inside a Ray task: runs only where Ray runs
    ("plots/__init__.py", "myst_nb"): "book",  # glue_figure(): only the book's notebooks call it
}

#: Present in any fresh virtual environment of Python 3.11 (never blocked when simulating one).
BOOTSTRAP = {"pip", "setuptools", "wheel", "_distutils_hack", "pkg_resources"}


def core() -> list[Requirement]:
    return [Requirement(r) for r in PROJECT["dependencies"]]


def extras() -> dict[str, list[Requirement]]:
    return {name: [Requirement(r) for r in reqs] for name, reqs in PROJECT["optional-dependencies"].items()}


def pins() -> dict[str, Version]:
    found = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line).groups()
            found[canonicalize_name(name)] = Version(version)
    return found


def closure(names) -> set[str]:
    """The distributions ``names`` need, installed here: themselves and their base requirements
    (markers evaluated for this interpreter, no extras), recursively."""
    seen: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


@functools.cache
def packages_distributions() -> dict[str, list[str]]:
    """Top-level module → the installed distributions providing it (slow: read once)."""
    return metadata.packages_distributions()


def distributions_of(module: str) -> set[str]:
    return {canonicalize_name(d) for d in packages_distributions().get(module, [])}


# ------------------------------------------------------------------------------------- declared ranges

def test_pyproject_declares_core_dependencies_and_the_extras():
    names = {canonicalize_name(r.name) for r in core()}
    assert {"torch", "torchvision", "torch-pruning", "numpy", "pandas", "mlxtend", "tqdm"} <= names
    assert set(extras()) >= {"book", "ray", "dev"}
    book = {canonicalize_name(r.name) for r in extras()["book"]}
    assert {"jupyter-book", "papermill", "scrapbook", "six", "jupytext", "myst-nb", "ipykernel"} <= book
    assert PROJECT["scripts"]["prunegan"] == "prunegan.cli:main"
    for req in [*core(), *(r for reqs in extras().values() for r in reqs)]:
        assert str(req.specifier), f"{req.name} is declared without a version range"
        assert not any(s.operator in ("==", "===") for s in req.specifier), f"{req}: a range, not a pin"


def test_requirements_txt_satisfies_every_declared_range():
    pinned = pins()
    needed_by_pins = closure(pinned)
    for group, reqs in [("core", core()), *extras().items()]:
        for req in reqs:
            name = canonicalize_name(req.name)
            if name in pinned:
                assert req.specifier.contains(pinned[name], prereleases=True), \
                    f"[{group}] {req}: requirements.txt pins {name}=={pinned[name]}"
            else:  # declared because prunegan imports it; the pins bring it in (e.g. ipython via ipykernel)
                assert name in needed_by_pins, f"[{group}] {req} is neither pinned nor required by a pin"
                installed = Version(metadata.version(name))
                assert req.specifier.contains(installed, prereleases=True), \
                    f"[{group}] {req}: the pins installed {name} {installed}"


def test_the_installed_torch_satisfies_the_range():
    """`pip install .` into the venv must never replace its torch (a 5.5 GB CUDA build)."""
    torch_req = next(r for r in core() if r.name == "torch")
    assert torch_req.specifier.contains(Version(metadata.version("torch")), prereleases=True)
    assert torch_req.specifier.contains("2.14.1")


# --------------------------------------------------------------------------------- declared imports

def third_party_imports(path: Path):
    """``(top-level module, line, lazy)`` of every absolute import of a third-party module in ``path``;
    ``lazy``: inside a function, so importing the module does not import it."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and not child.level:
                names = [child.module]
            else:
                names = []
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "prunegan":
                    found.append((top, child.lineno, in_function))
            function = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, in_function or function)

    visit(tree, False)
    return found


def test_every_third_party_import_is_declared():
    core_names = {canonicalize_name(r.name) for r in core()}
    extra_names = {e: {canonicalize_name(r.name) for r in reqs} for e, reqs in extras().items()}
    problems, used_lazy = [], set()
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40
    for path in files:
        rel = path.relative_to(PACKAGE).as_posix()
        book_machinery = rel.split("/")[0] in BOOK_MACHINERY
        for module, line, lazy in third_party_imports(path):
            where = f"lib/prunegan/{rel}:{line} imports {module}"
            dists = distributions_of(module)
            if not dists:
                problems.append(f"{where}: no installed distribution provides it")
                continue
            if dists & core_names:
                continue
            in_extras = {e for e, names in extra_names.items() if dists & names}
            if not in_extras:
                problems.append(f"{where}: {sorted(dists)} is not declared in pyproject.toml")
            elif book_machinery:
                if "book" not in in_extras:
                    problems.append(f"{where}: book machinery, but {sorted(dists)} is in {sorted(in_extras)}")
            elif (rel, module) not in LAZY_EXTRA_IMPORTS:
                problems.append(f"{where}: {sorted(dists)} is only in the extra(s) {sorted(in_extras)}, "
                                "outside the book machinery and not listed in LAZY_EXTRA_IMPORTS")
            elif LAZY_EXTRA_IMPORTS[rel, module] not in in_extras:
                problems.append(f"{where}: listed for extra {LAZY_EXTRA_IMPORTS[rel, module]!r}, "
                                f"declared in {sorted(in_extras)}")
            elif not lazy:
                problems.append(f"{where} at module level: the extra's module must be imported lazily")
            else:
                used_lazy.add((rel, module))
    assert not problems, "\n".join(problems)
    stale = set(LAZY_EXTRA_IMPORTS) - used_lazy
    assert not stale, f"stale entries in LAZY_EXTRA_IMPORTS: {stale}"


def test_the_ast_walk_sees_lazy_and_module_level_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import numpy as np\nfrom . import x\nimport os\n\n"
                   "def f():\n    import ray\n    from ray._private import services\n\n"
                   "class C:\n    def g(self):\n        from myst_nb import glue\n")
    assert third_party_imports(src) == [("numpy", 1, False), ("ray", 6, True), ("ray", 7, True),
                                        ("myst_nb", 11, True)]


# ------------------------------------------------------ a fresh environment with the core set only

BLOCKER = '''\
"""Simulates an environment holding prunegan's core dependencies only: importing any other installed
distribution's module fails as it would there (ModuleNotFoundError)."""
import importlib.abc
import json
import os
import sys

_BLOCKED = frozenset(json.loads(os.environ["PRUNEGAN_TEST_BLOCKED"]))


class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not a core dependency)", name=name)
        return None


sys.meta_path.insert(0, _Block())
'''


def blocked_modules() -> list[str]:
    """Top-level modules installed here that an environment with only the core dependencies lacks."""
    allowed = closure(r.name for r in core()) | BOOTSTRAP
    blocked = set()
    for module, dists in packages_distributions().items():
        if module in sys.stdlib_module_names or module in BOOTSTRAP or module == "prunegan":
            continue
        if not {canonicalize_name(d) for d in dists} & allowed:
            blocked.add(module)
    return sorted(blocked)


def core_only_env(tmp_path: Path, site: Path | None = None) -> dict[str, str]:
    """Environment for a child Python: a ``sitecustomize`` that blocks every non-core distribution,
    ``site`` (an installed copy of prunegan) first on the path, the caches pointed away from the user's."""
    hook = tmp_path / "core_only"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(BLOCKER)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PRUNEGAN_RESULTS", "PRUNEGAN_DATA", "XDG_CACHE_HOME")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (site, hook) if p is not None)
    env["PRUNEGAN_TEST_BLOCKED"] = json.dumps(blocked_modules())
    env["HOME"] = str(tmp_path / "home")
    env.setdefault("PRUNEGAN_TEST_THREADS", "1")
    return env


def test_the_blocker_blocks_the_extras_and_nothing_core():
    blocked = set(blocked_modules())
    assert {"papermill", "scrapbook", "ray", "myst_nb", "jupytext", "IPython", "pytest"} <= blocked
    assert not {"torch", "torchvision", "torch_pruning", "numpy", "pandas", "scipy", "matplotlib", "seaborn",
                "mlxtend", "tqdm"} & blocked


def test_every_library_module_imports_with_the_core_dependencies_only(tmp_path):
    """Everything but the book machinery imports in an environment without the extras; ``executor='ray'``
    then says how to install Ray."""
    code = textwrap.dedent('''
        import importlib, pkgutil, sys
        import prunegan
        names = []
        for top in pkgutil.iter_modules(prunegan.__path__, "prunegan."):
            if top.name.split(".")[1] in ("book", "chapters", "__main__"):
                continue
            module = importlib.import_module(top.name)
            names.append(top.name)
            if top.ispkg:  # walk_packages imports each subpackage it finds
                names += [m.name for m in pkgutil.walk_packages(module.__path__, top.name + ".")
                          if not m.name.endswith(".__main__")]
        for name in names:
            importlib.import_module(name)
        for extra in ("papermill", "ray", "myst_nb", "scrapbook", "IPython"):
            assert extra not in sys.modules, extra
        from prunegan.pruning import executors
        try:
            executors.import_ray()
        except ImportError as exc:
            print("RAY:", exc)
        print("IMPORTED", len(names))
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env=core_only_env(tmp_path), timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(re.search(r"IMPORTED (\d+)", out.stdout).group(1)) > 30
    hint = re.search(r"RAY: (.*)", out.stdout).group(1)
    ray_range = next(r for r in extras()["ray"] if r.name == "ray").specifier
    named = re.search(r"pip install (?:ray==(\S+)|\S*prunegan\[ray\])", hint)
    assert named, f"the missing-Ray error does not say how to install it: {hint}"
    assert named.group(1) is None or ray_range.contains(named.group(1)), hint


# ------------------------------------------------------------------ the wheel, installed elsewhere

def readme_example() -> str:
    """The Python block of the README's section "The GAN on your own network"."""
    readme = (REPO / "README.md").read_text()
    section = re.search(r"^## The GAN on your own network\n(.*?)(?=^## )", readme, re.M | re.S)
    assert section, "README.md has no section '## The GAN on your own network'"
    block = re.search(r"```python\n(.*?)```", section.group(1), re.S)
    assert block, "the README's section 'The GAN on your own network' has no Python example"
    return block.group(1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from a copy of the sources (the build writes build/ and *.egg-info beside them)
    and installed with ``pip install --no-deps --target``: ``(wheel, site folder)``."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    shutil.copy(REPO / "pyproject.toml", src / "pyproject.toml")
    shutil.copytree(PACKAGE, src / "lib" / "prunegan",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    out = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "-w", str(base / "dist"), str(src)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = (base / "dist").glob("prunegan-*.whl")
    site = base / "site"
    out = subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    return wheel, site


def test_the_wheel_declares_dependencies_extras_and_the_console_command(installed):
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(f"{info}/METADATA").decode()
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    assert re.search(r"^\[console_scripts\]\nprunegan = prunegan\.cli:main$", entry_points, re.M)
    requires = [Requirement(line.split(":", 1)[1]) for line in meta.splitlines()
                if line.startswith("Requires-Dist:")]
    assert {str(r) for r in requires if r.marker is None} == {str(r) for r in core()}
    for extra, reqs in extras().items():
        assert f"Provides-Extra: {extra}" in meta
        assert {r.name for r in requires if r.marker and r.marker.evaluate({"extra": extra})} \
            >= {r.name for r in reqs}
    for shipped in ("conv.pt", "conv-linear.pt", "manifest.json"):
        assert f"prunegan/gan/shipped/{shipped}" in names


def test_pip_would_install_nothing_but_prunegan_into_the_pinned_venv(installed, tmp_path):
    """``pip install ".[book,ray,dev]"`` resolved offline against this venv (requirements.txt's pins):
    every declared range is met by what is installed, so pip pulls nothing, torch least of all."""
    wheel, _ = installed
    report = tmp_path / "report.json"
    out = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q",
                          "install", "--dry-run", "--no-index", "--report", str(report),
                          f"{wheel}[book,ray,dev]"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    would = [item["metadata"]["name"] for item in json.loads(report.read_text())["install"]]
    assert would == ["prunegan"]


def test_the_readme_example_and_the_console_command_run_from_the_installed_wheel(installed, tmp_path):
    """From another folder, with only the core dependencies importable: the README's Python example on a
    freshly built (untrained) LeNet-5, then ``prunegan map``; run folders go to ``~/.cache/prunegan/results``
    (``$XDG_CACHE_HOME/prunegan/results`` where that is set), nothing into the installed package."""
    _, site = installed
    work = tmp_path / "work"
    work.mkdir()
    env = core_only_env(tmp_path, site)
    home = Path(env["HOME"])
    before = sorted(p.relative_to(site) for p in site.rglob("*") if "__pycache__" not in p.parts)

    script = textwrap.dedent('''
        import torch
        from prunegan import models
        torch.save(models.build("lenet5", seed=0).state_dict(), "my_net.pt")  # the user's network
    ''') + readme_example() + textwrap.dedent('''
        import json, sys
        import prunegan
        from prunegan.core import store
        run = store.Run("example", {"probs": {k: v.tolist() for k, v in probs.items()}})
        run.write_json("mask.json", {k: v.tolist() for k, v in mask.items()})
        print(json.dumps({"file": prunegan.__file__, "in_checkout": store.in_checkout(),
                          "root": str(store.results_root()), "run": str(run.path),
                          "samples": len(samples), "kept": sum(int(v.sum()) for v in mask.values())}))
    ''')
    out = subprocess.run([sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(result["file"]).is_relative_to(site), result["file"]  # the installed copy, not the checkout
    assert result["in_checkout"] is False
    assert result["root"] == str(home / ".cache" / "prunegan" / "results")
    assert Path(result["run"]).parent == home / ".cache" / "prunegan" / "results"
    assert (Path(result["run"]) / "mask.json").is_file() and (Path(result["run"]) / "config.json").is_file()
    assert result["samples"] == 5 and result["kept"] == 22 - round(0.8 * 22)  # LeNet-5: 6 + 16 channels

    # the console command (pip --target writes it to site/bin, run by this interpreter), XDG_CACHE_HOME set
    command = site / "bin" / "prunegan"
    assert command.is_file() and os.access(command, os.X_OK)
    assert sys.executable in command.read_text()  # its shebang (or pip's /bin/sh launcher for long paths)
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    def run(*args):
        return subprocess.run([str(a) for a in args], cwd=work, env=env, capture_output=True, text=True,
                              timeout=180)

    out = run(command, "map", "--model", "lenet5", "--weights", "my_net.pt", "--sparsity", "0.8",
              "--samples", "2", "--out", "map.png")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "keep-probability per channel" in out.stdout and "sample 1 (seed 1" in out.stdout
    assert (work / "map.png").stat().st_size > 1000
    out = run(command, "map", "--model", "lenet5", "--weights", "missing.pt", "--sparsity", "0.8")
    assert out.returncode == 2 and out.stderr.startswith("error:") and len(out.stderr.splitlines()) == 1
    root = [sys.executable, "-c", "from prunegan.core import store; print(store.results_root())"]
    out = run(*root)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == str(tmp_path / "xdg" / "prunegan" / "results")
    env["PRUNEGAN_RESULTS"] = str(tmp_path / "mine")  # still wins
    assert run(*root).stdout.strip() == str(tmp_path / "mine")

    after = sorted(p.relative_to(site) for p in site.rglob("*") if "__pycache__" not in p.parts)
    assert after == before, "the run wrote into the installed package"
    assert not (site.parent / "results").exists() and not (work / "results").exists()
