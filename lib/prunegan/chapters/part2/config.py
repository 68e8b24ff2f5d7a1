"""Chapter 6's settings and configs: the two LeNet-5 settings, the seed families of a replicate,
the targets (data), the smoke sizes, :func:`configs` from the notebook's parameters, and overview tables."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

from ...analysis.masks import mask_space_table
from ...analysis.targets import Target
from ...core.validate import check_int
from ...data import DEFAULT_N_VAL
from ...gan import features as gan_features
from ...gan.config import GanConfig
from ...runs import protocol
from ...runs.bank import BankConfig
from ...runs.baseline import BaselineConfig, baseline
from ...train import TrainConfig
from ..part1 import baseline_config


#: The two LeNet-5 settings: name → include_linear.
SETTINGS = {"conv": False, "conv+linear": True}


#: The bank's randomised standard methods (each at every temperature, with and without one channel per layer).
CRITERIA = ("noisy-l1", "tp-magnitude", "tp-lamp", "tp-fpgm")


#: Seeds of replicate ``r``: networks, generators and critics ``r · SEED_STRIDE + i`` (the
#: leave-one-network-out choice uses ``r · SEED_STRIDE + SEED_STRIDE − 1``, never a measuring seed);
#: bank retraining ``BANK_STRIDE · r + j``; the protocol's masks and retraining
#: ``PROTOCOL_SEED + r · PROTOCOL_STRIDE + i``, its critic-ranked candidates from
#: ``… + CANDIDATE_OFFSET`` on. :func:`configs` checks that the families of two replicates, and the
#: families within one, never meet.
SEED_STRIDE = 100


BANK_STRIDE = 10


PROTOCOL_SEED = 1000


PROTOCOL_STRIDE = 10_000


CANDIDATE_OFFSET = 5_000


#: The targets (issue 13 and 15), judged on the CI (never on a mean), in the order they are shown.
TARGETS = (
    Target("at least the landscape's 85th percentile", "landscape", "gan", "p85", settings=("conv",),
           comparison=">=", threshold=None),
    Target("beats random-min1", "paired", "gan", "random-min1", threshold=0.0),
    Target("at least L1-min1", "paired", "gan", "l1-min1", threshold=-1.0),
    Target("at least the best standard criterion", "paired", "gan", "best-criterion", threshold=-1.0),
    Target("GAN + critic beats the best standard criterion", "paired", "gan+critic", "best-criterion",
           threshold=0.0),
    Target("within 2 points of the best bank mask", "paired", "gan", "best-bank", settings=("conv+linear",),
           threshold=-2.0),
    Target("at least random-min1 + critic", "paired", "gan", "random-min1+critic", settings=("conv+linear",),
           threshold=-1.0),
    Target("transfer: within 1 point of random-min1", "paired", "gan", "random-min1", settings=("transfer",),
           threshold=-1.0),
    Target("SD across generator seeds at most 1.5 points", "seed_sd", "gan", settings=("conv",),
           bound="ci_high", comparison="<=", threshold=1.5),
)


#: Learned methods and the designs of the ablation (method name → reader's label).
VARIANTS = {"gan": "GAN (chosen design)", "gan-discriminator-only": "GAN, discriminator only",
            "gan+critic": "GAN + critic best-of-K", "random-min1+critic": "random-min1 + critic best-of-K",
            "uniform-collapse-free": "uniform collapse-free (untrained generator)"}


#: Smoke runs: everything tiny (the shared 400/200-image subset, 100 validation images, one epoch).
SMOKE = {"networks": 3, "held_out": 1, "n_val": 100, "sparsities": (0.8, 0.9), "temperatures": (0.0,),
         "criteria": ("noisy-l1",), "draws": 1, "retrain_seeds": 1, "min_distinct": 6,
         "exhaustive_limit": 200, "samples": 3, "gan_steps": 10, "gan_seeds": 3, "critic_steps": 20,
         "critic_candidates": 3, "epochs": 1, "entropy_weights": (0.0, 0.1), "critic_weights": (1.0,)}


@dataclass(frozen=True)
class Configs:
    """Every config of notebook 06, built by :func:`configs`."""

    seed: int
    networks: tuple[BaselineConfig, ...]
    held_out: tuple[int, ...]
    sparsities: tuple[float, ...]
    banks: dict = field(hash=False)              # setting → BankConfig
    gan: GanConfig                               # seed, features, entropy and critic weights set later
    gan_seeds: tuple[int, ...]
    choice_seed: int                             # the leave-one-network-out fits' seed (not a measuring one)
    grid: tuple[tuple[float, float], ...]        # (entropy_weight, critic_weight) tried leave-one-network-out
    critic_steps: int
    protocol: protocol.ProtocolConfig
    transfer: BaselineConfig

    @property
    def train_networks(self) -> tuple[int, ...]:
        return tuple(i for i in range(len(self.networks)) if i not in self.held_out)

    @property
    def landscape_sparsity(self) -> float:
        return max(self.sparsities)


def configs(*, smoke: bool = False, seed: int = 0, data: str = "mnist-5k", epochs: int = 10,
            networks: int = 10, held_out: int = 2, n_val: int = DEFAULT_N_VAL, sparsities=(0.8, 0.9),
            temperatures=(0.0, 1.0), criteria=CRITERIA, draws: int = 2, retrain_epochs: int = 1,
            retrain_seeds: int = 3, min_distinct: int = 24, exhaustive_limit: int = 200, gan_steps: int = 300,
            gan_seeds: int = 20, entropy_weights=(0.0, 0.1, 0.3), critic_weights=(0.0, 1.0),
            critic_steps: int = 500, samples: int = 20, critic_candidates: int = 16,
            transfer_model: str = "lenet5-caffe") -> Configs:
    """Notebook 06's configs from plain parameter values (``smoke=True``: see :data:`SMOKE`).
    ``seed`` is the replicate: it shifts every seed family (networks, bank draws and retraining
    seeds, generators, critics, protocol)."""
    if smoke:
        s = SMOKE
        networks, held_out, n_val, sparsities, temperatures = (s["networks"], s["held_out"], s["n_val"],
                                                                s["sparsities"], s["temperatures"])
        criteria, draws, retrain_seeds, min_distinct = (s["criteria"], s["draws"], s["retrain_seeds"],
                                                        s["min_distinct"])
        exhaustive_limit, samples, gan_steps, gan_seeds = (s["exhaustive_limit"], s["samples"],
                                                           s["gan_steps"], s["gan_seeds"])
        critic_steps, critic_candidates, epochs, retrain_epochs = (s["critic_steps"], s["critic_candidates"],
                                                                   s["epochs"], 1)
        entropy_weights, critic_weights = s["entropy_weights"], s["critic_weights"]
    seed = check_int("seed", seed, 0)
    networks = check_int("networks", networks, 2)
    held_out = check_int("held_out", held_out, 1)
    if networks - held_out < 2:
        raise ValueError(f"held_out={held_out} must leave at least two of networks={networks} to train on "
                         "(choices are made leave-one-network-out)")
    check_int("gan_seeds", gan_seeds, 2)
    limits = {"networks": (networks, SEED_STRIDE), "gan_seeds": (gan_seeds, SEED_STRIDE - 1),
              "retrain_seeds": (retrain_seeds, BANK_STRIDE),
              "samples × critic_candidates": (samples * critic_candidates,
                                              PROTOCOL_STRIDE - CANDIDATE_OFFSET)}
    for name, (value, most) in limits.items():
        if value > most:
            raise ValueError(f"{name}={value} is above {most}: the seeds of two replicates would meet")
    if samples != gan_seeds:
        raise ValueError(f"samples={samples} must equal gan_seeds={gan_seeds}: "
                         "pair i uses the generator of seed i")
    base = seed * SEED_STRIDE
    bases = tuple(replace(baseline_config(data=data, epochs=epochs, seed=base + i, smoke=smoke), n_val=n_val)
                  for i in range(networks))
    bank_retrain = TrainConfig(epochs=retrain_epochs, seed=BANK_STRIDE * seed)
    banks = {name: BankConfig(baselines=bases, sparsities=tuple(sparsities), temperatures=tuple(temperatures),
                              draws=draws, min_channels=(1,), include_linear=il, retrain=bank_retrain,
                              seed=seed, retrain_seeds=retrain_seeds, criteria=tuple(criteria),
                              min_distinct=min_distinct, exhaustive_limit=exhaustive_limit)
             for name, il in SETTINGS.items()}
    train = tuple(range(networks - held_out))
    gan = GanConfig(networks=train, steps=gan_steps)
    grid = tuple((float(e), float(c)) for c in critic_weights for e in entropy_weights)
    first = PROTOCOL_SEED + seed * PROTOCOL_STRIDE
    proto = protocol.ProtocolConfig(samples=samples, retrain=TrainConfig(epochs=retrain_epochs, seed=first),
                                    seed=first, critic_candidates=critic_candidates)
    protocol.check_disjoint(proto, bank_retrain, retrain_seeds)
    transfer = replace(baseline_config(model=transfer_model, data=data, epochs=epochs, seed=base,
                                       smoke=smoke),
                       n_val=n_val)
    return Configs(seed, bases, tuple(range(networks - held_out, networks)), tuple(sparsities), banks, gan,
                   tuple(base + i for i in range(gan_seeds)), base + SEED_STRIDE - 1, grid,
                   check_int("critic_steps", critic_steps, 1), proto, transfer)


def split_sizes(cfg: Configs) -> dict[str, int]:
    """Images in the training, validation and test splits of the chapter's networks."""
    data = baseline(cfg.networks[0], progress=False).data
    return {"train": len(data.y_train), "val": data.n_val, "test": len(data.y_test)}


def mask_space_overview(cfg: Configs) -> pd.DataFrame:
    """Size of the mask space in the three settings at the chapter's sparsities."""
    parts = [("conv", cfg.networks[0].model, False), ("conv+linear", cfg.networks[0].model, True),
             ("conv", cfg.transfer.model, False)]
    frames = [mask_space_table(model, cfg.sparsities, include_linear=il).assign(model=model, setting=setting)
              for setting, model, il in parts]
    out = pd.concat(frames, ignore_index=True)
    for col in ("n_masks", "n_masks_no_collapse"):
        out[f"log10_{col[2:]}"] = out[col].map(lambda v: math.log10(v) if v else float("-inf"))
    out["n_masks_no_collapse"] = out["n_masks_no_collapse"].astype(float)  # shown as 4.7e+47, not 48 digits
    return out[["model", "setting", "sparsity", "n_channels", "n_kept", "n_masks_no_collapse",
                "log10_masks", "log10_masks_no_collapse"]]


def bank_overview(bank) -> pd.DataFrame:
    """Per (network, sparsity): distinct masks, methods that drew them, collapse share, the best /
    median / worst label (validation accuracy, mean over the bank's retraining seeds) and the mean
    standard deviation between those seeds."""
    u = bank.unique()
    lab = bank.label
    return (u.groupby(["baseline", "sparsity"])
            .agg(distinct=("key", "size"), methods=("method", "nunique"), collapsed=("collapsed", "mean"),
                 best=(lab, "max"), median=(lab, "median"), worst=(lab, "min"),
                 seed_sd=(f"{lab}_sd", "mean"))
            .reset_index().rename(columns={"baseline": "network"}))


#: Features of a channel's layer (the allocation across layers reads them) and of the channel itself.
STRUCTURAL_FEATURES = ("depth", "log_width", "width_share", "log_fan_in", "is_linear")


CHANNEL_FEATURES = tuple(f for f in gan_features.FEATURES if f not in STRUCTURAL_FEATURES)
