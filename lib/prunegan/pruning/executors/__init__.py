"""Executors: where :func:`prunegan.pruning.engine.evaluate_masks` evaluates its masks, one module each.

- ``"local"`` (the default, :mod:`.local`): this machine, one worker process per core.
- ``"ray"`` (:mod:`.ray_tasks`): tasks on a `Ray <https://docs.ray.io>`_ cluster, one CPU each, or on
  a local Ray instance; :mod:`.ray_connect` joins Ray and fails fast on an address where no Ray
  cluster answers.

:mod:`.common` holds the registry, the check of the executor's arguments and what both share. The
engine checks every input once, at its entry; an executor is called with checked inputs only.

Whatever the executor, every group of masks is evaluated by
:func:`~prunegan.pruning.engine.evaluate_group` with one thread (fused where the masks allow it,
:mod:`prunegan.pruning.fused`), so the rows are bit-identical whichever executor and however many
workers run them
(on the same hardware and software: every node of a cluster needs the same environment, e.g.
``make venv`` from the same commit). ``on_result(i, row)`` is called in the calling process as each
mask's group completes (the runner caches the row there, atomically), so an interrupted or failed run
resumes from the cache.
"""
from . import local, ray_tasks  # noqa: F401  (each registers its executor)
from .common import EXECUTORS, Execution, check, default_workers, names  # noqa: F401
from .ray_connect import CONNECT_TIMEOUT_S, RAY_REQUIREMENT, check_reachable, connect, import_ray  # noqa: F401
