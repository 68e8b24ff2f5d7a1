"""The results store: one folder per run, ``results/<kind>_<hash>/``, named by the hash of the run's
config together with :data:`RESULTS_VERSION`; and the project's one hash recipe, for configs
(:func:`config_digest`) and for tensors such as a network's weights (:func:`weights_digest`).

Files are written to a temporary name and renamed (:func:`atomic_write`), so an interrupted run never
leaves a half file; a file that cannot be read back is reported (a warning naming it), deleted, and
recomputed.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tomllib
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

#: Repository root when the package is used from a checkout (lib/prunegan/core/store.py → ../../../).
#: Outside a checkout (an installed wheel) it is only the folder three levels up: see :func:`in_checkout`.
REPO_ROOT = Path(__file__).resolve().parents[3]

#: The one version of every cached result. Bump it when the meaning of a stored row, checkpoint or
#: generator changes (training or evaluation code, row format, seeds): every cache key includes it,
#: so results of the old code are then recomputed instead of silently reused.
RESULTS_VERSION = 5  # 3: one hash recipe names every cache entry; 4: rows retrained fused (pruning.fused);
# 5: fused retraining takes the grouped convolution's input gradient from the native kernel, Adam fused


class CorruptCacheWarning(UserWarning):
    """A cached file could not be read; it was deleted and its result is recomputed."""


def is_checkout(root: Path, package: Path) -> bool:
    """Whether ``package`` (the ``prunegan`` folder) is ``root/lib/prunegan`` of a prunegan checkout:
    ``root/pyproject.toml`` names the project ``prunegan``. False for an installed copy (site-packages,
    ``pip install --target``), whose folder three levels up is no checkout."""
    try:
        if package.resolve() != (root / "lib" / "prunegan").resolve():
            return False
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, ValueError, UnicodeDecodeError):  # no readable pyproject.toml / not TOML
        return False
    return isinstance(project, dict) and project.get("name") == "prunegan"


@functools.cache
def in_checkout() -> bool:
    """Whether this copy of prunegan is used from a checkout (``make venv``'s editable install or
    ``lib/`` on the path), rather than installed into an environment."""
    return is_checkout(REPO_ROOT, Path(__file__).resolve().parents[1])


def user_cache_dir() -> Path:
    """The user's cache folder for prunegan: ``$XDG_CACHE_HOME/prunegan`` if that is set to an absolute
    path (the XDG rule), else ``~/.cache/prunegan`` (where :func:`prunegan.data.default_root` keeps the
    data sets too)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "prunegan"


def results_root() -> Path:
    """Where run folders go: ``$PRUNEGAN_RESULTS`` if set; else ``results/`` at the repository root in
    a checkout; else (prunegan installed into an environment) ``results/`` in the user's cache folder
    (:func:`user_cache_dir`: ``~/.cache/prunegan/results``), never inside the environment."""
    if os.environ.get("PRUNEGAN_RESULTS"):
        return Path(os.environ["PRUNEGAN_RESULTS"])
    if in_checkout():
        return REPO_ROOT / "results"
    return user_cache_dir() / "results"


def to_plain(obj: Any) -> Any:
    """Dataclasses / tuples / paths → JSON-able dicts, lists and strings."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def canonical_json(obj: Any) -> str:
    return json.dumps(to_plain(obj), sort_keys=True, separators=(",", ":"))


# The one hash recipe of the project: a config is named by the SHA-256 of its canonical JSON
# (config_digest), tensors by the SHA-256 of their names, dtypes, shapes and bytes (weights_digest);
# a key that mixes both digests the tensors first and puts the digest in the config.

def config_digest(config: Any, n: int = 16) -> str:
    """First ``n`` hex digits of the SHA-256 of ``config``'s canonical JSON (:func:`canonical_json`:
    dataclasses, dicts in any key order, tuples or lists, paths)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:_digits(n)]


def weights_digest(weights: Any, n: int = 16) -> str:
    """First ``n`` hex digits of the SHA-256 of tensors: a module (its ``state_dict``) or a mapping
    name → tensor (in name order), or a sequence of tensors (in order). Each tensor adds its name (or
    position), dtype, shape and raw bytes, so equal digests mean equal tensors, whatever their device."""
    if isinstance(weights, torch.nn.Module):
        weights = weights.state_dict()
    items = sorted(weights.items()) if isinstance(weights, Mapping) else enumerate(weights)
    h = hashlib.sha256()
    for name, t in items:
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"weights_digest: {name!r} is a {type(t).__name__}, not a tensor")
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:_digits(n)]


def _digits(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 64:
        raise ValueError(f"a digest has 1 to 64 hex digits, got n={n!r}")
    return n


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``; on any
    error the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_torch(path: str | Path, obj: Any) -> Path:
    """``torch.save`` through :func:`atomic_write`."""
    return atomic_write(path, lambda p: torch.save(obj, p))


class Run:
    """The cache folder of one run of ``kind`` with ``config`` (a dataclass or dict)."""

    def __init__(self, kind: str, config: Any, root: Path | str | None = None) -> None:
        self.kind = kind
        self.config = config
        key = {"version": RESULTS_VERSION, "config": config}
        self.path = Path(root if root is not None else results_root()) / f"{kind}_{config_digest(key, n=10)}"
        if self.read_json("config.json") is None:
            self.write_json("config.json", key)

    def __repr__(self) -> str:
        return f"Run({self.path})"

    def file(self, name: str) -> Path:
        return self.path / name

    def exists(self, name: str) -> bool:
        return self.file(name).exists()

    def write_json(self, name: str, obj: Any) -> None:
        atomic_write(self.file(name), lambda p: p.write_text(json.dumps(to_plain(obj), indent=1)))

    def read_json(self, name: str) -> Any | None:
        """The stored object, or ``None`` if absent or corrupt (corrupt files are reported and removed)."""
        return self._read(name, lambda p: json.loads(p.read_text()))

    def save_torch(self, name: str, obj: Any) -> None:
        save_torch(self.file(name), obj)

    def load_torch(self, name: str) -> Any | None:
        return self._read(name, lambda p: torch.load(p, weights_only=True, map_location="cpu"))

    def _read(self, name: str, reader) -> Any | None:
        path = self.file(name)
        if not path.exists():
            return None
        try:
            return reader(path)
        except Exception as exc:  # any unreadable file is recomputed, never used
            warnings.warn(f"corrupt cache file {path} ({type(exc).__name__}: {exc}); recomputing it",
                          CorruptCacheWarning, stacklevel=3)
            path.unlink(missing_ok=True)
            return None
