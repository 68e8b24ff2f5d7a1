"""One instruction set for every result: torch's and numpy's CPU kernels pinned to AVX2 on every x86-64 CPU.

torch picks its CPU kernels when it is loaded (ATen's vectorised kernels, oneDNN's convolutions,
MKL's BLAS; numpy's OpenBLAS does the same), and numpy dispatches its own SIMD loops (float64
``exp``, ``log``, ``expm1``, ``log1p`` differ in their last bits between its AVX2 and AVX-512 paths),
so an AVX-512 machine computes other floats than an AVX2 one and the study's discrete choices
amplify them. :func:`apply` sets :data:`PIN` in ``os.environ`` *before torch and numpy are
imported*; ``import prunegan`` calls it first thing, and child processes (papermill kernels, worker
processes, Ray workers through :func:`env`) inherit it. torch reads its variables at its first
computation, so an imported torch that has not computed yet is still pinned; numpy reads
``NPY_DISABLE_CPU_FEATURES`` when it is imported (and ``import torch`` imports numpy), so numpy is
pinned only when prunegan — or the environment, as the Makefile sets it — comes first. A variable
the user has already set is left as it is (``os.environ.setdefault``), and
``PRUNEGAN_KERNELS=native`` turns the pin off (the pin's cost is measured that way:
``benchmarks/kernel_pin.py``).

Every cached row records the capability actually in effect (:func:`in_effect`): when it is not
the pinned one — torch computed or numpy was imported before prunegan was, a variable was
overridden, the CPU has no AVX2 — :func:`check` says so with a :class:`KernelPinWarning`, never
silently.
"""
from __future__ import annotations

import os
import platform
import sys
import warnings
from pathlib import Path

#: numpy's dispatch targets above AVX2 (numpy 2.4's names: ``X86_V3`` is its AVX2 level, ``X86_V4``
#: AVX-512 Skylake; the older ``AVX512F`` / ``AVX512_SKX`` are not dispatch targets of numpy 2.4 and
#: would change nothing). Disabling them selects the AVX2 path.
NUMPY_ABOVE_AVX2 = ("X86_V4", "AVX512_ICL", "AVX512_SPR")

#: The pinned kernel settings: ATen's dispatch level, oneDNN's highest ISA, MKL's conditional
#: numerical reproducibility (code path AVX2, strict), OpenBLAS's core type (numpy / scipy), numpy's
#: own SIMD dispatch (its targets above AVX2 disabled).
PIN = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2,STRICT",
       "OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": " ".join(NUMPY_ABOVE_AVX2)}

#: ``torch.backends.cpu.get_cpu_capability()`` when the pin holds.
PINNED_CAPABILITY = "AVX2"

#: :func:`numpy_simd` when the pin holds on an x86-64 CPU with AVX2 (numpy's AVX2 level).
PINNED_NUMPY_SIMD = "X86_V3"

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
    whether the variables surely act: neither torch nor numpy loaded yet (torch reads them at its
    first computation, so a loaded torch that has computed nothing is pinned too; numpy reads its
    variable at import, so a loaded numpy is pinned only if the variable was set before;
    :func:`check` tells)."""
    if mode(environ) == "native":
        return False
    for name, value in PIN.items():
        environ.setdefault(name, value)
    return "torch" not in sys.modules and "numpy" not in sys.modules


def env(environ=os.environ) -> dict[str, str]:
    """The kernel variables of this process, to hand to processes that do not inherit it (Ray workers)."""
    return {name: environ[name] for name in (*PIN, SWITCH) if name in environ}


def numpy_simd() -> str:
    """numpy's highest SIMD dispatch target enabled in this process (``X86_V3``, its AVX2 level, when
    the pin holds on x86-64; ``X86_V4`` / ``AVX512_ICL`` / ``AVX512_SPR`` on an AVX-512 CPU without
    it; numpy's baseline when no dispatch target is enabled; ``unknown`` if numpy does not say)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # numpy < 2
        try:
            from numpy.core import _multiarray_umath as umath
        except ImportError:
            return "unknown"
    features = getattr(umath, "__cpu_features__", {})
    enabled = [t for t in getattr(umath, "__cpu_dispatch__", ()) if features.get(t)]
    baseline = list(getattr(umath, "__cpu_baseline__", ()))
    return (enabled or baseline or ["unknown"])[-1]


def in_effect() -> dict[str, str]:
    """``{"cpu_capability": torch's ATen capability, "onednn_isa", "mkl_cbwr", "cpu_isa",
    "numpy_simd"}`` of this process (the oneDNN and MKL values are the variables torch read at load,
    ``default`` if unset; ``numpy_simd`` is :func:`numpy_simd`)."""
    import torch

    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "onednn_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "default"),
            "mkl_cbwr": os.environ.get("MKL_CBWR", "default"), "cpu_isa": cpu_isa(),
            "numpy_simd": numpy_simd()}


def problem(effect: dict[str, str] | None = None, environ=os.environ) -> str | None:
    """Why this process does not compute with the pinned kernels, or ``None`` when it does (or when
    the CPU is not x86, where there is nothing to pin)."""
    if not is_x86():
        return None
    effect = in_effect() if effect is None else effect
    if effect["cpu_isa"] == "below AVX2":
        return ("this CPU has no AVX2: torch runs its default kernels here, so results will differ "
                "slightly from the README's (computed with AVX2 kernels)")
    simd = effect.get("numpy_simd")  # absent from effects recorded before numpy was pinned
    if mode(environ) == "native":
        numpy_part = f", numpy {simd}" if simd else ""
        return (f"{SWITCH}=native: torch's and numpy's kernels are left to choose "
                f"({effect['cpu_capability']}{numpy_part})")
    found = []
    if effect["cpu_capability"] != PINNED_CAPABILITY:
        found.append(f"torch's CPU kernels run at {effect['cpu_capability']}, not {PINNED_CAPABILITY}: torch "
                     "had already computed something before prunegan was imported (its kernels are chosen "
                     "at the first computation), or ATEN_CPU_CAPABILITY was set to another value; import "
                     "prunegan first (or export the variables of prunegan.kernels.PIN) so that results "
                     "match the README's on any x86-64 CPU")
    if simd in NUMPY_ABOVE_AVX2:
        found.append(f"numpy's SIMD kernels run at {simd}, not {PINNED_NUMPY_SIMD} (AVX2): numpy was "
                     "imported before prunegan (it picks its kernels at import; `import torch` imports "
                     "numpy), or NPY_DISABLE_CPU_FEATURES was set to another value; import prunegan first "
                     f"(or export NPY_DISABLE_CPU_FEATURES=\"{PIN['NPY_DISABLE_CPU_FEATURES']}\" with the "
                     "other variables of prunegan.kernels.PIN) so that results match the README's on any "
                     "x86-64 CPU")
    if found:
        return "; ".join(found)
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
