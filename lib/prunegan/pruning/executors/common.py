"""What every executor shares: the registry of executors by name, the check of the executor's
arguments (done once, at the entry: :func:`prunegan.pruning.engine.check_request`), the default
number of workers, the order masks are handed out in, and the progress bar."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from ...core.masks import ChannelMask
from ...core.registry import Registry

#: Executor name → function ``(model, masks, data, configs, *, evaluate, threads, form, workers,
#: progress, on_result, ray_address) -> list of rows``, called with inputs already checked.
#: ``evaluate`` is the one-mask evaluation (:func:`prunegan.pruning.engine.evaluate_mask`, passed in
#: so that no executor imports the engine that calls it) and ``threads`` the intra-op threads of a
#: worker process.
EXECUTORS: Registry[Callable[..., list[dict]]] = Registry("executor")


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


def lpt_order(masks: Sequence[ChannelMask]) -> list[int]:
    """Biggest networks first (longest-processing-time-first), so no worker is left with a long job
    at the end while the others idle."""
    return sorted(range(len(masks)), key=lambda i: (-masks[i].n_kept, i))


def progress_bar(total: int, progress: bool):
    """A tqdm bar over ``total`` masks (disabled unless ``progress``)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="masks", unit="mask", disable=not progress)
