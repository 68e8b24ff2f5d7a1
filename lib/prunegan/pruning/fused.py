"""Fused retraining: K pruned LeNet-5s of one trained network, retrained together as one network.

A retraining step of a 90 %-sparse LeNet-5 on the CPU is almost all per-operation overhead, so K
masks that share a retraining config (and so see the same batches in the same order) are trained as
**one** network and pay that overhead once:

- each mask's compact network (:func:`prunegan.pruning.surgery.compact`) is zero-padded to the widest
  kept layer of the group. A padded channel has zero weights and bias in and out, so its output is 0,
  ReLU's gradient there is 0, and every gradient that touches it is exactly 0: Adam (and SGD) never move
  it, and it never reaches another channel;
- the first convolution has ``K·C₁`` outputs on the shared batch, the second is a grouped convolution
  (``groups=K``: mask k reads only its own channels), the Linear layers are batched matrix products
  (``torch.baddbmm``, one weight matrix per mask);
- the loss is the sum over masks of each mask's mean cross-entropy, so each mask's parameters get
  exactly the gradient of its own loss, and one optimizer over the stacked parameters is each mask's
  own optimizer (Adam and SGD act element by element).

Each mask's result is therefore its own retraining, equal to :func:`prunegan.pruning.engine.evaluate_mask`
up to float rounding (the grouped kernels add in another order, and on the CPU the second convolution's
input gradient comes from torch's native kernel, :class:`_GroupedConv`; ``tests/test_fused.py`` pins the
tolerance). Supported: networks of the :class:`~prunegan.models.LeNet5` family (``lenet5``,
``lenet5-caffe``, any widths) with masks that keep a channel in every layer; anything else is evaluated
one by one (:func:`fusable`).
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.masks import ChannelMask
from ..data import Dataset
from ..models import LeNet5
from ..train import TrainConfig, _optimizer, resolve_device
from . import surgery

#: Masks per fused group on the CPU and on CUDA (chosen by ``benchmarks/fused_engine.py``: on the
#: 2-core CPU the gain per mask levels off past about 16 masks, and larger groups only pad more).
GROUP_SIZE = {"cpu": 16, "cuda": 256}

#: Images per forward pass when testing a group (keeps the first layer's K·C₁ feature maps small).
EVAL_IMAGES = 4000

#: On the CPU, from this many input channels per mask of the grouped second convolution, its input
#: gradient is computed by torch's native grouped kernel instead of oneDNN's (``benchmarks/README.md``:
#: 2 input channels per mask, oneDNN's backward takes ~15 ms of a ~31 ms step at 80 %, the native kernel
#: ~5 ms; at 1 channel per mask oneDNN's kernel is the faster).
NATIVE_INPUT_GRAD_CHANNELS = 2


def native_input_grad(device: torch.device, channels: int) -> bool:
    """Whether the grouped convolution's input gradient uses torch's native kernel: on the CPU, with
    ``channels`` (input channels per mask) >= :data:`NATIVE_INPUT_GRAD_CHANNELS`."""
    return device.type == "cpu" and channels >= NATIVE_INPUT_GRAD_CHANNELS


class _GroupedConv(torch.autograd.Function):
    """``F.conv2d(z, w, b, groups=k)`` (stride 1, no padding) whose input gradient is the forward
    convolution of the padded output gradient with the flipped, per-group transposed weights, run by
    torch's native kernel (oneDNN off for that call); the weight and bias gradients are oneDNN's."""

    @staticmethod
    def forward(ctx, z, w, b, k):
        ctx.save_for_backward(z, w)
        ctx.k = k
        return F.conv2d(z, w, b, groups=k)

    @staticmethod
    def backward(ctx, g):
        z, w = ctx.saved_tensors
        k = ctx.k
        kc2, c1, kh, kw = w.shape
        need_z, need_w, need_b = ctx.needs_input_grad[:3]
        _, gw, gb = torch.ops.aten.convolution_backward(g, z, w, [kc2], [1, 1], [0, 0], [1, 1], False, [0, 0],
                                                        k, [False, need_w, need_b])
        gz = None
        if need_z:
            wt = w.reshape(k, kc2 // k, c1, kh, kw).transpose(1, 2).flip(-1, -2).reshape(k * c1, -1, kh, kw)
            fmt = torch.channels_last
            # the flag itself, not torch.backends.mkldnn.flags(), which also warns about TF32 on every call
            enabled = torch._C._get_mkldnn_enabled()
            torch._C._set_mkldnn_enabled(False)
            try:
                gz = F.conv2d(g.contiguous(memory_format=fmt), wt.contiguous(memory_format=fmt),
                              padding=(kh - 1, kw - 1), groups=k)
            finally:
                torch._C._set_mkldnn_enabled(enabled)
        return gz, gw, gb, None


def fusable(model: nn.Module, mask: ChannelMask, form: str = "compact") -> bool:
    """Whether ``mask`` of ``model`` can be retrained fused: a :class:`~prunegan.models.LeNet5`, the
    compact form, and no collapsed layer (a collapsed layer keeps one masked channel in the compact
    network, which the fused network would not hold at zero)."""
    return type(model) is LeNet5 and form == "compact" and not mask.collapsed_layers()


def _linears(net: LeNet5) -> list[nn.Linear]:
    return [getattr(net, f"fc{i}") for i in range(1, net.hidden + 1)] + [net.out]


class FusedLeNet5(nn.Module):
    """K compact LeNet-5s (:func:`prunegan.pruning.surgery.compact` of one architecture) as one network:
    ``forward(x)`` maps ``(N, 1, H, W)`` images to ``(K, N, classes)`` logits, row k those of network k."""

    def __init__(self, nets: Sequence[LeNet5]) -> None:
        super().__init__()
        if not nets:
            raise ValueError("FusedLeNet5 needs at least one network")
        first = nets[0]
        self.k = len(nets)
        self.kernel1, self.kernel2 = first.conv1.kernel_size, first.conv2.kernel_size
        self.padding = first.conv1.padding
        self.widths = [[n.conv1.out_channels for n in nets], [n.conv2.out_channels for n in nets]]
        self.widths += [[layer.out_features for layer in _linears(n)[:-1]] for n in nets]
        c1 = max(n.conv1.out_channels for n in nets)
        c2 = max(n.conv2.out_channels for n in nets)
        self.area = first.fc1.in_features // first.conv2.out_channels if first.hidden else \
            first.out.in_features // first.conv2.out_channels
        self.c1, self.c2 = c1, c2
        w1 = torch.zeros(self.k, c1, first.conv1.in_channels, *self.kernel1)
        b1 = torch.zeros(self.k, c1)
        w2 = torch.zeros(self.k, c2, c1, *self.kernel2)
        b2 = torch.zeros(self.k, c2)
        for i, n in enumerate(nets):
            a, b = n.conv1.out_channels, n.conv2.out_channels
            w1[i, :a], b1[i, :a] = n.conv1.weight.detach(), n.conv1.bias.detach()
            w2[i, :b, :a], b2[i, :b] = n.conv2.weight.detach(), n.conv2.bias.detach()
        self.w1 = nn.Parameter(w1.reshape(self.k * c1, *w1.shape[2:]))
        self.b1 = nn.Parameter(b1.reshape(-1))
        self.w2 = nn.Parameter(w2.reshape(self.k * c2, *w2.shape[2:]))
        self.b2 = nn.Parameter(b2.reshape(-1))
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        n_linear = len(_linears(first))
        widths_in = [c2 * self.area]
        for j in range(n_linear):
            layers = [_linears(n)[j] for n in nets]
            width_out = max(layer.out_features for layer in layers)
            w = torch.zeros(self.k, widths_in[-1], width_out)
            b = torch.zeros(self.k, 1, width_out)
            for i, (n, layer) in enumerate(zip(nets, layers)):
                weight = layer.weight.detach()
                if j == 0:  # inputs are (channel, position) of conv2's kept channels: pad per channel
                    c = n.conv2.out_channels
                    padded = torch.zeros(layer.out_features, c2, self.area)
                    padded[:, :c] = weight.reshape(layer.out_features, c, self.area)
                    weight = padded.reshape(layer.out_features, -1)
                w[i, :weight.shape[1], :layer.out_features] = weight.T
                b[i, 0, :layer.out_features] = layer.bias.detach()
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))
            widths_in.append(width_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # relu(max_pool(z)) == max_pool(relu(z)) exactly (ReLU is monotone), on 4× fewer values
        z = F.relu(F.max_pool2d(F.conv2d(x, self.w1, self.b1, padding=self.padding), 2))
        if torch.is_grad_enabled() and native_input_grad(z.device, self.c1):
            z = _GroupedConv.apply(z, self.w2, self.b2, self.k)
        else:
            z = F.conv2d(z, self.w2, self.b2, groups=self.k)
        z = F.relu(F.max_pool2d(z, 2))
        z = z.reshape(z.shape[0], self.k, -1).transpose(0, 1)  # (K, N, C2·area)
        last = len(self.weights) - 1
        for j, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = torch.baddbmm(b, z, w)
            if j < last:
                z = F.relu(z)
        return z

    def unfused(self, i: int) -> dict[str, torch.Tensor]:
        """Network ``i``'s own parameters, cut back to its widths (names as in its compact LeNet5)."""
        c1, c2 = self.widths[0][i], self.widths[1][i]
        w1 = self.w1.detach().reshape(self.k, self.c1, *self.w1.shape[1:])[i, :c1]
        w2 = self.w2.detach().reshape(self.k, self.c2, *self.w2.shape[1:])[i, :c2, :c1]
        out = {"conv1.weight": w1, "conv1.bias": self.b1.detach().reshape(self.k, -1)[i, :c1],
               "conv2.weight": w2, "conv2.bias": self.b2.detach().reshape(self.k, -1)[i, :c2]}
        names = [f"fc{j}" for j in range(1, len(self.weights))] + ["out"]
        width_in = c2
        for j, name in enumerate(names):
            w = self.weights[j].detach()[i]
            b = self.biases[j].detach()[i, 0]
            width_out = self.widths[2 + i][j] if j < len(names) - 1 else w.shape[1]
            if j == 0:
                w = w.reshape(self.c2, self.area, -1)[:c2].reshape(c2 * self.area, -1)
            else:
                w = w[:width_in]
            out[f"{name}.weight"] = w[:, :width_out].T
            out[f"{name}.bias"] = b[:width_out]
            width_in = width_out
        return out


@torch.no_grad()
def accuracies(net: FusedLeNet5, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Top-1 accuracy in [0, 1] of each of the K networks on images ``x`` ``(N, 1, H, W)``, labels ``y``."""
    was_training = net.training
    net.eval()
    correct = torch.zeros(net.k, dtype=torch.long)
    step = max(64, EVAL_IMAGES // net.k)
    for start in range(0, len(y), step):
        logits = net(x[start:start + step])
        correct += (logits.argmax(2) == y[start:start + step]).sum(1).cpu()
    net.train(was_training)
    return [int(c) / len(y) for c in correct]


def fit(net: FusedLeNet5, data: Dataset, config: TrainConfig) -> None:
    """Train the K networks of ``net`` in place exactly as :func:`prunegan.train.fit` trains each one:
    same batches in the same order (``config.seed``), each network's own mean cross-entropy."""
    device = resolve_device(config.device)
    x, y = data.x_train.to(device), data.y_train.to(device)
    generator = torch.Generator().manual_seed(config.seed)
    opt = _optimizer(net, config, fused=True)
    net.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(y), generator=generator).to(device)
        for start in range(0, len(y), config.batch_size):
            idx = order[start:start + config.batch_size]
            opt.zero_grad(set_to_none=True)
            logits = net(x[idx])  # (K, B, classes)
            target = y[idx].repeat(net.k)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target, reduction="sum") / len(idx)
            loss.backward()
            opt.step()


def evaluate_group(model: nn.Module, masks: Sequence[ChannelMask], data: Dataset,
                   retrain: TrainConfig) -> list[dict]:
    """:func:`prunegan.pruning.engine.evaluate_mask`'s row for each of ``masks`` (all :func:`fusable`),
    retrained fused with the one config ``retrain``; ``seconds`` is the group's time over its size."""
    start = time.perf_counter()
    device = resolve_device(retrain.device)
    nets = [surgery.compact(model, m) for m in masks]
    counts = [surgery.count(n) for n in nets]
    net = FusedLeNet5(nets).to(device)
    if device.type == "cpu":  # oneDNN's fast layout for the (grouped) convolutions, as the engine's
        net = net.to(memory_format=torch.channels_last)
    x_test, y_test = data.x_test.to(device), data.y_test.to(device)
    pruned = accuracies(net, x_test, y_test)
    fit(net, data, retrain)
    retrained = accuracies(net, x_test, y_test)
    val = accuracies(net, data.x_val.to(device), data.y_val.to(device)) if data.y_val is not None else None
    seconds = (time.perf_counter() - start) / len(masks)
    return [{"pruned_acc": pruned[i], "retrained_acc": retrained[i],
             "retrained_val_acc": val[i] if val is not None else None,
             "macs": counts[i][0], "params": counts[i][1], "seconds": seconds} for i in range(len(masks))]


def groups(model: nn.Module, masks: Sequence[ChannelMask], configs: Sequence[TrainConfig], form: str, *,
           size: int | None = None) -> list[list[int]]:
    """Mask indices in groups to evaluate together: fusable masks with the same retraining config, in
    order of kept width (so that one wide mask does not pad a group of narrow ones), cut into
    consecutive groups of ``size`` (default :data:`GROUP_SIZE` of the config's device; the last may be
    smaller); every other mask alone. Fixed-size cuts make the grouping stable: removing whole groups
    (those a resumed run finds in the cache) leaves every other group as it was."""
    by_config: dict[TrainConfig, list[int]] = {}
    out: list[list[int]] = []
    for i, (mask, config) in enumerate(zip(masks, configs)):
        if fusable(model, mask, form):
            by_config.setdefault(config, []).append(i)
        else:
            out.append([i])
    for config, idx in by_config.items():
        limit = size or GROUP_SIZE["cuda" if resolve_device(config.device).type == "cuda" else "cpu"]
        idx.sort(key=lambda i: (tuple(masks[i].kept_per_layer().values()), i))
        out.extend(idx[j:j + limit] for j in range(0, len(idx), limit))
    return out
