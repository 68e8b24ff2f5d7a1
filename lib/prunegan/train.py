"""Training and evaluation on in-memory tensors (no DataLoader): explicit seed, Adam by default."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
from torch import nn
from tqdm import tqdm

from .core.validate import check_int, check_number
from .data import Dataset

OPTIMIZERS = ("adam", "sgd")

#: Intra-op threads for training and evaluating LeNet-sized networks on the CPU: their operations are
#: too small to share well between threads, and on a busy machine OpenMP threads wait for each other
#: (measurements: benchmarks/README.md). Parallelism comes from worker processes instead.
CPU_THREADS = 1


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (``torch.set_num_threads``), then restore the
    previous number. ``None`` leaves the setting alone."""
    if n is None:
        yield
        return
    check_int("threads", n, 1)
    previous = torch.get_num_threads()
    if previous == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run. ``lr`` is the learning rate, ``epochs`` full passes over
    the training images in batches of ``batch_size`` shuffled by ``seed``; ``device`` is ``"auto"``
    (CUDA when present), ``"cpu"`` or ``"cuda"``."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "seed"):
            check_int(f"TrainConfig.{name}", getattr(self, name), 1 if name == "batch_size" else 0)
        for name in ("lr", "weight_decay"):
            check_number(f"TrainConfig.{name}", getattr(self, name), 0)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        resolve_device(self.device)

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else must be a valid torch device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here; use 'auto' or 'cpu'")
    return resolved


def _optimizer(model: nn.Module, config: TrainConfig, *, fused: bool = False) -> torch.optim.Optimizer:
    """``config``'s optimizer over ``model``'s trainable parameters; ``fused``: Adam's single-kernel
    update (one pass over each tensor, for the fused retraining's few large tensors; it may round
    differently from the default update, within ``tests/test_fused.py``'s tolerance)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused or None)
    return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, *, split: str = "test", batch_size: int = 2000) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` on ``data``'s ``"test"``, ``"val"`` or ``"train"`` images."""
    if split not in ("test", "val", "train"):
        raise ValueError(f"split must be 'test', 'val' or 'train', got {split!r}")
    if split == "val" and data.y_val is None:
        raise ValueError(f"{data!r} has no validation split; make one with Dataset.with_validation(n_val)")
    x, y = {"test": (data.x_test, data.y_test), "val": (data.x_val, data.y_val),
            "train": (data.x_train, data.y_train)}[split]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(y), batch_size):
        logits = model(x[start:start + batch_size].to(device))
        correct += int((logits.argmax(1) == y[start:start + batch_size].to(device)).sum())
    model.train(was_training)
    return correct / len(y)


def fit(model: nn.Module, data: Dataset, config: TrainConfig, *, progress: bool = False,
        eval_every_epoch: bool = True) -> list[dict]:
    """Train ``model`` in place with cross-entropy; return one row per epoch:
    ``{"epoch", "loss" (mean train loss), "test_acc"}`` (``test_acc`` only with ``eval_every_epoch``).

    Same config, data and initial weights → same result on CPU."""
    device = resolve_device(config.device)
    model.to(device)
    x, y = data.x_train.to(device), data.y_train.to(device)
    generator = torch.Generator().manual_seed(config.seed)
    opt = _optimizer(model, config)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    epochs = tqdm(range(1, config.epochs + 1), desc="train", unit="epoch", disable=not progress, leave=False)
    for epoch in epochs:
        model.train()
        order = torch.randperm(len(y), generator=generator).to(device)
        total, batches = 0.0, 0
        for start in range(0, len(y), config.batch_size):
            idx = order[start:start + config.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach())
            batches += 1
        row = {"epoch": epoch, "loss": total / max(batches, 1)}
        if eval_every_epoch:
            row["test_acc"] = evaluate(model, data)
        history.append(row)
        epochs.set_postfix(loss=f"{row['loss']:.3f}")
    return history
