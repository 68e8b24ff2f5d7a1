"""Chapter 6 end to end: :func:`run` computes everything the chapter shows and returns one
:class:`Chapter6Result`; the notebook only displays its fields (``make replicate`` runs the same
notebook with ``seed=1``). Nothing here formats text: :mod:`.tables`, :mod:`.fits`, :mod:`.overview`
turn the result's frames into what a reader sees, :mod:`.summary` into the glued numbers."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from ...analysis import comparison, masks, signal
from ...analysis import targets as target_checks
from ...core import provenance
from ...pruning.executors import Execution
from ...runs import bank
from ...runs.baseline import baseline
from . import config as cf
from . import crossfit, fits, gaps, learned, limits, overview, report
from .crossfit import Fold
from .summary import Chapter6Summary


@dataclass(frozen=True)
class Chapter6Result:
    """Everything chapter 6 computed, in the order the chapter shows it (frames are pandas tables;
    accuracies are fractions, margins accuracy points).

    - ``params``, ``cfg``: what ran; ``splits``: images per split; ``machine``: :func:`provenance.describe`.
    - ``mask_space``: collapse-free masks per setting and sparsity; ``banks``: setting → bank;
      ``bank_evaluations``: retrainings behind the banks.
    - ``folds``: every fold's :class:`~.crossfit.Fold` (each network held out once); ``final``: setting →
      the generator fitted on every network (what ships); ``design``: (entropy, critic) weights and
      ``features`` of it.
    - ``lono``: fold 0's chosen features scored leave-one-network-out (:func:`signal.lono`).
    - ``fits``, ``in_sample``: every generator's fit checks and in-sample accuracy (folds and final);
      ``gaps``: per held-out network, where the GAN's gap to the best criterion comes from (:mod:`.gaps`);
      ``limits``, ``sizes``: what limits the fit (form, features, capacity) and the margins against the
      number of training networks, exact on the conv landscapes (:mod:`.limits`).
    - ``keep``: the keep map of network 0 (conv + Linear, seed-0 GAN of its fold); ``collapse``: the
      collapse sweep of fold 0's first generators.
    - ``best``: the best standard criterion per fold; ``protocol``, ``transfer``: every evaluated row;
      ``cells``, ``transfer_cells``: per (method, network, sparsity) summaries; ``reported``,
      ``expected``: the conv landscapes and the generators' exact expectations on them.
    - ``stats``, ``checks``: every statistic and the targets judged on them; ``compute``: seconds per
      mask and the one-off costs; ``seconds``: the chapter's wall time.
    - ``summary``: the glued numbers (:class:`.summary.Chapter6Summary`)."""

    params: cf.Chapter6Params
    cfg: cf.Configs
    splits: Mapping[str, int]
    machine: Mapping[str, str]
    mask_space: pd.DataFrame
    banks: Mapping[str, bank.Bank]
    bank_evaluations: int
    folds: tuple[Fold, ...]
    final: Mapping[str, object]
    design: tuple[float, float]
    features: tuple[str, ...]
    lono: pd.DataFrame
    fits: pd.DataFrame
    in_sample: pd.DataFrame
    gaps: pd.DataFrame
    limits: pd.DataFrame
    sizes: pd.DataFrame
    keep: pd.DataFrame
    collapse: pd.DataFrame
    best: pd.DataFrame
    protocol: pd.DataFrame
    transfer: pd.DataFrame
    cells: pd.DataFrame
    transfer_cells: pd.DataFrame
    reported: pd.DataFrame
    expected: pd.DataFrame
    stats: pd.DataFrame
    checks: pd.DataFrame
    compute: pd.DataFrame
    seconds: float
    summary: Chapter6Summary

    @property
    def first(self) -> Fold:
        """Fold 0, whose figures the chapter shows."""
        return self.folds[0]

    def gather(self, name: str) -> pd.DataFrame:
        """Every fold's frame ``name`` (a :class:`~.crossfit.Fold` field) as one table."""
        return crossfit.gather(list(self.folds), name)

    def header(self) -> str:
        """Which replicate ran, on which networks, folds and images, on which machine."""
        c = self.cfg
        return (f"replicate {c.seed}: networks trained from seeds {c.networks[0].init_seed}.."
                f"{c.networks[-1].init_seed}; {len(c.folds)} folds {c.folds}: each held out while learning "
                f"and choosing on the others\nimages: {self.splits['train']} train / {self.splits['val']} "
                f"validation / {self.splits['test']} test; running on {self.machine['device_name']}, torch "
                f"{self.machine['torch_version']}")

    def bank_text(self) -> str:
        """The banks' retrainings, the networks' test accuracy and the collapsed masks in them (none)."""
        nets = ", ".join(f"{b.accuracy:.3f}" for b in self.banks["conv"].baselines)
        return (f"{self.bank_evaluations} retrainings in the two banks\nnetworks' test accuracy: {nets}\n"
                f"masks with a collapsed layer in the banks: {overview.bank_collapsed(self.banks)}")

    def design_text(self) -> str:
        """The design and features the final generators use."""
        (e, c), feats = self.design, self.features
        return f"design: entropy {e:g}, critic {c:g}; features: {', '.join(feats)}"

    def training_histories(self) -> dict[str, pd.DataFrame]:
        """Fold 0's seed-0 training histories of the GAN and the GAN from scratch in each setting,
        labelled ``"fold 0, {setting}, {design}"`` (:func:`prunegan.plots.part2.gan_training`)."""
        gens = self.first.generators
        return {f"fold 0, {s}, {d}": gens[s][d][0].history for s in self.banks
                for d in ("gan", "gan-from-scratch")}

    def keep_agreement(self) -> pd.DataFrame:
        """Per layer and sparsity, the rank correlation of :attr:`keep` with mean |w|
        (:func:`prunegan.analysis.masks.l1_agreement`)."""
        return masks.l1_agreement(self.keep)

    def timing_text(self) -> str:
        """How long the chapter took, on which machine."""
        return f"chapter computed in {self.seconds:.0f} s on {self.machine['device_name']}"

    def all_rows(self) -> pd.DataFrame:
        """The protocol's and the transfer network's evaluated rows together."""
        return pd.concat([self.protocol, self.transfer], ignore_index=True)

    def provenance(self) -> str:
        """Where the comparison's rows were computed (:func:`provenance.summary`)."""
        return provenance.summary(self.all_rows())


def _keep_map(banks, cfg, folds) -> pd.DataFrame:
    held_net = banks["conv+linear"].baselines[0].model
    gen = crossfit.fold_of(folds, 0).generators["conv+linear"]["gan"][0]
    return masks.keep_map(gen, held_net, cfg.sparsities, include_linear=True)


def _collapse(banks, cfg, first: Fold) -> pd.DataFrame:
    nets = {f"lenet5 net {i}": b.model for i, b in enumerate(banks["conv"].baselines)}
    conv, linear = first.generators["conv"]["gan"][:3], first.generators["conv+linear"]["gan"][:3]
    with_transfer = {**nets, "lenet5-caffe": baseline(cfg.transfer).model}
    sweeps = [learned.collapse_sweep(conv, with_transfer, include_linear=False).assign(setting="conv"),
              learned.collapse_sweep(linear, nets, include_linear=True).assign(setting="conv+linear")]
    return pd.concat(sweeps, ignore_index=True)


def _lono(banks, first: Fold) -> pd.DataFrame:
    land = learned.landscape_examples(banks["conv"], first.cfg.landscape_sparsity, first.cfg.train_networks,
                                      "val_acc")
    channel = [f for f in first.features if f in cf.CHANNEL_FEATURES]
    return signal.lono(land, channel) if channel else pd.DataFrame()


def run(params: cf.Chapter6Params, execution: Execution | None = None, *,
        progress: bool = True) -> Chapter6Result:
    """Chapter 6 with ``params``, every mask evaluated by ``execution`` (default: this machine): the
    banks, the cross-fitted folds, the final generators and their checks, the comparison, the
    statistics and the judged targets. Every step reads the results cache, so a rerun recomputes only
    what is missing."""
    t0 = time.perf_counter()
    where = {"execution": execution or Execution()}
    cfg = cf.configs(params)
    banks = {setting: bank.build(bc, **where) for setting, bc in cfg.banks.items()}
    bank_evaluations = sum(int(b.unique()["n_seeds"].sum()) for b in banks.values())
    folds = crossfit.cross_fit(banks, cfg, progress=progress, **where)
    final = crossfit.final_fit(banks, cfg, folds, progress=progress)
    final_fits, final_in_sample = crossfit.final_checks(banks, cfg, final, **where)
    design, features = crossfit.final_design(folds)
    fit_rows = pd.concat([crossfit.gather(folds, "fits"), final_fits], ignore_index=True)
    in_sample = pd.concat([crossfit.gather(folds, "in_sample"), final_in_sample], ignore_index=True)
    protocol, transfer = crossfit.gather(folds, "protocol"), crossfit.gather(folds, "transfer")
    cells, tcells = comparison.cell_table(protocol), comparison.cell_table(transfer)
    reported = learned.landscapes(banks["conv"], cfg.landscape_sparsity, cfg.held_out, "retrained_acc")
    expected = crossfit.gather(folds, "expected")
    rows = pd.concat([protocol, transfer], ignore_index=True)
    stats = pd.concat([report.statistics(rows, expected, reported),
                       fits.fit_statistics(final_in_sample, fit_rows)], ignore_index=True)
    checks = target_checks.check(cf.TARGETS, stats)
    best = crossfit.gather(folds, "best")
    splits = overview.split_sizes(cfg)
    gap_rows = gaps.per_network(banks, cfg, protocol, in_sample)
    limit_rows = limits.fit_limits(banks["conv"], cfg, final["conv"], progress=progress)
    size_rows = limits.size_curve(banks["conv"], folds, progress=progress)
    one_off = report.one_off_costs(bank_evaluations, folds, cfg)
    compute = comparison.compute_table(rows, one_off=one_off)
    summary = Chapter6Summary.measure(cfg, splits, folds, cells=pd.concat([cells, tcells], ignore_index=True),
                                      checks=checks, stats=stats, best=best, fits=fit_rows,
                                      in_sample=in_sample, gaps=gaps.summary(gap_rows),
                                      limits=limits.limits_summary(limit_rows),
                                      sizes=limits.size_summary(size_rows))
    values = dict(
        params=params, cfg=cfg, splits=splits, machine=provenance.describe(),
        mask_space=overview.mask_space_overview(cfg), banks=banks, bank_evaluations=bank_evaluations,
        folds=tuple(folds), final=final, design=design, features=features, lono=_lono(banks, folds[0]),
        fits=fit_rows, in_sample=in_sample, gaps=gap_rows, limits=limit_rows, sizes=size_rows,
        keep=_keep_map(banks, cfg, folds),
        collapse=_collapse(banks, cfg, folds[0]), best=best, protocol=protocol, transfer=transfer,
        cells=cells, transfer_cells=tcells, reported=reported, expected=expected, stats=stats,
        checks=checks, compute=compute, summary=summary)
    return Chapter6Result(**values, seconds=time.perf_counter() - t0)

