"""Chapter 6's settings and parameters: the two LeNet-5 settings, the seed families of a replicate,
the targets (data), the chapter's parameters as one frozen object (:class:`Chapter6Params`, with
:data:`DEFAULTS` and the smoke run's :data:`SMOKE_PARAMS`) and the configs built from it
(:func:`configs`)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from ...analysis.targets import Target
from ...core.validate import check_bool, check_int, check_number, check_sequence, check_sparsities
from ...data import DEFAULT_N_VAL, LOADERS
from ...gan import features as gan_features
from ...gan.config import GanConfig
from ...gan.shipped import SETTINGS as SHIPPED_SETTINGS
from ...models import MODELS
from ...runs import protocol
from ...runs.bank import CRITERIA as BANK_CRITERIA
from ...runs.bank import BankConfig
from ...runs.baseline import BaselineConfig
from ...train import TrainConfig
from ..part1 import SMOKE_DATA


#: The two LeNet-5 settings: name → include_linear.
SETTINGS = {name: include_linear for name, (_, include_linear) in SHIPPED_SETTINGS.items()}


#: The bank's randomised standard methods (each at every temperature, with and without one channel per layer).
CRITERIA = ("noisy-l1", "tp-magnitude", "tp-lamp", "tp-fpgm")


#: Seeds of replicate ``r``: networks, generators and critics ``r · SEED_STRIDE + i`` (the
#: leave-one-network-out choice uses ``r · SEED_STRIDE + SEED_STRIDE − 1``, never a measuring seed);
#: the data split ``data_seed = r``; bank retraining ``BANK_STRIDE · r + j``; the protocol's masks and
#: retraining ``PROTOCOL_SEED + r · PROTOCOL_STRIDE + i``, its critic-ranked candidates from
#: ``… + CANDIDATE_OFFSET`` on. :class:`Chapter6Params` checks that the families of two replicates,
#: and the families within one, never meet.
SEED_STRIDE = 100


BANK_STRIDE = 10


PROTOCOL_SEED = 1000


PROTOCOL_STRIDE = 10_000


CANDIDATE_OFFSET = 5_000


#: The targets (issues 13, 15 and 20), judged on the CI (never on a mean), in the order they are shown.
#: In the two LeNet-5 settings the CI is over networks (every network held out once: ``networks_*``
#: statistics); the transfer network is one network, judged on its pairs (every fold's).
TARGETS = (
    Target("at least the landscape's 85th percentile", "networks_landscape", "gan", "p85", settings=("conv",),
           comparison=">=", threshold=0.0),
    Target("most probable mask: at least the landscape's 85th percentile", "networks_landscape", "gan-mode",
           "p85", settings=("conv",), comparison=">=", threshold=0.0),
    Target("beats random-min1", "networks_paired", "gan", "random-min1", threshold=0.0),
    Target("at least L1-min1", "networks_paired", "gan", "l1-min1", threshold=-1.0),
    Target("at least the best standard criterion", "networks_paired", "gan", "best-criterion",
           threshold=-1.0),
    Target("GAN's most probable mask at least the best standard criterion", "networks_paired", "gan-mode",
           "best-criterion", threshold=-1.0),
    Target("GAN's most probable mask beats random-min1", "networks_paired", "gan-mode", "random-min1",
           threshold=0.0),
    Target("GAN + critic beats the best standard criterion", "networks_paired", "gan+critic",
           "best-criterion", threshold=0.0),
    Target("within 2 points of the best bank mask", "networks_paired", "gan", "best-bank",
           settings=("conv+linear",), threshold=-2.0),
    Target("at least random-min1 + critic", "networks_paired", "gan", "random-min1+critic",
           settings=("conv+linear",), threshold=-1.0),
    Target("transfer: within 1 point of random-min1", "paired", "gan", "random-min1", settings=("transfer",),
           threshold=-1.0),
    Target("SD across generator seeds at most 1.5 points", "networks_seed_sd", "gan", settings=("conv",),
           bound="ci_high", comparison="<=", threshold=1.5),
    Target("the adversarial stage beats likelihood only", "networks_paired", "gan", "gan-likelihood",
           threshold=0.0),
    Target("fit: final generators in-sample within 2 points of the bank", "networks_fit",
           "gan-final", "soft-bank", threshold=-2.0),
    Target("fit: no generator of the GAN diverged", "fits_diverged", "gan-fits", bound="value",
           comparison="<=", threshold=0.0),
)


#: Learned methods and the designs of the ablation (method name → reader's label), in the ablation's order:
#: the GAN (likelihood stage, then the adversarial stage, chosen entropy and critic weights), its most
#: probable mask, the likelihood stage alone (no discriminator), the adversarial stage from the untrained
#: generator (the third design's training), critic-ranked search, the untrained generator.
VARIANTS = {"gan": "GAN (chosen design)", "gan-mode": "GAN's most probable mask",
            "gan-likelihood": "likelihood only", "gan-from-scratch": "GAN from scratch",
            "gan+critic": "GAN + critic best-of-K", "random-min1+critic": "random-min1 + critic best-of-K",
            "uniform-collapse-free": "uniform collapse-free (untrained generator)"}


#: Baselines that take the GAN apart (issue 29), each a method of the protocol: ``gan-alloc-{c}`` keeps
#: as many channels per layer as GAN mask ``i`` (its allocation) and chooses them within each layer by
#: criterion ``c`` (a scorer of :mod:`prunegan.pruning.scorers`); ``uniform-{c}`` keeps the same share of
#: every layer, chosen by ``c`` (``uniform-l1`` is a standard criterion already). The criteria are L1 and
#: the image statistics behind every channel feature a generator may read.
FEATURE_CRITERIA = ("taylor", "act-mean", "act-nonzero", "out-mass", "hrank", "ablation-loss",
                    "only-kept-acc")
ALLOCATION_CRITERIA = ("l1", *FEATURE_CRITERIA)
#: Method name → reader's label of those baselines.
BASELINES = {**{f"gan-alloc-{c}": f"GAN's counts, {c}" for c in ALLOCATION_CRITERIA},
             **{f"uniform-{c}": f"uniform counts, {c}" for c in FEATURE_CRITERIA}}


#: Magnitude features every generator reads beside the structural ones (the best standard criterion in
#: the conv + Linear setting, LAMP, is a magnitude criterion; the conv landscapes' signal test never selects
#: them because magnitude is erratic there). Measured by issue 29 on four LeNet-5s no replicate trains.
MAGNITUDE_FEATURES = ("l1_z_layer", "l1_rank_layer", "l1_z_net", "l1_rank_net")


#: The adversarial stage's settings (issue 29; measured on fold 0 of replicate 0, its training networks'
#: banks only, generators reading the structural, magnitude and fold-0 features). After the likelihood stage
#: the discriminator no longer wins outright (it ends near 0.45 on bank and generated masks), but in the
#: conv + Linear setting the adversarial stage alone drifts away from the bank: the bank likelihood over the
#: untrained generator fell from +37 nats per mask to −430 without a stabiliser and to −9 with label
#: smoothing 0.1, and stayed at +37 with the likelihood loss kept as an anchor (weight 1) or with an R1
#: penalty (weight 1, twice the time). One-sided label smoothing 0.1 and the anchor are used.
STABILISERS = {"label_smoothing": 0.1, "r1_weight": 0.0, "likelihood_weight": 1.0}


@dataclass(frozen=True)
class Chapter6Params:
    """Every parameter of chapter 6 (the notebook's ``parameters`` cell, minus where it runs).

    - ``seed``: the replicate; it shifts every seed family (networks, data split, bank draws and
      retraining, generators, critics, protocol; see :data:`SEED_STRIDE`).
    - ``smoke``: the networks train on the shared 400 / 200-image subset (``part1.SMOKE_DATA``).
    - ``data``, ``epochs``: the data set and every network's training epochs; ``networks`` LeNet-5s,
      cross-fitted in ``folds`` folds (:func:`fold_networks`): each fold's networks are held out while
      everything is learned and chosen on the other folds', so every network is held out exactly
      once; ``n_val`` (≥ 1) validation images carved from the training images (everything that chooses
      reads them).
    - Banks: ``sparsities``, ``temperatures`` and ``criteria`` of the noisy criteria, ``draws`` per
      (criterion, temperature, minimum), ``retrain_seeds`` per label, topped up to ``min_distinct``
      masks, every collapse-free mask where there are at most ``exhaustive_limit``.
    - ``retrain_epochs``: the one retraining budget of every mask in the chapter.
    - Learned methods: ``likelihood_steps`` of the likelihood stage, then ``gan_steps`` adversarial steps,
      ``gan_seeds`` generators (and critics) per design, the grid
      ``entropy_weights`` × ``critic_weights`` tried leave-one-network-out, ``critic_steps``.
    - Protocol: ``samples`` pairs per (method, network, sparsity) (= ``gan_seeds``: pair ``i`` uses
      seed ``i`` of its fold), ``critic_candidates`` for best-of-K; ``transfer_model`` is the unseen
      architecture (measured with every fold's learned methods: ``folds × samples`` pairs).

    Lists are stored as tuples; a bad value raises ``ValueError`` naming it and the allowed range."""

    seed: int = 0
    smoke: bool = False
    data: str = "mnist-5k"
    epochs: int = 10
    networks: int = 10
    folds: int = 5
    n_val: int = DEFAULT_N_VAL
    sparsities: tuple[float, ...] = (0.8, 0.9)
    temperatures: tuple[float, ...] = (0.0, 1.0)
    criteria: tuple[str, ...] = CRITERIA
    draws: int = 2
    retrain_epochs: int = 1
    retrain_seeds: int = 3
    min_distinct: int = 24
    exhaustive_limit: int = 200
    likelihood_steps: int = 600
    gan_steps: int = 300
    gan_seeds: int = 4
    entropy_weights: tuple[float, ...] = (0.0, 0.1, 0.3)
    critic_weights: tuple[float, ...] = (0.0, 1.0)
    critic_steps: int = 500
    samples: int = 4
    critic_candidates: int = 16
    transfer_model: str = "lenet5-caffe"

    def __post_init__(self) -> None:
        p = "Chapter6Params."
        check_bool(p + "smoke", self.smoke)
        LOADERS.get(self.data)
        MODELS.get(self.transfer_model)
        for name, low in (("seed", 0), ("epochs", 1), ("networks", 3), ("folds", 2), ("n_val", 1),
                          ("draws", 1), ("retrain_epochs", 1), ("retrain_seeds", 1), ("min_distinct", 0),
                          ("exhaustive_limit", 0), ("likelihood_steps", 1), ("gan_steps", 1),
                          ("gan_seeds", 2), ("critic_steps", 1), ("samples", 1), ("critic_candidates", 1)):
            check_int(p + name, getattr(self, name), low)
        object.__setattr__(self, "sparsities", check_sparsities(p + "sparsities", self.sparsities))
        for name in ("temperatures", "entropy_weights", "critic_weights"):
            values = check_sequence(p + name, getattr(self, name))
            object.__setattr__(self, name, tuple(check_number(f"{p}{name} entry", v, 0) for v in values))
        crit = check_sequence(p + "criteria",
                              (self.criteria,) if isinstance(self.criteria, str) else self.criteria)
        if any(c not in BANK_CRITERIA for c in crit) or len(set(crit)) != len(crit):
            raise ValueError(f"{p}criteria must be distinct names from {BANK_CRITERIA}, "
                             f"got {self.criteria!r}")
        object.__setattr__(self, "criteria", crit)
        largest = -(-self.networks // self.folds)
        if self.folds > self.networks or self.networks - largest < 2:
            raise ValueError(f"folds={self.folds} must be at most networks={self.networks} and leave at "
                             f"least two networks to train on in every fold (the largest holds {largest} "
                             "out; choices are made leave-one-network-out)")
        limits = {"networks": (self.networks, SEED_STRIDE), "gan_seeds": (self.gan_seeds, SEED_STRIDE - 1),
                  "retrain_seeds": (self.retrain_seeds, BANK_STRIDE),
                  "folds × samples × critic_candidates": (self.folds * self.samples * self.critic_candidates,
                                                          PROTOCOL_STRIDE - CANDIDATE_OFFSET)}
        for name, (value, most) in limits.items():
            if value > most:
                raise ValueError(f"{name}={value} is above {most}: the seeds of two replicates would meet")
        if self.samples != self.gan_seeds:
            raise ValueError(f"samples={self.samples} must equal gan_seeds={self.gan_seeds}: "
                             "pair i uses the generator of seed i")


#: The full chapter's parameters (the notebook's parameters cell holds these values).
DEFAULTS = Chapter6Params()


#: Smoke runs: everything tiny (the shared 400/200-image subset, 100 validation images, one epoch).
SMOKE_PARAMS = replace(DEFAULTS, smoke=True, networks=3, folds=3, n_val=100, temperatures=(0.0,),
                       criteria=("noisy-l1",), draws=1, retrain_epochs=1, retrain_seeds=1, min_distinct=6,
                       samples=3, likelihood_steps=10, gan_steps=10, gan_seeds=3, critic_steps=20,
                       critic_candidates=3, epochs=1, entropy_weights=(0.0, 0.1), critic_weights=(1.0,))


def smoke_sets() -> tuple[str, ...]:
    """The parameters that :data:`SMOKE_PARAMS` sets (those that differ from :data:`DEFAULTS`)."""
    return tuple(f.name for f in fields(Chapter6Params)
                 if f.name != "smoke" and getattr(SMOKE_PARAMS, f.name) != getattr(DEFAULTS, f.name))


def params_from_cell(*, smoke: bool, **values) -> Chapter6Params:
    """The chapter's parameters from the notebook's plain values: ``Chapter6Params(**values)``, or
    with ``smoke=True`` :data:`SMOKE_PARAMS` with ``values`` applied. A value passed with smoke that
    smoke sets (:func:`smoke_sets`) and that differs from its default raises ``ValueError``: smoke
    fixes it, and the run would otherwise not be the one asked for. (A value equal to its default is the
    cell's default: smoke's value stands; every other value — ``seed``, ``data``, … — is applied.)"""
    smoke = check_bool("smoke", smoke)
    unknown = sorted(set(values) - {f.name for f in fields(Chapter6Params)})
    if unknown:
        raise ValueError(f"unknown chapter 6 parameters {unknown}; "
                         f"valid: {[f.name for f in fields(Chapter6Params) if f.name != 'smoke']}")
    if not smoke:
        return Chapter6Params(**values)
    given = {k: v for k, v in values.items()
             if _normal(v) != _normal(getattr(DEFAULTS, k))}
    clash = {k: v for k, v in given.items() if k in smoke_sets()}
    if clash:
        fixed = ", ".join(f"{k}={getattr(SMOKE_PARAMS, k)!r}" for k in clash)
        asked = ", ".join(f"{k}={v!r}" for k, v in clash.items())
        raise ValueError(f"smoke=True fixes {fixed}, but {asked} was passed too: "
                         "drop smoke to run those sizes, or leave them at their defaults")
    return replace(SMOKE_PARAMS, **given)


def _normal(v):
    return tuple(v) if isinstance(v, list) else v


def fold_networks(networks: int, folds: int) -> tuple[tuple[int, ...], ...]:
    """The cross-fitting folds: networks ``0 … networks − 1`` in ``folds`` contiguous blocks whose sizes
    differ by at most one (10 networks, 5 folds: ``(0, 1), (2, 3), …``). Every network is in exactly one."""
    networks, folds = check_int("networks", networks, 1), check_int("folds", folds, 1)
    if folds > networks:
        raise ValueError(f"folds={folds} must be at most networks={networks}")
    sizes = [networks // folds + (k < networks % folds) for k in range(folds)]
    starts = [sum(sizes[:k]) for k in range(folds)]
    return tuple(tuple(range(a, a + n)) for a, n in zip(starts, sizes))


@dataclass(frozen=True)
class Configs:
    """Every config of notebook 06, built by :func:`configs` from ``params``: the chapter's (``fold``
    ``None``: every network is a held-out network once) or one fold's (:meth:`fold`: its networks held
    out, the other folds' networks to learn and choose on)."""

    params: Chapter6Params
    networks: tuple[BaselineConfig, ...]
    folds: tuple[tuple[int, ...], ...]           # the cross-fitting folds (network indices)
    banks: dict = field(hash=False)              # setting → BankConfig
    gan: GanConfig                               # seed, features, entropy and critic weights set later
    gan_seeds: tuple[int, ...]
    choice_seed: int                             # the leave-one-network-out fits' seed (not a measuring one)
    grid: tuple[tuple[float, float], ...]        # (entropy_weight, critic_weight) tried leave-one-network-out
    critic_steps: int
    protocol: protocol.ProtocolConfig
    transfer: BaselineConfig
    fold_index: int | None = None

    @property
    def seed(self) -> int:
        """The replicate."""
        return self.params.seed

    @property
    def sparsities(self) -> tuple[float, ...]:
        return self.params.sparsities

    @property
    def retrain_epochs(self) -> int:
        """Epochs of every retraining in the chapter (bank labels and protocol)."""
        return self.protocol.retrain.epochs

    @property
    def held_out(self) -> tuple[int, ...]:
        """The networks measured: the fold's, or (for the chapter) every network."""
        if self.fold_index is None:
            return tuple(range(len(self.networks)))
        return self.folds[self.fold_index]

    @property
    def train_networks(self) -> tuple[int, ...]:
        """The networks everything of the fold is learned and chosen on (the other folds')."""
        if self.fold_index is None:
            raise ValueError("the chapter's Configs cross-fits every network: take one fold's configs "
                             f"with cfg.fold(k), k < {len(self.folds)}, to get its training networks")
        return tuple(i for i in range(len(self.networks)) if i not in self.held_out)

    @property
    def landscape_sparsity(self) -> float:
        return max(self.sparsities)

    def fold(self, k: int) -> Configs:
        """Fold ``k``'s configs: its networks held out; generators fitted on the other folds' networks;
        its protocol seeds start at ``protocol.seed + k · samples · critic_candidates`` (mask, retraining
        and candidate seeds of two folds never meet, so the transfer network's pairs from every fold are
        independent)."""
        if self.fold_index is not None:
            raise ValueError(f"these are already fold {self.fold_index}'s configs")
        k = check_int("fold", k, 0)
        if k >= len(self.folds):
            raise ValueError(f"fold={k} must be below the number of folds, {len(self.folds)}")
        p = self.protocol
        first = p.seed + k * p.samples * p.critic_candidates
        proto = replace(p, seed=first, retrain=replace(p.retrain, seed=first))
        out = replace(self, fold_index=k, protocol=proto)
        return replace(out, gan=replace(self.gan, networks=out.train_networks))


def network_config(params: Chapter6Params, model: str, init_seed: int) -> BaselineConfig:
    """One network of the chapter: ``model`` from ``init_seed`` (also its training order), on the
    replicate's data split (``data_seed = params.seed``: replicate 0 keeps Part 1's split, replicate 1
    draws other training / validation / test images) with ``params.n_val`` validation images."""
    train = TrainConfig(epochs=params.epochs, seed=init_seed)
    return BaselineConfig(model=model, data=params.data, data_seed=params.seed, init_seed=init_seed,
                          train=train, n_val=params.n_val, **(SMOKE_DATA if params.smoke else {}))


def configs(params: Chapter6Params = DEFAULTS) -> Configs:
    """Notebook 06's configs from its parameters (:class:`Chapter6Params`)."""
    if not isinstance(params, Chapter6Params):
        raise ValueError("configs takes a Chapter6Params (e.g. DEFAULTS, SMOKE_PARAMS or "
                         f"params_from_cell(…)), got {params!r}")
    p = params
    base = p.seed * SEED_STRIDE
    bases = tuple(network_config(p, "lenet5", base + i) for i in range(p.networks))
    bank_retrain = TrainConfig(epochs=p.retrain_epochs, seed=BANK_STRIDE * p.seed)
    banks = {name: BankConfig(baselines=bases, sparsities=p.sparsities, temperatures=p.temperatures,
                              draws=p.draws, min_channels=(1,), include_linear=il, retrain=bank_retrain,
                              seed=p.seed, retrain_seeds=p.retrain_seeds, criteria=p.criteria,
                              min_distinct=p.min_distinct, exhaustive_limit=p.exhaustive_limit)
             for name, il in SETTINGS.items()}
    first = PROTOCOL_SEED + p.seed * PROTOCOL_STRIDE
    proto = protocol.ProtocolConfig(samples=p.samples, seed=first, critic_candidates=p.critic_candidates,
                                    retrain=TrainConfig(epochs=p.retrain_epochs, seed=first))
    protocol.check_disjoint(proto, bank_retrain, p.retrain_seeds)
    return Configs(params=p, networks=bases, folds=fold_networks(p.networks, p.folds),
                   banks=banks, gan=GanConfig(networks=None, steps=p.gan_steps,
                                                  likelihood_steps=p.likelihood_steps, **STABILISERS),
                   gan_seeds=tuple(base + i for i in range(p.gan_seeds)),
                   choice_seed=base + SEED_STRIDE - 1,
                   grid=tuple((e, c) for c in p.critic_weights for e in p.entropy_weights),
                   critic_steps=p.critic_steps, protocol=proto,
                   transfer=network_config(p, p.transfer_model, base))


#: Features of a channel's layer and of the channel itself (the catalogue's, :mod:`prunegan.gan.features`).
STRUCTURAL_FEATURES = gan_features.STRUCTURAL_FEATURES
CHANNEL_FEATURES = gan_features.CHANNEL_FEATURES


#: What every generator reads whatever the signal test selects: the structural and magnitude features.
BASE_FEATURES = STRUCTURAL_FEATURES + MAGNITUDE_FEATURES


def params_from_namespace(namespace: Mapping) -> Chapter6Params:
    """The chapter's parameters from the notebook's namespace (``globals()`` after its ``parameters``
    cell, papermill's injected values included): ``smoke`` and every :class:`Chapter6Params` field read
    by name, then :func:`params_from_cell`; other names (imports, ``executor``, …) are ignored. A missing
    name raises ``ValueError`` naming it."""
    names = ["smoke"] + [f.name for f in fields(Chapter6Params) if f.name != "smoke"]
    missing = [n for n in names if n not in namespace]
    if missing:
        raise ValueError(f"the notebook's namespace lacks the chapter 6 parameters {missing}: "
                         "define them in its parameters cell")
    return params_from_cell(**{n: namespace[n] for n in names})
