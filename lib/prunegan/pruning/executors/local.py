"""The ``"local"`` executor: this machine. On the CPU the groups of masks are spread over worker
processes, one per core and one thread each (forked where possible, so they start at once and inherit
the model and the data); with one worker, or on CUDA, they are evaluated in this process one after another."""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from ...core.masks import ChannelMask
from ...data import Dataset
from ...train import TrainConfig, resolve_device
from .common import EXECUTORS, Execution, default_workers, lpt_order, progress_bar

#: What a worker process of the pool holds: the model, the data and the evaluation it was started
#: with (set once per process by :func:`_worker_init`).
_WORKER: dict = {}


def _worker_init(model: nn.Module, data: Dataset, threads: int | None,
                 evaluate: Callable[..., list[dict]]) -> None:
    if threads is not None:
        torch.set_num_threads(threads)
    _WORKER.update(model=model, data=data, evaluate=evaluate)


def _worker_evaluate(masks: list[ChannelMask], configs: list[TrainConfig], form: str) -> list[dict]:
    return _WORKER["evaluate"](_WORKER["model"], masks, _WORKER["data"], configs, form=form, threads=None)


@EXECUTORS.register("local")
def local(model: nn.Module, masks: list[ChannelMask], data: Dataset, configs: list[TrainConfig],
          groups: list[list[int]], *, evaluate: Callable[..., list[dict]], threads: int | None, form: str,
          execution: Execution, on_result: Callable[[int, dict], None] | None) -> list[dict]:
    """Worker processes on this machine, one group of masks at a time each (see the module docstring)."""
    on_cpu = all(resolve_device(c.device).type == "cpu" for c in configs) and data.device.type == "cpu"
    n = min(execution.workers or default_workers(), len(groups)) if on_cpu else 1
    results: list[dict | None] = [None] * len(masks)

    def done(group: list[int], rows: list[dict], bar) -> None:
        for i, row in zip(group, rows):
            results[i] = row
            if on_result is not None:
                on_result(i, row)
        bar.update(len(group))

    if n <= 1:
        with progress_bar(len(masks), execution.progress) as bar:
            for group in groups:
                done(group, evaluate(model, [masks[i] for i in group], data, [configs[i] for i in group],
                                     form=form), bar)
        return results

    import concurrent.futures as cf
    import multiprocessing as mp

    # Workers are forked where possible (they inherit model and data without copying or re-importing
    # torch); like DataLoader workers they run with one thread, which is what makes forking a process
    # that has used OpenMP safe. Elsewhere (or once this process has initialised CUDA, which a forked
    # child cannot use) they are spawned.
    fork_ok = "fork" in mp.get_all_start_methods() and not torch.cuda.is_initialized()
    method = "fork" if fork_ok else "spawn"
    cpu_model = copy.deepcopy(model).cpu().eval()
    with cf.ProcessPoolExecutor(n, mp_context=mp.get_context(method), initializer=_worker_init,
                                initargs=(cpu_model, data, threads, evaluate)) as pool, \
            progress_bar(len(masks), execution.progress) as bar:
        futures = {}
        for g in lpt_order(masks, groups):
            group = groups[g]
            futures[pool.submit(_worker_evaluate, [masks[i] for i in group], [configs[i] for i in group],
                                form)] = group
        for future in cf.as_completed(futures):
            done(futures[future], future.result(), bar)
    return results
