"""The mask-evaluation engine: prune → evaluate → retrain → evaluate, the one code path that sweeps,
trials, the mask bank and the GAN's evaluation all use.

A mask is retrained in its *compact* form (channels physically removed), so a 90 %-sparse network
costs a fraction of the dense one; ``form="masked"`` retrains the masked dense network instead and
gives the same result up to floating-point rounding (tested).

Speed on a CPU (the measurements behind each choice are in ``benchmarks/README.md``):

- data are in-memory, pre-normalised tensors (no ``DataLoader``, no per-sample transforms);
- the pruned network is compact and stored ``channels_last`` (oneDNN's fast layout for these small
  convolutions);
- each evaluation runs with **one** intra-op thread (:data:`prunegan.train.CPU_THREADS`):
  LeNet-sized operations are too small to share well between threads, and on a busy machine OpenMP
  threads wait for each other. The thread count is set for the duration of the call and restored
  afterwards;
- :func:`evaluate_masks` retrains the masks of one network that share a retraining config together,
  as one network (:mod:`prunegan.pruning.fused`): a sparse LeNet-5's step is mostly per-operation
  overhead, paid once per group instead of once per mask;
- and spreads the groups over worker processes (one thread each), so every core works on its own
  group: on this machine (``executor="local"``) or as Ray tasks on a cluster (``executor="ray"``,
  :mod:`prunegan.pruning.executors`). Results do not depend on the executor nor on the number of
  workers. Its inputs are checked once, at the entry (:func:`check_request`).

On CUDA the network and data stay on the GPU and none of the CPU settings apply.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..core.masks import ChannelMask
from ..data import Dataset
from ..train import CPU_THREADS, TrainConfig, cpu_threads, evaluate, fit, resolve_device
from . import executors, fused, surgery
from .executors import Execution

FORMS = ("compact", "masked")

#: The default retraining after pruning (every config's ``retrain`` default): 3 epochs of Adam,
#: lr 1e-3, batch 64 (the original study's setting). Larger batches are a little faster but lose
#: accuracy on random masks at high sparsity, the regime the study is about
#: (``benchmarks/retrain_batch_size.py``; numbers in ``benchmarks/README.md``), so the batch stays 64.
DEFAULT_RETRAIN = TrainConfig(epochs=3, batch_size=64, lr=1e-3)


def pruned_network(model: nn.Module, mask: ChannelMask, form: str = "compact") -> nn.Module:
    """A pruned copy of ``model``: physically smaller (``"compact"``) or masked dense (``"masked"``)."""
    check_form(form)
    return surgery.compact(model, mask) if form == "compact" else surgery.apply(model, mask)


def _fast_layout(net: nn.Module, device: torch.device) -> nn.Module:
    """``channels_last`` weights on the CPU (oneDNN then runs the convolutions in its fast layout;
    the inputs need not be converted). Only changes how weights are stored, not their values."""
    if device.type == "cpu" and any(p.dim() == 4 for p in net.parameters()):
        net = net.to(memory_format=torch.channels_last)
    return net


def _threads_for(retrain: TrainConfig, threads: int | None | str) -> int | None:
    if threads == "auto":
        return CPU_THREADS if resolve_device(retrain.device).type == "cpu" else None
    return threads


def _prune_and_retrain(model: nn.Module, mask: ChannelMask, data: Dataset, retrain: TrainConfig,
                       form: str) -> tuple[nn.Module, float, tuple[int, int]]:
    """The retrained network, its accuracy before retraining and the compact network's (MACs, params)."""
    net = pruned_network(model, mask, form)
    macs_params = surgery.count(net if form == "compact" else surgery.compact(model, mask))
    net = _fast_layout(net, resolve_device(retrain.device))
    pruned_acc = evaluate(net, data)
    fit(net, data, retrain, eval_every_epoch=False)
    return net, pruned_acc, macs_params


def evaluate_mask(model: nn.Module, mask: ChannelMask, data: Dataset, retrain: TrainConfig, *,
                  form: str = "compact", threads: int | None | str = "auto") -> dict:
    """Prune the trained ``model`` with ``mask``, retrain a copy with ``retrain`` and return
    ``{"pruned_acc", "retrained_acc" (test accuracy in [0, 1]), "retrained_val_acc" (on the
    validation split; ``None`` without one), "macs", "params" (of the compact network, one 1×28×28
    image), "seconds"}``. ``model`` is not changed.

    ``threads``: intra-op threads during the call (``"auto"``: :data:`CPU_THREADS` on the CPU,
    untouched on CUDA; ``None``: leave torch's setting alone); restored afterwards."""
    start = time.perf_counter()
    with cpu_threads(_threads_for(retrain, threads)):
        net, pruned_acc, (macs, params) = _prune_and_retrain(model, mask, data, retrain, form)
        retrained_acc = evaluate(net, data)
        val_acc = evaluate(net, data, split="val") if data.y_val is not None else None
    return {"pruned_acc": pruned_acc, "retrained_acc": retrained_acc, "retrained_val_acc": val_acc,
            "macs": macs,
            "params": params, "seconds": time.perf_counter() - start}


def retrained(model: nn.Module, mask: ChannelMask, data: Dataset, retrain: TrainConfig, *,
              form: str = "compact", threads: int | None | str = "auto") -> nn.Module:
    """The pruned and retrained network itself (for inspection; ``evaluate_mask`` for numbers).
    Same computation as :func:`evaluate_mask`, so the same accuracy."""
    with cpu_threads(_threads_for(retrain, threads)):
        net, _, _ = _prune_and_retrain(model, mask, data, retrain, form)
    return net


# ---------------------------------------------------------------------------------------------
# Many masks: in groups (fused where possible, prunegan.pruning.fused), spread over worker processes
# by an executor (prunegan.pruning.executors).

#: Worker processes the local executor uses by default: the CPU cores this process may use.
default_workers = executors.default_workers


def evaluate_group(model: nn.Module, masks: Sequence[ChannelMask], data: Dataset,
                   configs: Sequence[TrainConfig], *, form: str = "compact",
                   threads: int | None | str = "auto") -> list[dict]:
    """:func:`evaluate_mask`'s row for each mask of one group of :func:`groups`: one mask alone as
    :func:`evaluate_mask` does it; several (all :func:`~prunegan.pruning.fused.fusable`, one config)
    retrained together as one network (:func:`prunegan.pruning.fused.evaluate_group`), equal to one by
    one up to float rounding (``tests/test_fused.py``)."""
    if len(masks) == 1:
        return [evaluate_mask(model, masks[0], data, configs[0], form=form, threads=threads)]
    if any(c != configs[0] for c in configs) or not all(fused.fusable(model, m, form) for m in masks):
        raise ValueError("a group of several masks must share one retraining config and be fusable "
                         "(see prunegan.pruning.fused.groups)")
    with cpu_threads(_threads_for(configs[0], threads)):
        return fused.evaluate_group(model, masks, data, configs[0])


def groups(model: nn.Module, masks: Sequence[ChannelMask], configs: Sequence[TrainConfig], *,
           form: str = "compact") -> list[list[int]]:
    """The groups :func:`evaluate_masks` evaluates ``masks`` in (lists of indices; see
    :func:`prunegan.pruning.fused.groups`). They depend only on the masks and their configs, so the
    same jobs always give the same groups and the same numbers; and removing whole groups leaves
    the others as they were (a resumed run evaluates the groups it had not finished, unchanged)."""
    return fused.groups(model, masks, configs, form)


def evaluate_masks(model: nn.Module, masks: Sequence[ChannelMask], data: Dataset,
                   retrain: TrainConfig | Sequence[TrainConfig], *, form: str = "compact",
                   workers: int | None = None, progress: bool = False,
                   on_result: Callable[[int, dict], None] | None = None,
                   executor: str = "local", ray_address: str | None = None,
                   execution: Execution | None = None) -> list[dict]:
    """One :func:`evaluate_mask` row for every mask, in order. ``retrain`` is one config for all masks
    or one per mask (e.g. a different seed per trial).

    Masks of the :class:`~prunegan.models.LeNet5` family that share a retraining config are retrained
    together, a group at a time, as one network (:mod:`prunegan.pruning.fused`; each mask's result
    is its own retraining, equal to one by one up to float rounding); any other mask alone.

    Where: ``execution`` (an :class:`~prunegan.pruning.executors.Execution`), or the same as keywords:
    ``executor="local"`` (the default): on the CPU the groups are spread over ``workers`` processes
    (default :func:`default_workers`), each with one thread; ``workers=1`` evaluates them here, one
    after another. On CUDA they are evaluated here. ``executor="ray"``: Ray tasks, on a local Ray
    instance (``ray_address=None``; ``workers`` CPUs) or on the cluster at ``ray_address`` (an
    address, ``"auto"``, or ``$RAY_ADDRESS``); see :mod:`prunegan.pruning.executors`. The results are
    the same whatever the executor and the number of workers. ``on_result(i, row)`` is called here,
    in the calling process, as soon as mask ``i``'s group is done, e.g. to cache each row at once so
    that an interrupted run loses nothing finished.
    """
    if execution is None:
        execution = Execution(kind=executor, address=ray_address, workers=workers, progress=progress)
    masks = list(masks)
    configs = check_request(model, masks, retrain, form=form)
    return evaluate_checked(model, masks, data, configs, form=form, execution=execution, on_result=on_result)


def check_form(form: object) -> str:
    """``form`` if it is one of :data:`FORMS`, else ``ValueError`` listing them."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    return form


def check_request(model: nn.Module, masks: Sequence[ChannelMask],
                  retrain: TrainConfig | Sequence[TrainConfig], *,
                  form: str = "compact") -> list[TrainConfig]:
    """Check the inputs of :func:`evaluate_masks` once, before any work: the form, one retraining
    config or one per mask, and every mask against ``model`` (where they run, an
    :class:`~prunegan.pruning.executors.Execution`, is checked when it is built). Returns the
    retraining config of each mask. ``ValueError`` naming what is wrong."""
    check_form(form)
    masks = list(masks)
    configs = list(retrain) if isinstance(retrain, Sequence) else [retrain] * len(masks)
    if len(configs) != len(masks):
        raise ValueError(f"got {len(masks)} masks but {len(configs)} retrain configs; "
                         "give one config or one per mask")
    for config in configs:
        if not isinstance(config, TrainConfig):
            raise ValueError(f"retrain must be a TrainConfig or one per mask, got {config!r}")
    for mask in masks:
        mask.check_matches(model)
    return configs


def evaluate_checked(model: nn.Module, masks: list[ChannelMask], data: Dataset, configs: list[TrainConfig], *,
                     form: str, execution: Execution,
                     on_result: Callable[[int, dict], None] | None) -> list[dict]:
    """:func:`evaluate_masks` for inputs that :func:`check_request` has already checked (``configs``:
    one per mask, as it returns them). The runner checks all its jobs once at its entry, before it
    reads its cache, and sends only the jobs that are not cached here."""
    if not masks:
        return []
    run = executors.EXECUTORS.get(execution.kind)
    return run(model, masks, data, configs, groups(model, masks, configs, form=form), evaluate=evaluate_group,
               threads=CPU_THREADS, form=form, execution=execution, on_result=on_result)
