"""Where a number was computed: torch's version, the processor (the CPU's model name, or the CUDA
device's name) of the machine that computed it, the CPU kernels' instruction set in effect
(``cpu_capability``: ``AVX2`` when :mod:`prunegan.kernels` pins them), the highest one the CPU
offers (``cpu_isa``: ``AVX512`` / ``AVX2``; two machines of one model name can differ here) and
numpy's SIMD dispatch in effect (``numpy_simd``: ``X86_V3``, numpy's AVX2 level, when pinned).

Every cached evaluation row records it (:func:`describe`). It is provenance, not part of any cache
key: the same config gives slightly different floats with different kernels (the pin makes every
x86-64 CPU use the AVX2 ones), so a row restored from a cache built elsewhere keeps the machine that
made it, and a chapter can say which machines its numbers came from (:func:`summary`).
"""
from __future__ import annotations

import collections
import datetime
import functools
import math
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path

import torch

from .. import kernels

#: The fields :func:`describe` returns (and every cached evaluation row carries).
FIELDS = ("torch_version", "device_name", "cpu_capability", "cpu_isa", "numpy_simd")

CPUINFO = Path("/proc/cpuinfo")


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's model name: the first ``model name`` line of ``cpuinfo`` (the text of
    ``/proc/cpuinfo``, read when not given), else :func:`platform.processor`, else the machine type
    (``x86_64``, ``arm64``)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "model name" and value.strip():
            return " ".join(value.split())
    return platform.processor() or platform.machine() or "unknown CPU"


@functools.lru_cache(maxsize=1)
def _this_cpu() -> str:
    return cpu_model()


def device_name(device: torch.device | str | None = None) -> str:
    """The name of the processor that computes on ``device``: the CUDA device's name
    (``torch.cuda.get_device_name``) for a CUDA device, this machine's CPU model otherwise."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return _this_cpu()


def describe(device: torch.device | str | None = None) -> dict[str, str]:
    """``{"torch_version", "device_name", "cpu_capability", "cpu_isa", "numpy_simd"}`` of this process
    computing on ``device`` (default the CPU); warns once if the kernels are not the pinned ones
    (:func:`prunegan.kernels.check`)."""
    kernels.check()
    effect = kernels.in_effect()
    return {"torch_version": torch.__version__, "device_name": device_name(device),
            "cpu_capability": effect["cpu_capability"], "cpu_isa": effect["cpu_isa"],
            "numpy_simd": effect["numpy_simd"]}


def commit(short: bool = False) -> str:
    """The commit of the checkout the package runs from (``short``: 7 hex digits; ``+dirty`` when tracked
    files have uncommitted changes), or ``"unknown"`` outside a git checkout."""
    here = Path(__file__).parent
    try:
        sha = subprocess.run(["git", "rev-parse", *(["--short"] if short else []), "HEAD"], cwd=here,
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def stamp(what: str, note: str = "") -> dict[str, str]:
    """The head of a benchmark's measurement file: ``what`` it measured, today's ``date``, the short
    ``commit`` and the ``machine`` (CPU model and instruction set, kernels, torch; ``note`` appended)."""
    here = describe()
    machine = (f"{here['device_name']} ({here['cpu_isa']} CPU, {here['cpu_capability']} kernels), "
               f"torch {here['torch_version']}")
    return {"what": what, "date": datetime.date.today().isoformat(), "commit": commit(short=True),
            "machine": machine + (f"; {note}" if note else "")}


def _known(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _machine(ver, dev, capability=None, isa=None, numpy_simd=None) -> str:
    # numpy_simd is recorded in every row but left out of the text: rows cached before numpy was
    # pinned have no record of it, and naming it would split one machine's rows in two.
    if not (_known(ver) and _known(dev)):
        return "unknown machine"
    cpu = f"{dev} ({isa} CPU)" if _known(isa) and isa != "unknown" else dev
    return f"{cpu}, {capability} kernels, torch {ver}" if _known(capability) else f"{cpu}, torch {ver}"


def summary(rows) -> str:
    """Which machines computed ``rows`` (a DataFrame with :data:`FIELDS` columns, or an iterable of
    row dicts), most rows first: ``"AMD EPYC 7B13 (AVX512 CPU), AVX2 kernels, torch 2.14.1 (1,200 rows);
    Intel Xeon, torch 2.14.1 (40 rows)"`` (the kernels where recorded). Rows without a record count as
    ``unknown machine``."""
    if hasattr(rows, "columns"):  # a DataFrame
        records: Iterable = zip(*(rows[f] if f in rows.columns else [None] * len(rows) for f in FIELDS))
    else:
        records = (tuple(row.get(f) for f in FIELDS) for row in rows)
    counts = collections.Counter(_machine(*record) for record in records)
    if not counts:
        return "no rows"
    return "; ".join(f"{name} ({n:,} row{'s' if n != 1 else ''})" for name, n in counts.most_common())
