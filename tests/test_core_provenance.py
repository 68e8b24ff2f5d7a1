"""core.provenance: which machine computed a number (torch version, CPU model or CUDA device)."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

from prunegan.core import provenance

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13   64-Core Processor
flags\t\t: fpu vme

processor\t: 1
model name\t: AMD EPYC 7B13 64-Core Processor
"""


def test_cpu_model_reads_the_first_model_name_line():
    assert provenance.cpu_model(CPUINFO) == "AMD EPYC 7B13 64-Core Processor"


def test_cpu_model_falls_back_to_platform(monkeypatch):
    monkeypatch.setattr(provenance.platform, "processor", lambda: "arm")
    assert provenance.cpu_model("processor\t: 0\nHardware\t: BCM2835\n") == "arm"
    monkeypatch.setattr(provenance.platform, "processor", lambda: "")
    monkeypatch.setattr(provenance.platform, "machine", lambda: "aarch64")
    assert provenance.cpu_model("") == "aarch64"


def test_this_machine_is_described_with_torchs_version_and_a_cpu_name():
    d = provenance.describe()
    assert set(d) == set(provenance.FIELDS)
    assert d["torch_version"] == torch.__version__
    assert d["device_name"] and d["device_name"] == provenance.describe("cpu")["device_name"]


def test_a_cuda_device_is_named_by_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: f"Fake GPU {torch.device(device)}")
    assert provenance.describe("cuda:1")["device_name"] == "Fake GPU cuda:1"
    assert provenance.describe(torch.device("cpu"))["device_name"] != "Fake GPU cpu"


def test_summary_counts_rows_per_machine_most_first():
    rows = [{"torch_version": "2.14.1", "device_name": "AMD EPYC"}] * 3 + [
        {"torch_version": "2.14.1", "device_name": "Intel Xeon"}, {"retrained_acc": 0.9}]
    text = "AMD EPYC, torch 2.14.1 (3 rows); Intel Xeon, torch 2.14.1 (1 row); unknown machine (1 row)"
    assert provenance.summary(rows) == text
    assert provenance.summary(pd.DataFrame(rows)) == text  # NaN where a row has no record
    assert provenance.summary(pd.DataFrame({"retrained_acc": [0.5, 0.6]})) == "unknown machine (2 rows)"
    assert provenance.summary([]) == "no rows"


@pytest.mark.parametrize("text", ["", "model name\t:\n"])
def test_an_empty_model_name_is_not_a_name(text, monkeypatch):
    monkeypatch.setattr(provenance.platform, "processor", lambda: "x86_64")
    assert provenance.cpu_model(text) == "x86_64"


def test_a_benchmark_stamp_names_what_when_which_commit_and_machine(monkeypatch):
    import re

    s = provenance.stamp("what it measured", "a note")
    assert s["what"] == "what it measured" and re.fullmatch(r"\d{4}-\d\d-\d\d", s["date"])
    assert re.fullmatch(r"[0-9a-f]{7,}(\+dirty)?|unknown", s["commit"])
    here = provenance.describe()
    assert s["machine"].startswith(f"{here['device_name']} ({here['cpu_isa']} CPU")
    assert s["machine"].endswith("; a note")
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", provenance.commit())
    def no_git(*args, **kwargs):
        raise OSError("no git")

    monkeypatch.setattr(provenance.subprocess, "run", no_git)
    assert provenance.commit() == "unknown"
