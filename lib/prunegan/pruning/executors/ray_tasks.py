"""The ``"ray"`` executor: one Ray task per group of masks (:func:`prunegan.pruning.fused.groups`), one
CPU each (:mod:`.ray_connect` joins Ray).

The trained model and the data go to Ray's object store once per call (``ray.put``) and every worker
process deserialises them once, not once per mask. ``workers`` caps the tasks in flight at once
(default: all of them; Ray's scheduler then runs as many as the cluster has CPUs). Each row names the
torch version and the processor of the node that computed it (:mod:`prunegan.core.provenance`).

Nothing is lost when something fails: ``on_result(i, row)`` is called in the driver for each mask
of a group as soon as the group completes. A task whose worker process or node dies is retried by
Ray (:data:`RAY_MAX_RETRIES` times) and its rows are the same; if it still fails, the error is raised
after the outstanding tasks are stopped. An exception in the driver (``KeyboardInterrupt`` from
Ctrl-C included) stops every outstanding task before it propagates (:func:`_stop`).
"""
from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any

from torch import nn

from ...core import provenance
from ...core.masks import ChannelMask
from ...data import Dataset
from ...train import TrainConfig, resolve_device
from .common import EXECUTORS, Execution, lpt_order, progress_bar
from .ray_connect import join

logger = logging.getLogger(__name__)

#: Times Ray retries a task whose worker process or node died (a Python exception is not retried:
#: the evaluation is deterministic, so it would fail again).
RAY_MAX_RETRIES = 3
#: How often (seconds) the driver wakes up while it waits for Ray results (so Ctrl-C is seen at once).
POLL_S = 0.5

#: In a Ray worker process: the model and data of the call whose object references it last fetched.
_FETCHED: dict = {}


def _ray_evaluate(shared: list, masks: list[ChannelMask], configs: list[TrainConfig], form: str,
                  evaluate: Callable[..., list[dict]]) -> tuple[list[dict], str]:
    """The body of one Ray task: one group of masks evaluated
    (:func:`~prunegan.pruning.engine.evaluate_group`) on the model and data that ``shared`` (object
    references) points to, fetched once per worker process. Returns the rows and the node that
    computed them; each row names that node's torch version and processor
    (:func:`prunegan.core.provenance.describe`)."""
    import ray

    key = tuple(ref.hex() for ref in shared)
    if _FETCHED.get("key") != key:
        _FETCHED.clear()
        model, data = ray.get(list(shared))
        _FETCHED.update(key=key, model=model, data=data)
    rows = evaluate(_FETCHED["model"], masks, _FETCHED["data"], configs, form=form)
    here = provenance.describe(resolve_device(configs[0].device))  # this node's torch and processor
    return [{**row, **here} for row in rows], ray.get_runtime_context().get_node_id()


def _stop(ray) -> None:
    """Stop every task this process still has on Ray by disconnecting from it: a cluster kills the
    tasks of a driver that leaves (its CPUs are free again at once), and a local instance started
    here stops. (Not ``ray.cancel``: in Ray 2.60 cancelling a task whose result is already on its way
    can abort the calling process, "Check failed: it != submissible_tasks_.end()", seen here with a
    Ctrl-C; ray-project/ray#54846.) The next call connects again."""
    try:
        ray.shutdown()
    except Exception as exc:  # pragma: no cover - nothing more can be done
        logger.warning("ray.shutdown() failed while stopping the outstanding tasks: %s", exc)


@EXECUTORS.register("ray")
def ray_executor(model: nn.Module, masks: list[ChannelMask], data: Dataset, configs: list[TrainConfig],
                 groups: list[list[int]], *, evaluate: Callable[..., list[dict]], threads: int | None,
                 form: str, execution: Execution,
                 on_result: Callable[[int, dict], None] | None) -> list[dict]:
    """Ray tasks, one group of masks and one CPU each (and one GPU where the retraining config resolves
    to CUDA here; not tested: no GPU on the project's machines). See the module docstring."""
    ray = join(execution.address, execution.workers)
    shared = [ray.put(copy.deepcopy(model).cpu().eval()), ray.put(data.to("cpu"))]
    task = ray.remote(_ray_evaluate)
    order = iter(lpt_order(masks, groups))
    limit = execution.workers or len(groups)
    pending: dict[Any, list[int]] = {}
    results: list[dict | None] = [None] * len(masks)
    nodes: set[str] = set()
    start = time.perf_counter()

    def fill() -> None:
        while len(pending) < limit:
            g = next(order, None)
            if g is None:
                return
            group = groups[g]
            gpus = 1 if resolve_device(configs[group[0]].device).type == "cuda" else 0
            options = dict(num_cpus=1, num_gpus=gpus, max_retries=RAY_MAX_RETRIES, retry_exceptions=False)
            ref = task.options(**options).remote(shared, [masks[i] for i in group],
                                                 [configs[i] for i in group], form, evaluate)
            pending[ref] = group

    try:
        with progress_bar(len(masks), execution.progress) as bar:
            fill()
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    group = pending.pop(ref)
                    rows, node = ray.get(ref)
                    nodes.add(node)
                    for i, row in zip(group, rows):
                        results[i] = row
                        if on_result is not None:
                            on_result(i, row)
                    bar.update(len(group))
                fill()
    except BaseException:  # Ctrl-C, a failed task, an error in on_result: stop the others
        if pending:
            _stop(ray)
        raise
    logger.info("evaluated %d masks with Ray on %d node(s) in %.1f s", len(masks), len(nodes),
                time.perf_counter() - start)
    return results
