"""Helpers of the Ray executor tests (test_executors.py, test_executors_cluster.py).

The forward hooks make a Ray worker fail once, from inside a running task: a test arms them by
creating ``marker``; the first training step (a forward pass in train mode, i.e. during the
retraining) in another process than the test's consumes the marker and kills its own process
(``_die_once``) or raises (``_raise_once``). Ray's workers cannot import this file, so
:func:`ray_with_hooks` has it pickled by value.
"""
from __future__ import annotations

import copy
import functools
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from prunegan.core import provenance
from prunegan.pruning import executors, strategies

CLOSED = "127.0.0.1:1"  # a loopback port nothing listens on


def import_ray():
    """``ray``; where it is missing the test fails (Ray is pinned), it is not skipped."""
    try:
        import ray
    except ImportError:  # pragma: no cover - Ray is pinned
        pytest.fail("Ray is pinned in requirements.txt but not installed: "
                    f"pip install {executors.RAY_REQUIREMENT}")
    return ray


def ray_with_hooks():
    """``ray``, with this module's hooks pickled by value (so Ray's workers can run them)."""
    ray = import_ray()
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return ray


def without_seconds(rows):
    """The rows without what differs between two runs of the same evaluation: the wall time, and the
    machine that computed it (a Ray task names its node's; :mod:`prunegan.core.provenance`)."""
    return [{k: v for k, v in r.items() if k != "seconds" and k not in provenance.FIELDS} for r in rows]


def mask_list(model, n=4):
    sparsities = (0.2, 0.5, 0.7, 0.9, 0.3, 0.6, 0.8, 0.4)
    return [strategies.prune(model, "l1" if i == 0 else "random", sparsities[i % 8], seed=i)
            for i in range(n)]


def _die_once(marker: str, driver_pid: int, module, inputs, output) -> None:
    if os.getpid() == driver_pid or not module.training:
        return
    try:
        os.unlink(marker)
    except FileNotFoundError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


def _raise_once(marker: str, driver_pid: int, module, inputs, output) -> None:
    if os.getpid() == driver_pid or not module.training:
        return
    try:
        os.unlink(marker)
    except FileNotFoundError:
        return
    raise RuntimeError("boom inside a Ray task")


def with_hook(model, hook, marker):
    """A copy of ``model`` whose first conv runs ``hook`` (``_die_once`` / ``_raise_once``)."""
    hooked = copy.deepcopy(model)
    hooked.conv1.register_forward_hook(functools.partial(hook, str(marker), os.getpid()))
    return hooked


def arm_after_first(marker, inner=None):
    """An ``on_result`` that records the indices and arms ``marker`` once the first row has arrived
    (so the failure hits a task that runs after others have finished); ``inner`` is called too."""
    seen = []

    def on_result(i, row):
        seen.append(i)
        if len(seen) == 1:
            Path(marker).touch()
        if inner is not None:
            inner(i, row)

    return on_result, seen


def wait_until_idle(ray, timeout):
    """Seconds until every CPU of the connected cluster is free (``None`` if not within ``timeout``)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if ray.available_resources().get("CPU", 0) == ray.cluster_resources()["CPU"]:
            return time.perf_counter() - start
        time.sleep(0.05)
    return None
