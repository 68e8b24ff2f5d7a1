"""The one list of pins (requirements.txt) and the files that delegate to it stay in step."""
from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def pins() -> dict[str, str]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    found = dict(re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s#]+)", line.strip()).groups()
                 for line in lines if line.strip() and not line.startswith("#"))
    return found


def test_every_requirement_is_an_exact_pin_and_installed():
    for name, wanted in pins().items():
        assert version(name) == wanted, f"{name}: installed {version(name)}, pinned {wanted}"


def test_the_design_cards_packages_are_pinned():
    names = {n.lower() for n in pins()}
    for needed in ("jupyter-book", "papermill", "torch", "torchvision", "matplotlib", "seaborn", "scrapbook",
                   "torch-pruning", "mlxtend", "six"):
        assert needed in names
    assert pins()["jupyter-book"].startswith("1."), "Jupyter Book 2.x fails offline"


def test_environment_yml_delegates_to_requirements():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-r requirements.txt" in pip
    assert "python=3.11" in env["dependencies"]


def test_the_package_has_one_version():
    import tomllib

    import prunegan

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["version"] == prunegan.__version__ == version("prunegan")
