"""Where a number was computed: torch's version and the processor (the CPU's model name, or the CUDA
device's name) of the machine that computed it.

Every cached evaluation row records it (:func:`describe`). It is provenance, not part of any cache
key: the same config gives slightly different floats on different CPU kinds (oneDNN picks other
instructions), so a row restored from a cache built elsewhere keeps the machine that made it, and a
chapter can say which machines its numbers came from (:func:`summary`).
"""
from __future__ import annotations

import collections
import functools
import math
import platform
from collections.abc import Iterable
from pathlib import Path

import torch

#: The fields :func:`describe` returns (and every cached evaluation row carries).
FIELDS = ("torch_version", "device_name")

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
    """``{"torch_version", "device_name"}`` of this process computing on ``device`` (default the CPU)."""
    return {"torch_version": torch.__version__, "device_name": device_name(device)}


def _known(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def summary(rows) -> str:
    """Which machines computed ``rows`` (a DataFrame with :data:`FIELDS` columns, or an iterable of
    row dicts), most rows first: ``"AMD EPYC 7B13, torch 2.14.1 (1,200 rows); Intel Xeon, torch
    2.14.1 (40 rows)"``. Rows without a record count as ``unknown machine``."""
    if hasattr(rows, "columns"):  # a DataFrame
        pairs: Iterable = zip(*(rows[f] if f in rows.columns else [None] * len(rows) for f in FIELDS))
    else:
        pairs = ((row.get("torch_version"), row.get("device_name")) for row in rows)
    counts = collections.Counter(
        (f"{dev}, torch {ver}" if _known(ver) and _known(dev) else "unknown machine") for ver, dev in pairs)
    if not counts:
        return "no rows"
    return "; ".join(f"{name} ({n:,} row{'s' if n != 1 else ''})" for name, n in counts.most_common())
