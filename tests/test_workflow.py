"""The GitHub Actions workflow that rebuilds and publishes the book (.github/workflows/book.yml):
checked offline with actionlint (the pinned wheel's binary), and read as data for what it must do."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


def actionlint(path: Path) -> subprocess.CompletedProcess:
    """actionlint on one workflow file, offline, with its optional shellcheck / pyflakes passes off
    (so the verdict does not depend on what else this machine has installed)."""
    exe = Path(sys.executable).parent / "actionlint"
    exe = str(exe) if exe.exists() else shutil.which("actionlint")
    assert exe, "actionlint is not installed: it is pinned in requirements.txt (make venv installs it)"
    return subprocess.run([exe, "-no-color", "-shellcheck=", "-pyflakes=", str(path)], capture_output=True,
                          text=True, cwd=REPO, timeout=60)


def test_the_workflow_passes_actionlint():
    done = actionlint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("old, new, complaint", [
    ("needs: build", "needs: bild", "bild"),                                     # a job that does not exist
    ("runs-on: ubuntu-latest", "runs-on: ubuntu-latst", "ubuntu-latst"),         # an unknown runner
    ("          path: _build/html", "          paht: _build/html", "paht"),      # an input the action lacks
    # a bad expression
    ("steps.deployment.outputs.page_url", "steps.deployment.outputs.page_url ==", "page_url"),
])
def test_a_broken_copy_of_the_workflow_fails_actionlint(tmp_path, old, new, complaint):
    text = WORKFLOW.read_text()
    assert old in text
    broken = tmp_path / "book.yml"
    broken.write_text(text.replace(old, new, 1))
    done = actionlint(broken)
    assert done.returncode != 0 and complaint in done.stdout, done.stdout + done.stderr


def test_the_workflow_tests_builds_checks_and_deploys_the_book_from_main_only():
    wf = yaml.safe_load(WORKFLOW.read_text())
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as True
    assert set(triggers) == {"push", "pull_request", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"]
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    uses = [s.get("uses", "").split("@")[0] for s in build["steps"]]
    runs = [s.get("run") for s in build["steps"]]
    order = ["actions/checkout", "actions/setup-python", "actions/cache", "make test",
             "make book CHECK_README=strict", "make replicate CHECK_README=strict",
             "actions/upload-pages-artifact"]
    seen = [u or r for u, r in zip(uses, runs)]
    assert seen == order, seen
    python = build["steps"][1]["with"]
    assert python["python-version"] == "3.11" and python["cache"] == "pip"
    cache = build["steps"][2]["with"]
    assert cache["path"] == "results"
    assert "hashFiles('lib/**', 'notebooks/**', 'requirements.txt')" in cache["key"] and cache["restore-keys"]
    assert build["steps"][-1]["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and [s["uses"].split("@")[0]
                                           for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert "pull_request" in deploy["if"] and "refs/heads/main" in deploy["if"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}


def test_make_test_runs_ruff_first_with_the_projects_settings():
    """``make test`` lints before it tests (``make -n``: the commands, none run); ruff reads its
    settings from pyproject.toml: 110 columns, pycodestyle errors (E501 included) and pyflakes."""
    import tomllib

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "-C", str(REPO), "test"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    ruff = next(i for i, line in enumerate(out) if line.endswith("ruff check ."))
    pytest_ = next(i for i, line in enumerate(out) if line.endswith("-m pytest"))
    assert ruff < pytest_
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["ruff"]
    assert config["line-length"] == 110 and config["target-version"] == "py311"
    assert {"E", "F", "W"} <= set(config["lint"]["select"])
    assert "E501" not in config["lint"].get("ignore", [])


@pytest.mark.parametrize("need_gb, refused", [(10**6, True), (0, False)])
def test_make_venv_refuses_early_when_the_disk_lacks_the_space_the_venv_needs(tmp_path, need_gb, refused):
    """A fresh clone on a full disk stops before pip with the free and needed GB named (pip's own
    'No space left on device' comes minutes later, half-way through torch); with enough space the
    recipe goes on to create the venv (here with a Python that fails at once, so nothing installs)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    out = subprocess.run(["make", "-C", str(tmp_path), "venv", f"VENV_FREE_GB={need_gb}", "PY=false"],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert ("the venv needs" in out.stderr) is refused
    if refused:
        assert f"needs {need_gb} GB" in out.stderr and " GB free on " in out.stderr
    else:
        assert "false -m venv" in out.stdout
