"""The README and the book pages as a reader meets them: every measured number wired to a build or
a benchmark file, the benchmark-wired numbers equal to their files, and the README's Python examples
run as written."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from prunegan import models
from prunegan.book import readme

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "book").glob("*.md"))]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_measured_number_is_wired(page):
    assert readme.unwired_numbers(page.read_text()) == [], (
        f"{page.name}: numbers not wired to a scrap, a benchmark file or marked <!-- setting -->")


def test_the_readme_is_a_front_page():
    assert len((REPO / "README.md").read_text().splitlines()) <= 150


def test_benchmark_numbers_in_the_readme_equal_their_files():
    rows = readme.check_bench((REPO / "README.md").read_text())
    assert rows, "the README quotes no benchmark"
    assert [r for r in rows if not r["ok"]] == []


@pytest.mark.parametrize("page", [*PAGES[1:], REPO / "benchmarks" / "README.md"],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_benchmark_numbers_in_the_book_and_benchmarks_readme_equal_their_files(page):
    rows = readme.check_bench(page.read_text(), source=str(page.relative_to(REPO)))
    assert [r for r in rows if not r["ok"]] == []


def test_the_readme_gan_example_runs(tmp_path, monkeypatch):
    from prunegan import gan

    block = next(b for b in python_blocks((REPO / "README.md").read_text()) if "load_shipped" in b)
    try:
        gan.load_shipped("conv")
    except FileNotFoundError as exc:
        pytest.skip(f"no shipped generator yet: {exc}")
    monkeypatch.chdir(tmp_path)
    torch.save(models.build("lenet5", seed=3).state_dict(), "my_net.pt")
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert set(scope["probs"]) == {"conv1", "conv2"}
    assert len(scope["samples"]) == 5 and scope["mask"].n_pruned == scope["samples"][0].n_pruned


@pytest.mark.slow
def test_the_readme_library_example_runs():
    block = next(b for b in python_blocks((REPO / "README.md").read_text()) if "evaluate_masks" in b)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)  # as written: ~20 s
    assert len(scope["rows"]) == 16 and all(0 <= r["retrained_acc"] <= 1 for r in scope["rows"])
