"""Executors: where :func:`prunegan.pruning.engine.evaluate_masks` evaluates its masks.

- ``"local"`` (the default): this machine. On the CPU the masks are spread over worker processes,
  one per core and one thread each (forked where possible, so they start in a fraction of a
  second); with one worker, or on CUDA, they are evaluated in this process one after another.
- ``"ray"``: tasks on a `Ray <https://docs.ray.io>`_ cluster, one CPU each. ``ray_address=None``
  joins the cluster named by ``$RAY_ADDRESS`` if that is set and otherwise starts a local Ray
  instance with ``workers`` CPUs (default: the cores of this machine); an address (``host:port`` of
  the head node, as ``ray start --head`` prints it) or ``"auto"`` (``$RAY_ADDRESS``, else the
  cluster started on this machine with ``ray start``) joins that cluster, after checking within
  :data:`CONNECT_TIMEOUT_S` seconds that the address accepts connections. A process already
  connected to Ray (``ray.init`` called before) keeps its connection. The trained model and the
  data go to Ray's object store once per call (``ray.put``) and every worker process deserialises
  them once, not once per mask. ``workers`` caps the tasks in flight at once (default: all of them; Ray's
  scheduler then runs as many as the cluster has CPUs).

Whatever the executor, every mask is evaluated by :func:`~prunegan.pruning.engine.evaluate_mask`
with one thread, so the rows are bit-identical whichever executor and however many workers run them
(on the same hardware and software: every node of a cluster needs the same environment, e.g.
``make venv`` from the same commit).

Nothing is lost when something fails: ``on_result(i, row)`` is called in the driver as each mask
completes (the runner caches the row there, atomically). A Ray task whose worker process or node dies
is retried by Ray (:data:`RAY_MAX_RETRIES` times) and its row is the same; if it still fails, the
error is raised after the outstanding tasks are stopped, and rerunning resumes from the cache. An
exception in the driver (``KeyboardInterrupt`` from Ctrl-C included) stops every outstanding Ray task
before it propagates: the process disconnects from Ray (:func:`ray.shutdown`; a cluster then kills
the tasks of this driver at once; a local instance, whoever started it in this process, stops) and
the next call connects again.
"""
from __future__ import annotations

import copy
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ..core import provenance
from ..core.masks import ChannelMask
from ..core.registry import Registry
from ..data import Dataset
from ..train import TrainConfig, resolve_device

logger = logging.getLogger(__name__)

#: The Ray release the project pins (requirements.txt) and the install hint errors give.
RAY_REQUIREMENT = "ray==2.60.0"
#: Times Ray retries a task whose worker process or node died (a Python exception is not retried:
#: the evaluation is deterministic, so it would fail again).
RAY_MAX_RETRIES = 3
#: Seconds to wait for a cluster's address to accept a connection before giving up on it.
CONNECT_TIMEOUT_S = 10.0
#: How often (seconds) the driver wakes up while it waits for Ray results (so Ctrl-C is seen at once).
POLL_S = 0.5

#: Executor name → function ``(model, masks, data, configs, *, evaluate, threads, form, workers,
#: progress, on_result, ray_address) -> list of rows``. ``evaluate`` is the one-mask evaluation
#: (:func:`prunegan.pruning.engine.evaluate_mask`, passed in so this module does not import the
#: engine that calls it) and ``threads`` the intra-op threads of a worker process.
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


def _lpt_order(masks: Sequence[ChannelMask]) -> list[int]:
    """Biggest networks first (longest-processing-time-first), so no worker is left with a long job
    at the end while the others idle."""
    return sorted(range(len(masks)), key=lambda i: (-masks[i].n_kept, i))


def _progress(total: int, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="masks", unit="mask", disable=not progress)


# ---------------------------------------------------------------------------------------------
# "local": this machine, one process per core

_WORKER: dict = {}


def _worker_init(model: nn.Module, data: Dataset, threads: int | None, evaluate: Callable[..., dict]) -> None:
    if threads is not None:
        torch.set_num_threads(threads)
    _WORKER.update(model=model, data=data, evaluate=evaluate)


def _worker_evaluate(mask: ChannelMask, retrain: TrainConfig, form: str) -> dict:
    return _WORKER["evaluate"](_WORKER["model"], mask, _WORKER["data"], retrain, form=form, threads=None)


@EXECUTORS.register("local")
def local(model: nn.Module, masks: list[ChannelMask], data: Dataset, configs: list[TrainConfig], *,
          evaluate: Callable[..., dict], threads: int | None, form: str, workers: int | None, progress: bool,
          on_result: Callable[[int, dict], None] | None, ray_address: str | None = None) -> list[dict]:
    """Worker processes on this machine (see the module docstring)."""
    on_cpu = all(resolve_device(c.device).type == "cpu" for c in configs) and data.device.type == "cpu"
    n = min(workers or default_workers(), len(masks)) if on_cpu else 1
    results: list[dict | None] = [None] * len(masks)
    if n <= 1:
        with _progress(len(masks), progress) as bar:
            for i, (m, c) in enumerate(zip(masks, configs)):
                results[i] = evaluate(model, m, data, c, form=form)
                if on_result is not None:
                    on_result(i, results[i])
                bar.update()
        return results

    import concurrent.futures as cf
    import multiprocessing as mp

    # Workers are forked where possible (they inherit model and data without copying or re-importing
    # torch, which costs seconds per worker); like DataLoader workers they run with one thread, which
    # is what makes forking a process that has used OpenMP safe. Elsewhere (or once this process has
    # initialised CUDA, which a forked child cannot use) they are spawned.
    fork_ok = "fork" in mp.get_all_start_methods() and not torch.cuda.is_initialized()
    method = "fork" if fork_ok else "spawn"
    cpu_model = copy.deepcopy(model).cpu().eval()
    with cf.ProcessPoolExecutor(n, mp_context=mp.get_context(method), initializer=_worker_init,
                                initargs=(cpu_model, data, threads, evaluate)) as pool, \
            _progress(len(masks), progress) as bar:
        futures = {pool.submit(_worker_evaluate, masks[i], configs[i], form): i for i in _lpt_order(masks)}
        for future in cf.as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            if on_result is not None:
                on_result(i, results[i])
            bar.update()
    return results


# ---------------------------------------------------------------------------------------------
# "ray": tasks on a Ray cluster

def import_ray():
    """The ``ray`` module, or ``ImportError`` saying how to install the pinned release."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"executor='ray' needs Ray, which is not installed here: pip install {RAY_REQUIREMENT} "
                          f"(or `make venv`, which installs every pin of requirements.txt)") from exc
    return ray


def _host_port(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``host:port`` or ``[v6]:port`` (a scheme such as ``ray://`` is passed over);
    ``ValueError`` naming the address otherwise."""
    rest = address.split("://", 1)[1] if "://" in address else address
    rest = rest.rstrip("/")
    host, sep, port = rest.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"ray_address {address!r} is not a cluster address: expected 'host:port' "
                         "(e.g. '10.0.0.1:6379', the address `ray start --head` prints) or 'auto'")
    return host, int(port)


def check_reachable(address: str, timeout: float | None = None) -> None:
    """``ConnectionError`` naming ``address`` unless something accepts a TCP connection there within
    ``timeout`` seconds (default :data:`CONNECT_TIMEOUT_S`). Ray itself would keep retrying an
    unreachable cluster for many minutes; this fails in seconds instead."""
    host, port = _host_port(address)
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ConnectionError(f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}); start one "
                              "with `ray start --head` and pass the address it prints, or use ray_address=None "
                              "for a local Ray instance") from exc


def _resolve_auto() -> str:
    """The address ``"auto"`` stands for when ``$RAY_ADDRESS`` is not set: the cluster last started
    on this machine with ``ray start`` (Ray's own lookup); ``ConnectionError`` if there is none."""
    from ray._private import services

    found = services.canonicalize_bootstrap_address("auto")
    if found is None:  # pragma: no cover - Ray raises for "auto" instead
        raise ConnectionError("ray_address='auto' found no running Ray cluster on this machine")
    return found


def _same_cluster(address: str, connected: str) -> bool:
    from ray._private import services

    try:
        return services.canonicalize_bootstrap_address(address) == connected
    except Exception:
        return False


def connect(ray_address: str | None = None, workers: int | None = None):
    """Connect this process to Ray as :func:`evaluate_masks` does (see the module docstring) and
    return the ``ray`` module. A local instance started here gets ``workers`` CPUs (default: this
    machine's cores) and lives until ``ray.shutdown()`` or the end of the process."""
    check("ray", ray_address)
    ray = import_ray()
    if ray.is_initialized():
        connected = ray.get_runtime_context().gcs_address
        if ray_address in (None, "auto") or _same_cluster(ray_address, connected):
            return ray
        raise ValueError(f"this process is already connected to the Ray cluster at {connected!r}; "
                         f"ray_address={ray_address!r} names another one: call ray.shutdown() first")
    address = ray_address
    if address in (None, "auto") and os.environ.get("RAY_ADDRESS"):  # as ray.init reads it
        address = os.environ["RAY_ADDRESS"]
    if address is None:
        # A library that starts Ray for its caller does not opt them into Ray's usage statistics.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address="local", num_cpus=workers or default_workers(), include_dashboard=False)
        return ray
    auto = address == "auto"
    if auto:
        address = _resolve_auto()
    check_reachable(address)
    try:
        # "auto" is passed on as such: for a cluster found that way (and only then) Ray uses the
        # token in ~/.ray/auth_token if the cluster asks for one.
        ray.init(address="auto" if auto else address)
    except Exception as exc:
        cause, root = exc, exc
        while root.__cause__ is not None or root.__context__ is not None:
            root = root.__cause__ or root.__context__
        lines = [line for line in str(root).strip().splitlines() if line.strip()]
        short = lines[0] if len(lines) <= 1 else f"{lines[0]} ... {lines[-1].strip()}"
        detail = str(cause) if root is cause else f"{cause} ({type(root).__name__}: {short})"
        hint = ""
        if "auth" in type(root).__name__.lower() or "token" in str(root).lower():
            hint = ("; the cluster uses token authentication: set RAY_AUTH_MODE=token and make the head's token "
                    "(`ray get-auth-token` there) available as ~/.ray/auth_token or $RAY_AUTH_TOKEN")
        raise ConnectionError(f"could not join the Ray cluster at {address!r}: {detail}{hint}") from exc
    return ray


def _ray_evaluate(shared: list, mask: ChannelMask, retrain: TrainConfig, form: str,
                  evaluate: Callable[..., dict]) -> tuple[dict, str]:
    """The body of one Ray task: :func:`~prunegan.pruning.engine.evaluate_mask` on the model and data
    that ``shared`` (object references) points to, fetched once per worker process. Returns the row and
    the node that computed it; the row names that node's torch version and processor
    (:func:`prunegan.core.provenance.describe`)."""
    import ray

    key = tuple(ref.hex() for ref in shared)
    if _WORKER.get("ray_key") != key:
        _WORKER.clear()
        model, data = ray.get(list(shared))
        _WORKER.update(ray_key=key, model=model, data=data)
    row = evaluate(_WORKER["model"], mask, _WORKER["data"], retrain, form=form)
    row = {**provenance.describe(resolve_device(retrain.device)), **row}  # this node's torch and processor
    return row, ray.get_runtime_context().get_node_id()


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
def ray_executor(model: nn.Module, masks: list[ChannelMask], data: Dataset, configs: list[TrainConfig], *,
                 evaluate: Callable[..., dict], threads: int | None, form: str, workers: int | None,
                 progress: bool, on_result: Callable[[int, dict], None] | None,
                 ray_address: str | None = None) -> list[dict]:
    """Ray tasks, one CPU each (and one GPU where the retraining config resolves to CUDA here; not
    tested: no GPU on the project's machines). See the module docstring."""
    ray = connect(ray_address, workers)
    shared = [ray.put(copy.deepcopy(model).cpu().eval()), ray.put(data.to("cpu"))]
    task = ray.remote(_ray_evaluate)
    order = iter(_lpt_order(masks))
    limit = workers or len(masks)
    pending: dict[Any, int] = {}
    results: list[dict | None] = [None] * len(masks)
    nodes: set[str] = set()
    start = time.perf_counter()

    def fill() -> None:
        while len(pending) < limit:
            i = next(order, None)
            if i is None:
                return
            gpus = 1 if resolve_device(configs[i].device).type == "cuda" else 0
            options = dict(num_cpus=1, num_gpus=gpus, max_retries=RAY_MAX_RETRIES, retry_exceptions=False)
            pending[task.options(**options).remote(shared, masks[i], configs[i], form, evaluate)] = i

    try:
        with _progress(len(masks), progress) as bar:
            fill()
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    i = pending.pop(ref)
                    results[i], node = ray.get(ref)
                    nodes.add(node)
                    if on_result is not None:
                        on_result(i, results[i])
                    bar.update()
                fill()
    except BaseException:  # Ctrl-C, a failed task, an error in on_result: stop the others
        if pending:
            _stop(ray)
        raise
    logger.info("evaluated %d masks with Ray on %d node(s) in %.1f s", len(masks), len(nodes),
                time.perf_counter() - start)
    return results
