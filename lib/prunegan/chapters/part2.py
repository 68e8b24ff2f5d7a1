"""Chapter 6 (Part 2): configs from the notebook's parameters, the methods compared, the choices made
on the training networks only (channel features, GAN hyper-parameters, the best standard criterion),
the statistics the targets judge, and the numbers glued for the findings page.

Two settings of LeNet-5 (:data:`SETTINGS`): its conv channels only, and its conv channels plus the
hidden Linear units. Networks ``0 … n−1`` are LeNet-5s trained from seeds ``100·seed + i`` (``seed``:
the replicate) on the training images minus a validation split; the last ``held_out`` are never shown
to anything that learns or chooses, and are where everything is measured (test images).
``lenet5-caffe`` (conv only) is an architecture the generator never saw.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from ..analysis import comparison, signal
from ..analysis.masks import mask_space_table
from ..analysis.stats import mean_ci
from ..analysis.targets import Target
from ..core import counts
from ..core.masks import ChannelMask, layer_sizes
from ..core.validate import check_int
from ..data import DEFAULT_N_VAL
from .. import gan
from ..gan import features as gan_features
from ..gan.config import GanConfig
from ..pruning.strategies import Method
from ..runs import protocol, runner
from ..runs.bank import BankConfig
from ..runs.baseline import BaselineConfig, baseline
from ..train import TrainConfig
from .part1 import baseline_config

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
                 seed_sd=(f"{lab.removesuffix('_acc')}_acc_sd" if lab == "val_acc" else "retrained_acc_sd",
                          "mean"))
            .reset_index().rename(columns={"baseline": "network"}))


def critic_quality(critic, held, setting: str = "") -> pd.DataFrame:
    """Spearman rank correlation of the critic's prediction with the bank label, per held-out
    (network, sparsity) of ``held`` (:func:`prunegan.gan.from_bank` examples), over all its bank masks
    and over the collapse-free ones only; ``setting`` labels the rows."""
    rows = []
    for ex in held:
        ok = [i for i, m in enumerate(ex.masks) if all(p.sum() > 0 for p in m.split(list(ex.feats.sizes)))]
        free = replace(ex, masks=ex.masks[ok], accuracy=ex.accuracy[ok], weights=ex.weights[ok])
        rows.append({"setting": setting, "network": ex.network, "sparsity": ex.sparsity,
                     "masks": len(ex.masks), "spearman": critic.spearman(ex), "collapse_free": len(ok),
                     "spearman_collapse_free": critic.spearman(free) if len(ok) > 2 else float("nan")})
    return pd.DataFrame(rows)


def critic_summary(quality: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, network, sparsity): the critics' Spearman (all masks, collapse-free masks) as the
    mean over critic seeds with its 95 % CI."""
    rows = []
    for key, g in quality.groupby(["setting", "network", "sparsity"], sort=False):
        row = dict(zip(["setting", "network", "sparsity"], key))
        for col in ("spearman", "spearman_collapse_free"):
            v = g[col].dropna()
            mean, lo, hi = mean_ci(v) if len(v) else (np.nan, np.nan, np.nan)
            row.update({col: mean, f"{col}_ci_low": lo, f"{col}_ci_high": hi})
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------- landscapes
def landscape_rows(bank, sparsity: float, networks) -> pd.DataFrame:
    """The exhaustive landscape's rows (every collapse-free mask, once) of ``networks`` at ``sparsity``."""
    # every draw: a landscape mask that a method drew first is a duplicate here, not in unique()
    f = bank.frame
    u = f[(f["method"] == "exhaustive") & np.isclose(f["sparsity"], sparsity)
          & f["baseline"].isin(list(networks))]
    return u.drop_duplicates(["baseline", "key"])


def landscapes(bank, sparsity: float, networks, column: str, setting: str = "conv") -> pd.DataFrame:
    """Per network: masks in the landscape and the 50th / 85th / 100th percentiles of ``column``
    (``"val_acc"`` to choose, ``"retrained_acc"`` (test) to report)."""
    rows = [{"setting": setting, "network": int(n), "sparsity": sparsity, "masks": len(g),
             **comparison.landscape_percentiles(g[column])}
            for n, g in landscape_rows(bank, sparsity, networks).groupby("baseline")]
    return pd.DataFrame(rows, columns=["setting", "network", "sparsity", "masks", "p50", "p85", "p100"])


def landscape_examples(bank, sparsity: float, networks, column: str, *, inputs=None) -> list:
    """``(network, ChannelFeatures, masks (M, C) float, labels (M,))`` of every landscape, for
    :mod:`prunegan.analysis.signal` (all candidate features)."""
    out = []
    for n, g in landscape_rows(bank, sparsity, networks).groupby("baseline"):
        feats = gan_features.channel_features(bank.baselines[int(n)].model,
                                              include_linear=bank.config.include_linear, inputs=inputs)
        masks = torch.stack([ChannelMask.from_dict(m).to_vector().to(torch.float32) for m in g["mask"]])
        out.append((int(n), feats, masks, torch.tensor(g[column].to_numpy(float), dtype=torch.float32)))
    return out


def feature_choice(bank, cfg: Configs) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    """Which channel features predict a channel's value on the *training* networks' landscapes
    (validation labels): the per-network Spearman table, its summary with CIs over networks, and the
    generator's features = the structural ones + the channel features whose CI excludes 0."""
    ex = landscape_examples(bank, cfg.landscape_sparsity, cfg.train_networks, "val_acc")
    per_net = signal.feature_signal(ex, features=CHANNEL_FEATURES)
    table = signal.signal_table(per_net)
    chosen = tuple(f for f in signal.select_features(table) if f in CHANNEL_FEATURES)
    return per_net, table, STRUCTURAL_FEATURES + chosen


#: Features of a channel's layer (the allocation across layers reads them) and of the channel itself.
STRUCTURAL_FEATURES = ("depth", "log_width", "width_share", "log_fan_in", "is_linear")
CHANNEL_FEATURES = tuple(f for f in gan_features.FEATURES if f not in STRUCTURAL_FEATURES)


def expected_on_landscape(generator, bank, network: int, sparsity: float, column: str) -> float:
    """Exact expected ``column`` of a mask drawn by ``generator`` on ``network``'s landscape
    (probabilities from the exact distribution; they sum to 1 over the collapse-free masks)."""
    rows = landscape_rows(bank, sparsity, (network,))
    masks = [ChannelMask.from_dict(m) for m in rows["mask"]]
    p = generator.mask_probabilities(bank.baselines[network].model, masks, sparsity)
    return comparison.expected_accuracy(p.numpy(), rows[column].to_numpy(float))


def design_choice(bank, cfg: Configs, features: tuple[str, ...], *, workers: int | None = None,
                  progress: bool = True) -> pd.DataFrame:
    """Each (entropy_weight, critic_weight) of ``cfg.grid``, leave-one-network-out on the *training*
    networks' landscapes: for each training network ``j``, a critic and a generator (seed
    ``cfg.choice_seed``, reading ``features``) fitted on the other training networks, scored by the
    exact expected validation accuracy of its masks on ``j``'s landscape and that value's percentile
    there. One row per (grid point, network)."""
    s, train, seed = cfg.landscape_sparsity, cfg.train_networks, cfg.choice_seed
    folds = {j: tuple(n for n in train if n != j) for j in train}
    kw = {"steps": cfg.critic_steps, "seed": seed, "features": tuple(features)}
    gan.in_processes([(gan.fit_critic, (bank,), {**kw, "networks": others}) for others in folds.values()],
                     workers, "critics (leave-one-out)", progress)
    critics = {j: gan.fit_critic(bank, networks=others, **kw) for j, others in folds.items()}
    jobs = [(e, c, j) for e, c in cfg.grid for j in folds]
    configs = [replace(cfg.gan, networks=folds[j], features=tuple(features), entropy_weight=e,
                       critic_weight=c, seed=seed) for e, c, j in jobs]
    gens = gan.fit_many(bank, configs, critics=[critics[j] for _, _, j in jobs], workers=workers,
                        progress=progress)
    rows = []
    for (e, c, j), g in zip(jobs, gens):
        land = landscape_rows(bank, s, (j,))
        exp = expected_on_landscape(g, bank, j, s, "val_acc")
        rows.append({"entropy_weight": e, "critic_weight": c, "network": j, "expected_val_acc": exp,
                     "percentile": comparison.percentile_of(exp, land["val_acc"])})
    return pd.DataFrame(rows)


def chosen_design(choice: pd.DataFrame) -> tuple[float, float]:
    """The (entropy_weight, critic_weight) with the highest mean expected validation accuracy over the
    left-out training networks (ties: the first in grid order)."""
    means = choice.groupby(["entropy_weight", "critic_weight"], sort=False)["expected_val_acc"].mean()
    e, c = means.idxmax()
    return float(e), float(c)


def expected_table(generators: dict, bank, cfg: Configs, reported: pd.DataFrame) -> pd.DataFrame:
    """Per learned method (name → generators) of ``generators``, held-out network and generator seed:
    the exact expected test accuracy of its masks on the network's landscape (labels: the bank's
    test accuracy, ``reported``'s networks) and its percentile there."""
    rows = []
    s = cfg.landscape_sparsity
    for r in reported.itertuples():
        labels = landscape_rows(bank, s, (r.network,))["retrained_acc"]
        for method, gens in generators.items():
            for g in gens:
                exp = expected_on_landscape(g, bank, r.network, s, "retrained_acc")
                rows.append({"method": method, "setting": r.setting, "network": r.network, "sparsity": s,
                             "seed": g.config.seed, "expected_acc": exp,
                             "percentile": comparison.percentile_of(exp, labels)})
    return pd.DataFrame(rows, columns=["method", "setting", "network", "sparsity", "seed", "expected_acc",
                                       "percentile"])


def designs(cfg: Configs, features: tuple[str, ...], chosen: tuple[float, float]) -> dict[str, GanConfig]:
    """The learned designs compared: ``"gan"`` (the chosen entropy and critic weights, reading
    ``features``) and the ablation's variant with the other critic weight
    (``"gan-discriminator-only"`` when the chosen design uses the critic, else ``"gan-critic-reward"``)."""
    entropy, critic = chosen
    main = replace(cfg.gan, features=tuple(features), entropy_weight=entropy, critic_weight=critic)
    alt_name = "gan-discriminator-only" if critic > 0 else "gan-critic-reward"
    return {"gan": main, alt_name: replace(main, critic_weight=0.0 if critic > 0 else 1.0)}


def fit_learned(banks: dict, cfg: Configs, design: dict[str, GanConfig], *, progress: bool = True):
    """Per setting: one critic per generator seed (reading the designs' features), and per design one
    generator per seed (generator ``i`` with critic ``i``). Returns ``(critics, generators,
    quality, seconds)``: setting → list of critics; setting → design name → list of generators; the
    critics' Spearman on the held-out networks' bank masks (:func:`critic_quality`, one row per critic
    seed); setting → mean fit seconds of one critic and one main generator (of the fits that made
    them, also when loaded from the cache)."""
    features = design["gan"].features
    critics, generators, quality, seconds = {}, {}, [], {}
    for setting, b in banks.items():
        crit = gan.fit_critics(b, networks=cfg.train_networks, seeds=cfg.gan_seeds, steps=cfg.critic_steps,
                               features=features, progress=progress)
        gens = {name: gan.fit_many(b, [replace(c, seed=s) for s in cfg.gan_seeds], critics=crit,
                                   progress=progress)
                for name, c in design.items()}
        held = gan.from_bank(b, networks=cfg.held_out, features=features)
        quality.append(pd.concat([critic_quality(c, held, setting).assign(seed=c.seed) for c in crit]))
        critics[setting], generators[setting] = crit, gens
        seconds[setting] = {"critic": float(np.mean([c.seconds for c in crit])),
                            "gan": float(np.mean([g.history[-1]["seconds"] for g in gens["gan"]]))}
    return critics, generators, pd.concat(quality, ignore_index=True), seconds


# --------------------------------------------------------------------------- standard criteria
def standard_methods(include_linear: bool) -> list[Method]:
    """The standard criteria the GAN is held against: the bank's criteria at temperature 0 with one
    channel per layer, and layer-wise uniform pruning (L1 or random within each layer)."""
    il = include_linear
    return [Method("l1", (), 1, il, name="l1-min1", label="L1, min 1/layer"),
            Method("tp-magnitude", (), 1, il, name="tp-magnitude-min1", label="TP magnitude, min 1/layer"),
            Method("tp-lamp", (), 1, il, name="tp-lamp-min1", label="TP LAMP, min 1/layer"),
            Method("tp-fpgm", (), 1, il, name="tp-fpgm-min1", label="TP FPGM, min 1/layer"),
            Method("uniform-l1", (), 1, il, name="uniform-l1", label="layer-wise uniform, L1 within"),
            Method("uniform-random", (), 1, il, name="uniform-random",
                   label="layer-wise uniform, random within")]


#: Deterministic standard criteria (one mask per network): the candidates for the best one.
CRITERION_CANDIDATES = ("l1-min1", "tp-magnitude-min1", "tp-lamp-min1", "tp-fpgm-min1", "uniform-l1")


def criterion_choice(cfg: Configs, setting: str, *, progress: bool = True, executor: str = "local",
                     ray_address: str | None = None) -> pd.DataFrame:
    """Each deterministic standard criterion on every *training* network at every sparsity, retrained
    with the bank's seeds and labelled by validation accuracy: one row per (criterion, network,
    sparsity, retraining seed) with ``val_acc``."""
    bank_cfg = cfg.banks[setting]
    frames = []
    for n in cfg.train_networks:
        base = baseline(cfg.networks[n], progress=progress)
        jobs = []
        for m in standard_methods(SETTINGS[setting]):
            if m.name not in CRITERION_CANDIDATES:
                continue
            for s in cfg.sparsities:
                if not counts.is_feasible(layer_sizes(base.model, include_linear=SETTINGS[setting]), s, 1):
                    continue
                mask = m.prune(base.model, s, seed=0)
                for r in range(bank_cfg.retrain_seeds):
                    jobs.append(runner.Job(mask, replace(bank_cfg.retrain, seed=bank_cfg.retrain.seed + r),
                                           {"method": m.name, "network": n, "sparsity": s,
                                            "setting": setting}))
        frames.append(runner.run(base, jobs, progress=progress, executor=executor, ray_address=ray_address))
    df = pd.concat(frames, ignore_index=True)
    return df.rename(columns={"retrained_val_acc": "val_acc"})


def best_criteria(choice: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, sparsity): each criterion's mean validation accuracy over the training networks
    and seeds, and the best one (``best``: True on its row)."""
    t = (choice.groupby(["setting", "sparsity", "method"], sort=False)["val_acc"].mean()
         .rename("val_acc").reset_index())
    t["best"] = t.groupby(["setting", "sparsity"])["val_acc"].transform("max") == t["val_acc"]
    t["best"] &= ~t.duplicated(["setting", "sparsity", "best"]) | ~t["best"]  # ties: the first in list order
    return t


def chosen_criterion(best: pd.DataFrame, setting: str, sparsity: float) -> str:
    row = best[(best["setting"] == setting) & np.isclose(best["sparsity"], sparsity) & best["best"]]
    if row.empty:
        raise ValueError(f"no standard criterion was chosen for {setting!r} at sparsity {sparsity}")
    return str(row["method"].iloc[0])


# --------------------------------------------------------------------------------- methods
def entries(*, include_linear: bool, generators: dict, critics: list, bank=None, network: int | None = None,
            sparsity: float, cfg: Configs) -> list[protocol.Entry]:
    """The methods compared on one network at one sparsity. ``generators``: method name → list of
    generators, generator ``i`` proposes mask ``i`` (pair ``i``); ``critics[i]`` ranks the candidates of
    pair ``i`` for the critic-ranked methods. Then the untrained generator (uniform over collapse-free
    masks), random-min1, random-min1 + critic, every standard criterion and the best bank mask of
    ``network`` re-measured (when ``bank`` is given)."""
    seed, k, il = cfg.protocol.seed, cfg.protocol.critic_candidates, include_linear
    cand = seed + CANDIDATE_OFFSET  # candidates of the critic-ranked methods: no mask of another method
    feats = lambda model: critics[0].features(model, include_linear=il)  # noqa: E731
    out = []
    for name, gens in generators.items():
        m = Method("gan", (), 1, il, name=name, label=VARIANTS.get(name, name))
        out.append(protocol.Entry(m.labels(), protocol.per_trial_proposer(
            lambda i, m=m, gens=gens: protocol.method_proposer(m, seed, generator=gens[i])), 1))
    main = generators["gan"]
    pick = Method("gan", (), 1, il, name="gan+critic", label=f"GAN + critic, best of {k}")
    out.append(protocol.Entry(pick.labels(), protocol.per_trial_proposer(
        lambda i: protocol.critic_proposer(lambda model, s, first, n: main[i].sample(model, s, n, seed=first,
                                                                                     include_linear=il),
                                           critics[i], feats, k, cand)), 1))
    rm = Method("random", (), 1, il, name="random-min1", label="random, min 1/layer")
    rc = Method("random", (), 1, il, name="random-min1+critic", label=f"random-min1 + critic, best of {k}")
    out.append(protocol.Entry(rc.labels(), protocol.per_trial_proposer(
        lambda i: protocol.critic_proposer(protocol.method_candidates(rm), critics[i], feats, k, cand)), 1))
    for m in (Method("uniform-collapse-free", (), 1, il, name="uniform-collapse-free",
                     label=VARIANTS["uniform-collapse-free"]), rm, *standard_methods(il)):
        out.append(protocol.entry(m, seed))
    if bank is not None:
        row = bank.best(sparsity, baseline=network)
        out.append(protocol.Entry({"method": "best-bank", "label": "best bank mask (re-measured)",
                                   "strategy": "bank", "min_channels_per_layer": None, "temperature": None,
                                   "bank_acc": float(row[bank.label])},
                                  protocol.fixed_proposer(ChannelMask.from_dict(row["mask"])), 0))
    return out


def evaluate(cfg: Configs, setting: str, generators: dict, critics: list, *, bank=None, progress: bool = True,
             executor: str = "local", ray_address: str | None = None) -> pd.DataFrame:
    """The protocol in one setting: every method of :func:`entries` at every sparsity on every
    held-out network of ``bank`` (``setting`` ``"conv"`` or ``"conv+linear"``), or on the transfer
    network when ``setting == "transfer"`` (conv channels, no bank). One row per mask, with
    ``setting`` and ``network`` (the bank index; 0 for the transfer network)."""
    if setting == "transfer":
        nets, il = [(0, baseline(cfg.transfer, progress=progress), None)], False
    else:
        il = SETTINGS[setting]
        nets = [(n, bank.baselines[n], bank) for n in cfg.held_out]
    frames = []
    for net, base, b in nets:
        jobs = []
        for s in cfg.sparsities:
            es = entries(include_linear=il, generators=generators, critics=critics, bank=b, network=net,
                         sparsity=s, cfg=cfg)
            jobs += protocol.jobs(base.model, s, es, cfg.protocol, include_linear=il,
                                  labels={"setting": setting, "network": net, "model": base.config.model})
        frames.append(runner.run(base, jobs, progress=progress, executor=executor, ray_address=ray_address))
    return pd.concat(frames, ignore_index=True)


def with_best_criterion(df: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """``df`` plus a copy of the chosen standard criterion's rows per (setting, sparsity) as method
    ``best-criterion`` (transfer uses the conv setting's choice)."""
    extra = []
    for (setting, s), g in df.groupby(["setting", "sparsity"]):
        name = chosen_criterion(best, "conv" if setting == "transfer" else setting, s)
        extra.append(g[g["method"] == name].assign(method="best-criterion",
                                                   label=f"best standard criterion ({name})"))
    return pd.concat([df, *extra], ignore_index=True)


# ------------------------------------------------------------------------------------- verdicts
def statistics(df: pd.DataFrame, expected: pd.DataFrame | None,
               reported_landscapes: pd.DataFrame | None) -> pd.DataFrame:
    """Every statistic a target can judge: paired differences of each learned variant against every
    other method, and (where exhaustive landscapes exist) the exact expected accuracy and the SD
    across seeds of the learned variants."""
    frames = [comparison.paired_stats(df, list(VARIANTS))]
    if expected is not None and not expected.empty and reported_landscapes is not None:
        frames.append(comparison.landscape_stats(expected, reported_landscapes))
    return pd.concat([f for f in frames if not f.empty], ignore_index=True)


def ablation(stats: pd.DataFrame, targets=TARGETS) -> pd.DataFrame:
    """Design variant × target: cells met of cells checked (``"met/total"``), each variant judged by
    the same targets in place of the GAN (same seeds and pairs for every row)."""
    from ..analysis.targets import check

    rows = {}
    for method, label in VARIANTS.items():
        ts = [replace(t, method=method) for t in targets if t.method == "gan" and t.other != method]
        c = check(ts, stats)
        rows[label] = {t.name: (f"{int(c[c.target == t.name]['met'].sum())}/{int((c.target == t.name).sum())}"
                                if (c.target == t.name).any() else "–") for t in ts}
    return pd.DataFrame(rows).T.fillna("–")


def verdict(checks: pd.DataFrame, targets=TARGETS) -> str:
    """One Markdown bullet per target: met in how many cells, with each cell's judged CI."""
    lines = []
    for t in targets:
        g = checks[checks["target"] == t.name]
        if g.empty:
            lines.append(f"{t.name} ({t.describe()}): **not checked** (no cell in this run).")
            continue
        status = "met" if g["met"].all() else "not met"
        cells = "; ".join(_cell_text(r) for r in g.itertuples())
        lines.append(f"{t.name} ({t.describe()}): **{status}** "
                     f"({int(g['met'].sum())}/{len(g)} cells) — {cells}.")
    return "\n".join(f"- {line}" for line in lines)


def _cell_text(r) -> str:
    where = f"{r.setting} net {r.network} {r.sparsity:.0%}"
    if r.target.startswith("at least the landscape"):
        return f"{where}: {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] vs {r.threshold:.3f}"
    if r.target.startswith("SD across"):
        return f"{where}: {r.value:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}] points"
    return f"{where}: {r.value:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}]"


def collapse_sweep(generators, models: dict, *, include_linear: bool, n: int = 20, seed: int = 0,
                   step: float = 0.05) -> pd.DataFrame:
    """Sample ``n`` masks from every generator on every model (name → network) at every sparsity
    ``step, 2·step, …`` feasible with one channel per layer; count the masks with a collapsed layer
    (a property check of the generator: collapse is impossible by construction)."""
    rows = []
    grid = [round(step * i, 6) for i in range(1, int(round(1 / step)))]
    for name, model in models.items():
        sizes = layer_sizes(model, include_linear=include_linear)
        for s in counts.feasible_sparsities(sizes, 1, grid):
            for g in generators:  # one batch of n draws (a property check needs no per-mask seeds)
                feats = g.features(model, include_linear=include_linear)
                with torch.no_grad():
                    vectors = g.distribution(feats, s).sample(n, torch.Generator().manual_seed(seed))
                masks = [ChannelMask.from_vector(v, feats.size_dict()) for v in vectors]
                rows.append({"model": name, "sparsity": s, "generator_seed": g.config.seed,
                             "masks": len(masks),
                             "collapsed": sum(bool(m.collapsed_layers()) for m in masks),
                             "exact_count": all(m.n_pruned == counts.n_pruned(m.n_channels, s)
                                                for m in masks)})
    return pd.DataFrame(rows)


def headlines(cells: pd.DataFrame, checks: pd.DataFrame, stats: pd.DataFrame, best: pd.DataFrame,
              targets=TARGETS) -> dict[str, float | str]:
    """Values to glue: ``{setting}_{method}_acc_{pct}`` averaged over the held-out networks
    (``conv+linear`` → ``linear``; ``-``/``+`` → ``_``); per target ``target_<slug>_met`` / ``_cells``
    / ``_status`` (``"met"`` in every checked cell, ``"not met"``, ``"not checked"``);
    the best standard criterion's name per (setting, sparsity) (``best_criterion_{setting}_{pct}``)
    and the GAN's mean paired margin over it and over random-min1, in points, averaged over the
    held-out networks (``margin_best_{setting}_{pct}``, ``margin_random_{setting}_{pct}``)."""
    out: dict[str, float | str] = {}
    short = lambda s: s.replace("conv+linear", "linear")  # noqa: E731
    for (setting, method, s), g in cells.groupby(["setting", "method", "sparsity"]):
        out[f"{short(setting)}_{_slug(method)}_acc_{round(s * 100)}"] = float(g["mean"].mean())
    for t in targets:
        g = checks[checks["target"] == t.name]
        out[f"target_{_slug(t.name)}_met"] = float(g["met"].sum())
        out[f"target_{_slug(t.name)}_cells"] = float(len(g))
        out[f"target_{_slug(t.name)}_status"] = ("not checked" if g.empty
                                                 else "met" if bool(g["met"].all()) else "not met")
    for r in best[best["best"]].itertuples():
        out[f"best_criterion_{short(r.setting)}_{round(r.sparsity * 100)}"] = str(r.method)
    paired = stats[(stats["statistic"] == "paired") & (stats["method"] == "gan")]
    for (setting, s, other), g in paired.groupby(["setting", "sparsity", "other"]):
        if other in ("best-criterion", "random-min1"):
            name = "best" if other == "best-criterion" else "random"
            out[f"margin_{name}_{short(setting)}_{round(s * 100)}"] = float(g["value"].mean())
    return out


def one_off_costs(bank_evaluations: int, fit_seconds: dict, cfg: Configs) -> dict[str, str]:
    """Method → the one-off cost it shares (bank retrainings, mean seconds to fit one generator and
    one critic, averaged over the settings)."""
    gan_s = float(np.mean([v["gan"] for v in fit_seconds.values()]))
    critic_s = float(np.mean([v["critic"] for v in fit_seconds.values()]))
    bank = f"{bank_evaluations} bank retrainings"
    per = f"{len(cfg.gan_seeds)} seeds ×"
    return {"gan": f"{bank} + {per} (GAN {gan_s:.0f} s + critic {critic_s:.0f} s)",
            "gan-discriminator-only": f"{bank} + {per} GAN {gan_s:.0f} s",
            "gan-critic-reward": f"{bank} + {per} (GAN {gan_s:.0f} s + critic {critic_s:.0f} s)",
            "gan+critic": f"{bank} + {per} (GAN {gan_s:.0f} s + critic {critic_s:.0f} s)",
            "random-min1+critic": f"{bank} + {per} critic {critic_s:.0f} s", "best-bank": bank}


def extra_numbers(cfg: Configs, splits: dict, design: pd.DataFrame, chosen: tuple[float, float],
                  signal_summary: pd.DataFrame, features: tuple[str, ...], quality: pd.DataFrame,
                  expected: pd.DataFrame, retrain_epochs: int) -> dict[str, float | str]:
    """The chapter's other glued values: split sizes, networks, seeds, the chosen design and features,
    the critics' quality and the exact landscape results (mean over seeds and held-out networks)."""
    out: dict[str, float | str] = {
        "gan_retrain_epochs": float(retrain_epochs), "gan_replicate": float(cfg.seed),
        "gan_n_train": float(splits["train"]), "gan_n_val": float(splits["val"]),
        "gan_n_test": float(splits["test"]),
        "gan_networks_train": float(len(cfg.train_networks)),
        "gan_networks_held_out": float(len(cfg.held_out)),
        "gan_seeds": float(len(cfg.gan_seeds)),
        "gan_entropy_weight": chosen[0], "gan_critic_weight": chosen[1],
        "gan_features": ", ".join(f for f in features if f in CHANNEL_FEATURES) or "none",
        "gan_features_with_signal": float(signal_summary["signal"].sum()),
        "gan_features_tried": float(len(signal_summary))}
    top = signal_summary.iloc[0]
    out.update({"signal_top_feature": str(top["feature"]), "signal_top_spearman": float(top["mean"])})
    for setting, g in quality.groupby("setting"):
        out[f"critic_spearman_collapse_free_{setting.replace('conv+linear', 'linear')}"] = float(
            g["spearman_collapse_free"].mean())
    for method, g in expected.groupby("method"):
        out[f"landscape_{_slug(method)}_expected"] = float(g["expected_acc"].mean())
        out[f"landscape_{_slug(method)}_percentile"] = float(g["percentile"].mean())
    return out


def _slug(text: str) -> str:
    slug = "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")
    while "__" in slug:
        slug = slug.replace("__", "_")
    return slug
