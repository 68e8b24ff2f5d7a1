"""The study's answer, written from chapter 6's scraps (the findings page and the README open with
it): the GAN against the best standard criterion, the untrained generator and random pruning on
networks it has not seen, with CIs over networks, and the targets' verdicts in each replicate."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .format import markdown_table
from .part2.config import TARGETS
from .part2.summary import SETTING_LABELS, SETTING_SHORT, Chapter6Summary
from .part2.tables import gap_table

#: Chapter 6's settings as scrap prefixes and as a reader names them (in full; short in a list of cells).
SETTINGS, SHORT = SETTING_LABELS, SETTING_SHORT
SPARSITIES = (80, 90)


def margin(s: Chapter6Summary, other: str, setting: str, pct: int) -> str:
    """``"−5.6 [−9.0, −2.2]"``: a mean paired margin and its 95 % CI over networks from chapter 6's
    summary ``s``: ``other`` is a :data:`prunegan.chapters.part2.summary.MARGINS` name (``"best"``,
    ``"random"``, ``"untrained"``: the GAN over the best standard criterion, random-min1, the untrained
    generator; ``"mode_best"``: the GAN's most probable mask over the best standard criterion), in
    ``setting`` at ``pct`` %."""
    return s.margin(other, setting, pct).text()


def _cells():
    return [(k, p) for k in SETTINGS for p in SPARSITIES]


def pairs(s: Chapter6Summary, other: str, labels: dict[str, str]) -> str:
    """``"conv: −1.0 [−2.0, +0.1] / +0.5 [−1.0, +2.0]; …"``: the margin ``other`` at 80 % / 90 % in each
    setting of ``labels`` (scrap setting → how the sentence names it)."""
    return "; ".join(f"{label}: {margin(s, other, k, SPARSITIES[0])} / {margin(s, other, k, SPARSITIES[1])}"
                     for k, label in labels.items())


def lead(s: Chapter6Summary) -> str:
    """The answer's first sentence, decided by the CIs over networks of the GAN − best standard
    criterion (``margin_best_*``): below it everywhere (every CI high < 0), at least as good everywhere
    (every CI low > −1 point, the target's margin), below it in some cells (how many), or neither (how
    many cells reach below −1)."""
    lows = [s.margin("best", k, p).ci_low for k, p in _cells()]
    highs = [s.margin("best", k, p).ci_high for k, p in _cells()]
    if all(h < 0 for h in highs):
        return "the GAN's masks are worse than the best standard criterion's in every setting and sparsity"
    if all(lo > -1 for lo in lows):
        return ("the GAN's masks are at least as good as the best standard criterion's (within 1 point) "
                "everywhere")
    worse = sum(h < 0 for h in highs)
    if worse:
        return (f"the GAN's masks are worse than the best standard criterion's in {worse} of {len(highs)} "
                "settings and sparsities (95 % CI entirely below 0) and not shown to be within 1 point of "
                "it in the others")
    below = sum(lo <= -1 for lo in lows)
    return (f"the GAN's masks are not shown to match the best standard criterion's: in {below} of "
            f"{len(lows)} settings and sparsities the 95 % CI reaches more than 1 point below it")


def answer(s: Chapter6Summary) -> str:
    """Markdown: the answer's lead sentence, then one bullet per comparison or check, every number from
    chapter 6's summary ``s`` (mean paired differences in points with their 95 % CI over networks)."""
    cells = "; ".join(f"{label}: {margin(s, 'best', k, 80)} at 80 %, {margin(s, 'best', k, 90)} at 90 %"
                      for k, label in SETTINGS.items())
    def pair(other):
        return pairs(s, other, SETTINGS)
    met = [t.name for t in TARGETS if s.target(t.name).status == "met"]
    checked = [t.name for t in TARGETS if s.target(t.name).status in ("met", "not met")]
    bullets = [f"GAN − best standard criterion: {cells}.",
               f"At 80 % / 90 %, against random pruning with one channel per layer: {pair('random')}.",
               f"Against the untrained generator (uniform over collapse-free masks): {pair('untrained')}.",
               f"Its most probable mask, used as a deterministic criterion, against the best standard "
               f"criterion: {pair('mode_best')}.", *parts(s), *stages(s),
               f"Of the {len(checked)} targets checked, {len(met)} {'is' if len(met) == 1 else 'are'} met"
               f"{': ' + '; '.join(met) if met else ''}."]
    return (f"**On a LeNet-5 it has not seen, {lead(s)}.** Mean paired differences in accuracy points with "
            f"their 95 % CI over the {s.networks} networks (each held out once):\n\n"
            + "\n".join(f"- {b}" for b in bullets))


def parts(s: Chapter6Summary) -> list[str]:
    """The GAN against its own allocation with L1 within each layer (its channel choice) and against
    layer-wise uniform L1 (80 % / 90 %), one sentence, when chapter 6 measured it (else none)."""
    if ("alloc_l1", "conv", SPARSITIES[0]) not in s.margins:
        return []
    def pair(other):
        return pairs(s, other, SHORT)
    return [f"Against its own allocation with L1 inside each layer (the same counts per layer, L1's "
            f"channels): {pair('alloc_l1')}; against layer-wise uniform L1: {pair('uniform_l1')}."]


def stages(s: Chapter6Summary) -> list[str]:
    """The two training stages in three sentences from chapter 6's summary ``s``: whether the generators
    learned their banks (fits diverged, in-sample gap of the final generators), the adversarial stage over
    the likelihood stage alone, and both against the best standard criterion beside the GAN from scratch."""
    def pair(other):
        return pairs(s, other, SHORT)

    adversarial = [s.fit_counts[d, k] for d in ("gan", "scratch") for k in SETTINGS]
    diverged = sum(int(c.diverged) for c in adversarial)
    fits = sum(int(c.fits) for c in adversarial)
    lost = sum(int(s.fit_counts["scratch", k].fits - s.fit_counts["scratch", k].learned) for k in SETTINGS)
    gaps = "; ".join(f"{SHORT[k]} {p} %: {s.fit_gaps[k, p].text()}" for k in SETTINGS for p in SPARSITIES)
    return [f"Every generator is checked before it is judged: {diverged} of the {fits} adversarial fits "
            f"diverged, {lost} of the GAN-from-scratch fits put less mass on their bank than the untrained "
            f"generator, and the final generators' in-sample validation accuracy minus the soft-weighted "
            f"bank's is {gaps} points.",
            f"The adversarial stage over the likelihood stage alone (80 % / 90 %): {pair('adversarial')}.",
            f"Likelihood only − best standard criterion: {pair('likelihood_best')}; the GAN from scratch "
            f"(the third design's training) − best standard criterion: {pair('scratch_best')}."]


def verdict_table(replicates: dict[str, Chapter6Summary]) -> pd.DataFrame:
    """One row per target: in each replicate (label → chapter 6's summary) the cells met of the cells
    checked and the verdict (``"1/4 not met"``; ``"–"`` when no cell was checked), and whether the
    replicates agree on the verdict (when there are two or more)."""
    rows = []
    for t in TARGETS:
        row = {"target": t.name}
        statuses = []
        for label, s in replicates.items():
            r = s.target(t.name)
            row[label] = f"{int(r.met)}/{int(r.cells)} {r.status}" if r.cells else "–"
            statuses.append(r.status)
        if len(replicates) > 1:
            row["agree"] = "yes" if len(set(statuses)) == 1 else "no"
        rows.append(row)
    return pd.DataFrame(rows).set_index("target")


def gap_markdown(s: Chapter6Summary) -> str:
    """Markdown table: where the GAN's gap to the best criterion comes from in chapter 6's summary ``s``
    (:func:`prunegan.chapters.part2.tables.gap_table`)."""
    return markdown_table(gap_table(s.gaps))


def verdict_markdown(replicates: dict[str, Chapter6Summary]) -> str:
    """:func:`verdict_table` as a Markdown table with ``target`` as its first column (no index row)."""
    return markdown_table(verdict_table(replicates).reset_index())



def count(n: float, noun: str) -> str:
    """``"1 epoch"`` / ``"3 epochs"``: ``n`` (a whole number) with ``noun`` in the right number."""
    if float(n) != int(n) or n < 0:
        raise ValueError(f"count: n must be a whole number >= 0, got {n!r}")
    return f"{int(n)} {noun}{'' if int(n) == 1 else 's'}"


def gather(executed_dir: str | Path, replicates_dir: str | Path) -> dict[str, Chapter6Summary | None]:
    """Chapter 6's summary by replicate label: ``"replicate 0"`` from ``executed_dir/06_gan.ipynb``
    (``None`` when absent), then ``"replicate N"`` for every ``replicates_dir/06_gan_seedN.ipynb``, by N."""
    from .summary import scraps_by_notebook

    first = scraps_by_notebook(executed_dir).get("06_gan")
    out = {"replicate 0": Chapter6Summary.from_scraps(first) if first else None}
    stem = "06_gan_seed"
    found = {int(name[len(stem):]): Chapter6Summary.from_scraps(values)
             for name, values in scraps_by_notebook(replicates_dir).items()
             if name.startswith(stem) and name[len(stem):].isdigit()}
    out.update({f"replicate {k}": found[k] for k in sorted(found)})
    return out


def agreement(replicates: dict[str, Chapter6Summary]) -> str:
    """Markdown: whether the replicates (label → chapter 6's summary) agree on every target's verdict;
    for each verdict that differs, the rule and, side by side, every replicate's CI in each cell whose
    verdict differs (all its cells when none decides), so the reader sees which CI misses the threshold.
    With replicate 0 only: that replicate 1 was not built, and how to build it."""
    if len(replicates) < 2:
        return ("**Replicate 1 has not been built in this copy of the book**, so only replicate 0's verdicts "
                "are shown. `make replicate` runs chapter 6 again with `seed=1` (other networks, another "
                "split of the images, other seeds of every kind); `make book` then adds its column and "
                "compares the two replicates here.")
    labels = list(replicates)
    differ = []
    for t in TARGETS:
        statuses = {label: s.target(t.name).status for label, s in replicates.items()}
        if len(set(statuses.values())) == 1:
            continue
        cells = {label: s.target(t.name).by_cell() for label, s in replicates.items()}
        names = list(dict.fromkeys(c for label in labels for c in cells[label]))

        def met(label, c):
            return cells[label][c]["met"] if c in cells[label] else None
        deciding = [c for c in names  # cells met in one replicate and missed in another
                    if {met(label, c) for label in labels} >= {True, False}]
        shown = "; ".join(
            f"{c}: " + " vs ".join(
                f"{cells[label][c]['text'] if c in cells[label] else '–'} in {label}"
                + {True: " (meets)", False: " (misses)", None: ""}[met(label, c)]
                for label in labels)
            for c in (deciding or names))
        verdicts = ", ".join(f"{statuses[label]} in {label}" for label in labels)
        which = "The cells that decide" if deciding else "Its cells"
        differ.append(f"- **{t.name}** differs between the replicates ({verdicts}); rule: {t.describe()}."
                      + (f" {which}: {shown}." if shown else ""))
    n, total = len(replicates), len(TARGETS)
    if not differ:
        return f"**The {n} replicates agree on all {total} target verdicts.**"
    return (f"**The {n} replicates agree on {total - len(differ)} of the {total} target verdicts.** "
            f"{'This one differs' if len(differ) == 1 else f'These {len(differ)} differ'}; the forest plots "
            "of the two chapters show each network's value behind the CIs:\n\n" + "\n".join(differ))
