"""One instruction set for every result: torch's CPU kernels pinned to AVX2 on every x86-64 CPU.

torch picks its CPU kernels when it is loaded (ATen's vectorised kernels, oneDNN's convolutions,
MKL's BLAS; numpy's OpenBLAS does the same), so an AVX-512 machine computes other floats than an
AVX2 one and the study's discrete choices amplify them. :func:`apply` sets :data:`PIN` in
``os.environ`` *before torch is imported*; ``import prunegan`` calls it first thing (torch reads
them at its first computation, so an imported torch that has not computed yet is still pinned), and child
processes (papermill kernels, worker processes, Ray workers through :func:`env`) inherit it. A
variable the user has already set is left as it is (``os.environ.setdefault``), and
``PRUNEGAN_KERNELS=native`` turns the pin off (the pin's cost is measured that way:
``benchmarks/kernel_pin.py``).

Every cached row records the capability actually in effect (:func:`in_effect`): when it is not
the pinned one — torch computed before prunegan was imported, a variable was overridden, the CPU has no AVX2
— :func:`check` says so with a :class:`KernelPinWarning`, never silently.
"""
from __future__ import annotations

import os
import platform
import sys
import warnings
from pathlib import Path

#: The pinned kernel settings: ATen's dispatch level, oneDNN's highest ISA, MKL's conditional
#: numerical reproducibility (code path AVX2, strict), OpenBLAS's core type (numpy / scipy).
PIN = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2,STRICT",
       "OPENBLAS_CORETYPE": "Haswell"}

#: ``torch.backends.cpu.get_cpu_capability()`` when the pin holds.
PINNED_CAPABILITY = "AVX2"

#: Set to ``native`` to leave torch's kernels to choose (``pinned``, the default, pins them).
SWITCH = "PRUNEGAN_KERNELS"
SWITCH_VALUES = ("pinned", "native")

CPUINFO = Path("/proc/cpuinfo")


class KernelPinWarning(RuntimeWarning):
    """Results are being computed with other kernels than the pinned AVX2 ones."""


def mode(environ=os.environ) -> str:
    """``"pinned"`` or ``"native"`` from ``$PRUNEGAN_KERNELS`` (default pinned); ``ValueError`` otherwise."""
    value = environ.get(SWITCH, "pinned").strip().lower() or "pinned"
    if value not in SWITCH_VALUES:
        raise ValueError(f"{SWITCH} must be one of {SWITCH_VALUES}, got {environ.get(SWITCH)!r}")
    return value


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags (the first ``flags`` line of ``/proc/cpuinfo``; empty if unknown)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(errors="replace")
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return set(value.split())
    return set()


def cpu_isa(flags: set[str] | None = None) -> str:
    """The highest of ``AVX512`` / ``AVX2`` / ``below AVX2`` the CPU offers (``unknown`` off x86 or
    without ``/proc/cpuinfo``): what tells two machines of one model name apart."""
    flags = cpu_flags() if flags is None else flags
    if not flags or not is_x86():
        return "unknown"
    if "avx512f" in flags:
        return "AVX512"
    return "AVX2" if "avx2" in flags else "below AVX2"


def apply(environ=os.environ) -> bool:
    """Set :data:`PIN` in ``environ`` (keeping values already set) unless the pin is off. Returns
    whether the variables surely act: torch not loaded yet (torch reads them at its first
    computation, so a loaded torch that has computed nothing is pinned too; :func:`check` tells)."""
    if mode(environ) == "native":
        return False
    for name, value in PIN.items():
        environ.setdefault(name, value)
    return "torch" not in sys.modules


def env(environ=os.environ) -> dict[str, str]:
    """The kernel variables of this process, to hand to processes that do not inherit it (Ray workers)."""
    return {name: environ[name] for name in (*PIN, SWITCH) if name in environ}


def in_effect() -> dict[str, str]:
    """``{"cpu_capability": torch's ATen capability, "onednn_isa", "mkl_cbwr", "cpu_isa"}`` of this
    process (the oneDNN and MKL values are the variables torch read at load; ``default`` if unset)."""
    import torch

    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "onednn_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "default"),
            "mkl_cbwr": os.environ.get("MKL_CBWR", "default"), "cpu_isa": cpu_isa()}


def problem(effect: dict[str, str] | None = None, environ=os.environ) -> str | None:
    """Why this process does not compute with the pinned kernels, or ``None`` when it does (or when
    the CPU is not x86, where there is nothing to pin)."""
    if not is_x86():
        return None
    effect = in_effect() if effect is None else effect
    if effect["cpu_isa"] == "below AVX2":
        return ("this CPU has no AVX2: torch runs its default kernels here, so results will differ "
                "slightly from the README's (computed with AVX2 kernels)")
    if mode(environ) == "native":
        return f"{SWITCH}=native: torch's kernels are left to choose ({effect['cpu_capability']})"
    if effect["cpu_capability"] != PINNED_CAPABILITY:
        return (f"torch's CPU kernels run at {effect['cpu_capability']}, not {PINNED_CAPABILITY}: torch "
                "had already computed something before prunegan was imported (its kernels are chosen "
                "at the first computation), or ATEN_CPU_CAPABILITY was set to another value; import "
                "prunegan first (or export the variables of prunegan.kernels.PIN) so that results match "
                "the README's on any x86-64 CPU")
    changed = {n: environ.get(n) for n in ("ONEDNN_MAX_CPU_ISA", "MKL_CBWR") if environ.get(n) != PIN[n]}
    if changed:
        return f"kernel variables differ from the pin {PIN}: {changed}"
    return None


_warned = False


def check() -> str | None:
    """Warn once per process (:class:`KernelPinWarning`) when :func:`problem` finds one; return it."""
    global _warned
    found = problem()
    if found and not _warned:
        warnings.warn(found, KernelPinWarning, stacklevel=2)
        _warned = True
    return found
