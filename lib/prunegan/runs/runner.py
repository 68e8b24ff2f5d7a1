"""The one runner: jobs → cached rows → DataFrame.

A :class:`Job` is one mask to prune a trained baseline with, its retraining config and the labels its
row carries. :func:`run` evaluates every job with the engine (:mod:`prunegan.pruning.engine`: in
fused groups, over worker processes on the CPU or Ray tasks, as its
:class:`~prunegan.pruning.executors.Execution` says) and returns one tidy row per
job (:func:`result_row`).

Evaluations are cached by content: ``results/evals_<hash of (baseline config, form, version)>/``
holds one JSON file per (mask, retraining config), written atomically as soon as the mask is done. A
result therefore never depends on which experiment asked for it: identical jobs are evaluated once
(within a call and across experiments: a bank, a sweep and a comparison share results), an
interrupted run resumes where it stopped, and a grid that grows recomputes nothing already done.
Each stored row also records the torch version and the processor that computed it
(:mod:`prunegan.core.provenance`): provenance, not part of the key, kept as stored when read back.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..core import provenance
from ..core.masks import ChannelMask
from ..core.store import Run, config_digest
from ..pruning.engine import check_form, check_request, evaluate_checked
from ..pruning.executors import Execution
from ..pruning.surgery import count
from ..train import TrainConfig, resolve_device
from .baseline import Baseline


@dataclass(frozen=True)
class Job:
    """Evaluate ``mask`` (prune, test, retrain with ``retrain``, test); its row carries ``labels``."""

    mask: ChannelMask
    retrain: TrainConfig
    labels: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.mask, ChannelMask):
            raise ValueError(f"Job.mask must be a ChannelMask, got {type(self.mask).__name__}")
        if not isinstance(self.retrain, TrainConfig):
            raise ValueError(f"Job.retrain must be a TrainConfig, got {self.retrain!r}")

    def cache_name(self) -> str:
        """File of this job's evaluation in its baseline's cache folder."""
        return f"rows/{config_digest({'mask': self.mask.key(), 'retrain': self.retrain}, n=24)}.json"


def evaluations(base: Baseline, form: str = "compact") -> Run:
    """The cache folder of every evaluation on ``base``."""
    return _evaluations(base, check_form(form))


def _evaluations(base: Baseline, form: str) -> Run:
    return Run("evals", {"baseline": base.config, "form": form})


def result_row(base: Baseline, mask: ChannelMask, result: Mapping, *, dense: tuple[int, int] | None = None,
               **labels) -> dict:
    """One tidy result row: ``labels`` + the engine's ``result`` (pruned / retrained accuracy, MACs,
    parameters, seconds; from the cache also ``torch_version`` and ``device_name``, the machine that
    computed it, :mod:`prunegan.core.provenance`) + original accuracy, achieved sparsity, kept channels per
    layer, collapsed layers and the mask itself (layer → list of 0/1). ``dense``: the dense network's (MACs,
    parameters) if already counted (counting costs a few milliseconds a row)."""
    dense_macs, dense_params = dense if dense is not None else count(base.model)
    collapsed = mask.collapsed_layers()
    return {**labels,
            "achieved_sparsity": mask.sparsity, "n_pruned": mask.n_pruned, "n_channels": mask.n_channels,
            "original_acc": base.accuracy, **result, "dense_macs": dense_macs, "dense_params": dense_params,
            "n_collapsed": len(collapsed), "collapsed_layers": collapsed,
            "kept": mask.kept_per_layer(), "key": mask.key(), "mask": mask.to_dict()}


def rows_to_frame(rows: list[dict]) -> pd.DataFrame:
    """Result rows → DataFrame; adds ``collapsed`` (any layer lost all channels) and ``macs_kept`` /
    ``params_kept`` (compact network's count over the dense network's, in [0, 1])."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["collapsed"] = df["n_collapsed"] > 0
    df["macs_kept"] = df["macs"] / df["dense_macs"]
    df["params_kept"] = df["params"] / df["dense_params"]
    return df


RESULT_FIELDS = ("pruned_acc", "retrained_acc", "retrained_val_acc", "macs", "params", "seconds")


def _result(row: Mapping) -> dict:
    """The result fields and the provenance of an evaluation, in one order whether just computed or
    read back from the cache (a field the row lacks, e.g. in an older file, is ``None``)."""
    return {k: row.get(k) for k in RESULT_FIELDS + provenance.FIELDS}


def run(base: Baseline, jobs: Sequence[Job], *, form: str = "compact",
        execution: Execution = Execution()) -> pd.DataFrame:
    """Evaluate ``jobs`` on ``base`` (cached ones are read back) → one row per job, in order.

    ``execution``: where the masks are evaluated (:class:`~prunegan.pruning.executors.Execution`:
    this machine's cores by default, or Ray); the numbers do not depend on it. Every input is checked
    once, here, before the cache is read (:func:`prunegan.pruning.engine.check_request`).

    Only jobs not in the cache are sent to the engine, in its groups
    (:func:`prunegan.pruning.engine.groups`), and each row is cached here as soon as its group is
    done. The groups are stable: a run interrupted and started again sends the groups it had not
    finished, unchanged, so it gives the same numbers as one that was not interrupted (a mask's fused
    result can depend on the other masks of its group in the last bits)."""
    jobs = list(jobs)
    for job in jobs:
        if not isinstance(job, Job):
            raise ValueError(f"run() takes Job objects, got {type(job).__name__}")
    if not isinstance(execution, Execution):
        raise ValueError(f"execution must be a prunegan.pruning.executors.Execution, got {execution!r}")
    check_request(base.model, [j.mask for j in jobs], [j.retrain for j in jobs], form=form)
    cache = _evaluations(base, form)
    results: dict[str, dict] = {}
    todo: dict[str, Job] = {}
    for job in jobs:
        name = job.cache_name()
        if name in results or name in todo:
            continue
        stored = cache.read_json(name)
        # provenance as stored: who computed it
        if stored is not None and stored.get("key") == job.mask.key():
            results[name] = _result(stored)
        else:
            todo[name] = job
    names, pending = list(todo), list(todo.values())

    def store(i: int, result: dict) -> None:
        # The machine that computed the row (a Ray task reports its own node's; see executors).
        row = _result({**provenance.describe(resolve_device(pending[i].retrain.device)), **result})
        cache.write_json(names[i], {"key": pending[i].mask.key(), "retrain": pending[i].retrain, **row})
        results[names[i]] = row

    if pending:
        evaluate_checked(base.model, [j.mask for j in pending], base.data, [j.retrain for j in pending],
                         form=form, execution=execution, on_result=store)
    dense = count(base.model)
    return rows_to_frame([result_row(base, j.mask, results[j.cache_name()], dense=dense, **j.labels)
                          for j in jobs])
