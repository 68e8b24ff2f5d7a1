"""What every executor shares: the registry of executors by name, the :class:`Execution` that says
where masks are evaluated (checked once, where it is built), the default number of workers, the order
groups are handed out in, and the progress bar."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...core.masks import ChannelMask
from ...core.registry import Registry
from ...core.validate import check_int

#: Executor name → function ``(model, masks, data, configs, groups, *, evaluate, threads, form,
#: execution, on_result) -> list of rows``, called with inputs already checked. ``groups`` are lists
#: of mask indices evaluated together (one task each); ``evaluate(model, masks, data, configs, form=,
#: threads=)`` returns one row per mask of a group (:func:`prunegan.pruning.engine.evaluate_group`,
#: passed in so that no executor imports the engine that calls it); ``threads`` is the intra-op
#: threads of a worker process.
EXECUTORS: Registry[Callable[..., list[dict]]] = Registry("executor")


@dataclass(frozen=True)
class Execution:
    """Where and how masks are evaluated: built once at the entry (a notebook, a script) and passed on
    unopened by every layer (sweeps, banks, the runner) down to the executor.

    ``kind``: an executor name (:func:`names`: ``"local"`` or ``"ray"``); ``address``: the Ray
    cluster (``None``: ``$RAY_ADDRESS`` or a local Ray instance; only with ``kind="ray"``);
    ``workers``: worker processes / Ray tasks in flight (``None``: one per core); ``progress``: show
    progress bars. The numbers depend on none of them. Checked when built (``ValueError``)."""

    kind: str = "local"
    address: str | None = None
    workers: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        check(self.kind, self.address)
        check_int("workers", self.workers, 1, allow_none=True)
        if not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True or False, got {self.progress!r}")


def names() -> list[str]:
    """The valid executor names."""
    return EXECUTORS.names()


def check(executor: object, ray_address: object = None) -> None:
    """``ValueError`` unless ``executor`` is a known name (the message lists them) and ``ray_address``
    is ``None`` or, with ``executor="ray"``, a non-empty string."""
    EXECUTORS.get(executor)
    if ray_address is None:
        return
    if executor != "ray":
        raise ValueError(f"ray_address={ray_address!r} is only used with executor='ray', "
                         f"got executor={executor!r}")
    if not isinstance(ray_address, str) or not ray_address.strip():
        raise ValueError("ray_address must be None, 'auto' or a cluster address such as '10.0.0.1:6379', "
                         f"got {ray_address!r}")


def default_workers() -> int:
    """Worker processes the local executor uses by default: the CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def lpt_order(masks: Sequence[ChannelMask], groups: Sequence[Sequence[int]]) -> list[int]:
    """Indices of ``groups``, the most work first (longest-processing-time-first: kept channels summed
    over a group's masks), so no worker is left with a long job at the end while the others idle."""
    return sorted(range(len(groups)), key=lambda g: (-sum(masks[i].n_kept for i in groups[g]), g))


def progress_bar(total: int, progress: bool):
    """A tqdm bar over ``total`` masks (disabled unless ``progress``)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="masks", unit="mask", disable=not progress)
