"""kernels: torch's and numpy's CPU kernels pinned to AVX2 before they load; rows and warnings say what
is in effect."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from prunegan import kernels
from prunegan.core import provenance

AVX512_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw\n"
AVX2_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
OLD_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx\n"

needs_avx512 = pytest.mark.skipif(not kernels.is_x86() or kernels.cpu_isa() != "AVX512",
                                  reason="numpy's AVX-512 dispatch exists only on an AVX-512 CPU")
needs_avx2 = pytest.mark.skipif(not kernels.is_x86() or kernels.cpu_isa() not in ("AVX2", "AVX512"),
                                reason="the pin is about x86-64 CPUs with AVX2")


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in (*kernels.PIN, kernels.SWITCH)}
    return {**env, **extra}


def _run(code: str, **extra) -> dict:
    out = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                         env=_clean_env(**extra), check=True, timeout=120)
    return {"stdout": out.stdout.strip().splitlines()[-1], "stderr": out.stderr}


REPORT = ("import json, torch; from prunegan import kernels; "
          "print(json.dumps({**kernels.in_effect(), 'problem': kernels.problem()}))")


def test_cpu_isa_reads_the_highest_instruction_set(monkeypatch):
    monkeypatch.setattr(kernels, "is_x86", lambda: True)
    assert kernels.cpu_isa(kernels.cpu_flags(AVX512_FLAGS)) == "AVX512"
    assert kernels.cpu_isa(kernels.cpu_flags(AVX2_FLAGS)) == "AVX2"
    assert kernels.cpu_isa(kernels.cpu_flags(OLD_FLAGS)) == "below AVX2"
    assert kernels.cpu_isa(set()) == "unknown"


def test_apply_sets_the_pin_but_keeps_what_the_user_set():
    env = {"MKL_CBWR": "COMPATIBLE"}
    kernels.apply(env)
    assert env == {**kernels.PIN, "MKL_CBWR": "COMPATIBLE"}
    off = {kernels.SWITCH: "native"}
    kernels.apply(off)
    assert off == {kernels.SWITCH: "native"}
    with pytest.raises(ValueError, match="PRUNEGAN_KERNELS must be one of .*'avx512'"):
        kernels.apply({kernels.SWITCH: "avx512"})


def test_problem_names_each_way_the_pin_can_fail(monkeypatch):
    monkeypatch.setattr(kernels, "is_x86", lambda: True)
    ok = {"cpu_capability": "AVX2", "cpu_isa": "AVX512"}
    assert kernels.problem(ok, dict(kernels.PIN)) is None
    late = kernels.problem({**ok, "cpu_capability": "AVX512"}, dict(kernels.PIN))
    assert "before prunegan was imported" in late
    assert "no AVX2" in kernels.problem({"cpu_capability": "DEFAULT", "cpu_isa": "below AVX2"}, {})
    assert "native" in kernels.problem(ok, {kernels.SWITCH: "native"})
    assert "MKL_CBWR" in kernels.problem(ok, {**kernels.PIN, "MKL_CBWR": "COMPATIBLE"})
    assert kernels.problem({**ok, "numpy_simd": "X86_V3"}, dict(kernels.PIN)) is None
    for simd in kernels.NUMPY_ABOVE_AVX2:  # numpy imported before prunegan on an AVX-512 CPU
        numpy_late = kernels.problem({**ok, "numpy_simd": simd}, dict(kernels.PIN))
        assert f"numpy's SIMD kernels run at {simd}" in numpy_late and "before prunegan" in numpy_late
    both = kernels.problem({"cpu_capability": "AVX512", "cpu_isa": "AVX512", "numpy_simd": "X86_V4"},
                           dict(kernels.PIN))
    assert "torch's CPU kernels" in both and "numpy's SIMD kernels" in both
    monkeypatch.setattr(kernels, "is_x86", lambda: False)
    assert kernels.problem({"cpu_capability": "DEFAULT", "cpu_isa": "unknown"}, {}) is None


@needs_avx2
def test_torch_imported_but_idle_before_prunegan_is_still_pinned_but_its_numpy_is_not():
    out = _run("import torch; import prunegan; " + REPORT)
    effect = json.loads(out["stdout"])
    assert effect["cpu_capability"] == "AVX2"
    if kernels.cpu_isa() == "AVX512":  # `import torch` imported numpy before prunegan could pin it
        assert effect["numpy_simd"] in kernels.NUMPY_ABOVE_AVX2
        assert "numpy's SIMD kernels" in effect["problem"] and "torch's" not in effect["problem"]
        assert "KernelPinWarning" in out["stderr"]
    else:
        assert effect["numpy_simd"] == kernels.PINNED_NUMPY_SIMD and effect["problem"] is None


@needs_avx2
def test_importing_prunegan_first_pins_torch_to_avx2_in_a_fresh_process():
    out = _run("import prunegan; " + REPORT)
    effect = json.loads(out["stdout"])
    assert effect["cpu_capability"] == "AVX2" and effect["problem"] is None
    assert effect["onednn_isa"] == "AVX2" and effect["mkl_cbwr"] == kernels.PIN["MKL_CBWR"]
    assert effect["numpy_simd"] == kernels.PINNED_NUMPY_SIMD
    assert "KernelPinWarning" not in out["stderr"]


@needs_avx2
def test_torch_that_computed_before_prunegan_on_an_avx512_cpu_is_said_not_silent():
    out = _run("import torch; torch.randn(9).sum(); import prunegan; " + REPORT)
    effect = json.loads(out["stdout"])
    if kernels.cpu_isa() == "AVX512":
        assert effect["cpu_capability"] == "AVX512"
        assert "KernelPinWarning" in out["stderr"] and "before prunegan was imported" in effect["problem"]
    else:  # an AVX2 machine computes with AVX2 kernels either way
        assert effect["cpu_capability"] == "AVX2" and effect["problem"] is None


@needs_avx2
def test_native_switch_leaves_the_kernels_alone_and_says_so():
    out = _run("import prunegan; " + REPORT, PRUNEGAN_KERNELS="native")
    effect = json.loads(out["stdout"])
    assert effect["cpu_capability"] == ("AVX512" if kernels.cpu_isa() == "AVX512" else "AVX2")
    assert "native" in effect["problem"] and "KernelPinWarning" in out["stderr"]


@needs_avx2
def test_this_test_process_computes_with_the_pinned_kernels_and_rows_record_them():
    d = provenance.describe()
    assert d["cpu_capability"] == "AVX2" and d["cpu_isa"] == kernels.cpu_isa()
    assert d["numpy_simd"] == kernels.PINNED_NUMPY_SIMD
    assert kernels.problem() is None
    assert "AVX2 kernels" in provenance.summary([d])


# ------------------------------------------------------------------ numpy's own SIMD dispatch
FEATURES = ("import json; from numpy._core._multiarray_umath import __cpu_features__ as f, "
            "__cpu_dispatch__ as d; print(json.dumps({'features': f, 'dispatch': d}))")


@needs_avx2
def test_the_variable_disables_numpys_dispatch_above_avx2():
    """numpy alone, with only NPY_DISABLE_CPU_FEATURES of the pin set: every dispatch target above its
    AVX2 level (X86_V3) is off, the AVX2 one on; without it an AVX-512 CPU enables them (not blind)."""
    pinned = json.loads(_run(FEATURES, NPY_DISABLE_CPU_FEATURES=kernels.PIN["NPY_DISABLE_CPU_FEATURES"])
                        ["stdout"])
    assert set(kernels.NUMPY_ABOVE_AVX2) <= set(pinned["dispatch"])  # numpy 2.4's names are its targets
    assert not any(pinned["features"][t] for t in (*kernels.NUMPY_ABOVE_AVX2, "AVX512_SKX"))
    assert pinned["features"]["X86_V3"] and "X86_V3" in pinned["dispatch"]
    native = json.loads(_run(FEATURES)["stdout"])
    if kernels.cpu_isa() == "AVX512":
        assert native["features"]["X86_V4"] and native["features"]["AVX512_SKX"]


@needs_avx2
def test_numpy_imported_before_prunegan_on_an_avx512_cpu_is_said_not_silent():
    out = _run("import numpy; import prunegan; " + REPORT)
    effect = json.loads(out["stdout"])
    assert effect["cpu_capability"] == "AVX2"  # torch loads after prunegan: pinned
    if kernels.cpu_isa() == "AVX512":
        assert effect["numpy_simd"] in kernels.NUMPY_ABOVE_AVX2
        assert "KernelPinWarning" in out["stderr"]
        assert "numpy was imported before prunegan" in effect["problem"]
    else:  # an AVX2 machine's numpy dispatches to AVX2 either way
        assert effect["numpy_simd"] == kernels.PINNED_NUMPY_SIMD and effect["problem"] is None
    # the variable exported before the process starts (as the Makefile does) pins a numpy loaded first
    out = _run("import numpy; import prunegan; " + REPORT, **kernels.PIN)
    effect = json.loads(out["stdout"])
    assert effect["numpy_simd"] == kernels.PINNED_NUMPY_SIMD and effect["problem"] is None
    assert "KernelPinWarning" not in out["stderr"]


#: The float64 functions whose bits differ between numpy's AVX2 and AVX-512 paths, on a fixed array
#: (run here and in fresh processes; it needs ``np`` and ``hashlib`` and leaves ``digest``).
EXP_LOG = ("x = np.linspace(-5.0, 5.0, 1_000_001); digest = hashlib.sha256(b''.join(f(a).tobytes() for f, a "
           "in ((np.exp, x), (np.expm1, x), (np.log, x + 5.5), (np.log1p, x + 5.5)))).hexdigest()[:16]")

#: EXP_LOG's digest on numpy's AVX2 path (numpy 2.4.6; computed 2026-12-06 on a 2-core AMD EPYC with
#: AVX-512 under the pin, where numpy's native AVX-512 path gives dff6485dff9dcb92).
PINNED_NUMPY_DIGEST = "0139c3b603971842"


def _numpy_digest_here() -> str:
    scope = {"np": np, "hashlib": hashlib}
    exec(EXP_LOG, scope)
    return scope["digest"]


def _numpy_digest_in_a_fresh_process(first: str = "", **extra) -> str:
    return _run(f"{first}import hashlib, numpy as np; {EXP_LOG}; print(digest)", **extra)["stdout"]


@needs_avx2
def test_numpys_exp_and_log_have_the_avx2_bits_with_prunegan_imported():
    """In this process (conftest imports prunegan first) and in a fresh one that imports prunegan
    before numpy, numpy's float64 exp / expm1 / log / log1p give the AVX2 path's bits."""
    assert _numpy_digest_here() == PINNED_NUMPY_DIGEST, (
        "numpy's exp/log computed other bits than its AVX2 path: numpy's version changed or its SIMD "
        "dispatch is not pinned (python -c 'from prunegan import kernels; print(kernels.in_effect())')")
    assert _numpy_digest_in_a_fresh_process("import prunegan; ") == PINNED_NUMPY_DIGEST


@needs_avx512
def test_numpys_avx512_path_computes_other_bits():
    """The digest is not blind: numpy's native AVX-512 path (numpy imported without the pin) differs."""
    assert _numpy_digest_in_a_fresh_process() != PINNED_NUMPY_DIGEST
    assert _numpy_digest_in_a_fresh_process("import numpy; import prunegan; ") != PINNED_NUMPY_DIGEST


# ------------------------------------------------------------------ the pin fixes the GAN's arithmetic
#: Weights digest of tests/kernel_digest.py's 40-step generator fit under the AVX2 pin (torch 2.14.1;
#: computed 2026-12-03 on a 2-core AMD EPYC with AVX-512; recomputed the same day when the probe
#: features joined FEATURES). A kernel change (another torch, a pin that
#: does not hold) shows up here first; every number of the book would move with it.
PINNED_DIGEST = "4090ba12e70a2a8b"


def test_a_small_generator_fit_has_the_pinned_digest():
    import kernel_digest

    assert kernels.problem() is None, kernels.problem()
    assert kernel_digest.digest() == PINNED_DIGEST, (
        "the pinned kernels computed another generator: torch's version or its CPU kernels changed "
        "(python -c 'from prunegan import kernels; print(kernels.in_effect())')")


@pytest.mark.skipif(kernels.cpu_isa() != "AVX512", reason="on a CPU without AVX-512 native kernels are AVX2")
@pytest.mark.parametrize("setting", [{kernels.SWITCH: "native"}, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
                                     {"MKL_CBWR": "COMPATIBLE"}])
def test_other_kernels_compute_another_generator(setting):
    """The digest is not blind: each of these (on an AVX-512 CPU) changes the same fit's weights."""
    script = os.path.join(os.path.dirname(__file__), "kernel_digest.py")
    env = _clean_env(**setting)  # the pin this session inherited removed, then this setting
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, env=env, check=True,
                         timeout=300)
    assert out.stdout.strip().splitlines()[-1] != PINNED_DIGEST
