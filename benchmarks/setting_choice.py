"""What would choosing the generator per setting cost, and would it choose differently? (issue 29, item 3)

Chapter 6 chooses its design (entropy and critic weights) and its channel features on the conv 90 %
landscapes and applies them in both settings. Item 3 asks for the stage and the features chosen per
setting, leave-one-network-out on each fold's training networks, scored by the retrained validation
accuracy of sampled masks where no landscape exists. This runs exactly that
(:mod:`prunegan.chapters.part2.setting_choice`) on replicate ``--seed``'s folds, for each setting, with
four candidates (the fold's design, its likelihood stage alone, the design reading the structural and
magnitude features only, the design reading every feature; with ``--grid`` also the design at every other
entropy and critic weight of the chapter's grid), and prints per fold and setting each
candidate's advantage over the fold's design (points, 95 % CI over the left-out training networks),
what the rule would choose, and the seconds the choice took (fits and retrainings not in the cache).

    python benchmarks/setting_choice.py --grid             # writes benchmarks/results/setting_choice.json
    python benchmarks/setting_choice.py --heldout          # adds the chosen generators' held-out effect

Run it on a results cache where chapter 6 was built (``PRUNEGAN_RESULTS``): the banks and the folds'
feature and design choices are then read back; only the choice's own fits and retrainings run.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from prunegan.chapters import part2 as chapter  # noqa: E402  (prunegan before numpy: the kernel pin)
from prunegan.chapters.part2 import learned, setting_choice  # noqa: E402
from prunegan.core import provenance  # noqa: E402
from prunegan.pruning.executors import Execution  # noqa: E402
from prunegan.runs import bank  # noqa: E402

import pandas as pd  # noqa: E402


def _round(v):
    return None if v != v else round(float(v), 2)


def _key(candidate: str) -> str:
    """A candidate's name as a dotted-key part: ``"entropy0.1-critic1"`` → ``"entropy0p1_critic1"``."""
    return candidate.replace("-", "_").replace(".", "p")


def summarise(results: list[dict]) -> dict:
    """The wired view of ``results`` (dotted keys for the book and the README): per setting (``conv`` |
    ``linear``) the folds run, how many kept the fold's design, the choice's wall minutes over those folds
    (cached work read back is not counted), its CPU minutes (every distinct fit and retraining as recorded
    when computed, one thread each) and the mean wall seconds per fold, and per fold and candidate its
    advantage with its CI (and whether it clears with a Bonferroni correction over the fold's candidates)."""
    out: dict = {}
    for r in results:
        short = "linear" if r["setting"] == "conv+linear" else r["setting"]
        s = out.setdefault(short, {"folds": 0, "kept": 0, "minutes": 0.0, "fold": {}})
        s["folds"] += 1
        s["kept"] += r["chosen"] == "design"
        s["minutes"] += r["seconds"] / 60
        s["cpu_minutes"] = s.get("cpu_minutes", 0.0) + r["cpu_minutes"]
        keys = ("advantage", "ci_low", "ci_high", "clears", "clears_bonferroni")
        s["fold"][str(r["fold"])] = {_key(a["candidate"]): {k: a[k] for k in keys}
                                     for a in r["advantages"] if a["candidate"] != "design"}
    for s in out.values():
        s["seconds_per_fold"] = round(60 * s["minutes"] / s["folds"])
        s["minutes"] = round(s["minutes"], 1)
        s["cpu_minutes"] = round(s["cpu_minutes"], 1)
    return out


def _fold_choices(banks: dict, cfg, k: int):
    """Fold ``k``'s configs, its feature-signal table, its design-choice table and its features and design
    (all read back from the chapter's cache)."""
    f = cfg.fold(k)
    per_net, _, features = learned.feature_choice(banks["conv"], f)
    table = learned.design_choice(banks["conv"], f, per_net, progress=False)
    return f, per_net, table, features, learned.chosen_design(table)


def choose(args, cfg, banks: dict, execution: Execution) -> dict:
    """Every fold's choice per setting: the file's content."""
    results = []
    for k in args.folds:
        f, per_net, design_table, features, chosen = _fold_choices(banks, cfg, k)
        splits = setting_choice.nested_candidates(f, per_net, design_table, grid=args.grid)
        for setting in args.settings:
            start = time.perf_counter()
            table, cpu = setting_choice.sampled_choice(banks, f, setting, splits, masks=args.masks,
                                                       execution=execution, progress=False)
            seconds = time.perf_counter() - start
            adv = setting_choice.choice_advantages(table)
            pick = setting_choice.chosen_candidate(table)
            m = len(adv) - 1  # comparisons with the design
            strict = setting_choice.choice_advantages(table, confidence=1 - 0.05 / max(m, 1))
            design = {"entropy_weight": chosen[0], "critic_weight": chosen[1], "features": list(features)}
            results.append({
                "fold": k, "setting": setting, "design": design, "chosen": pick, "seconds": round(seconds, 1),
                "cpu_minutes": round(cpu / 60, 1),
                "advantages": [{"candidate": r.candidate, "networks": int(r.networks),
                                "advantage": _round(r.advantage), "ci_low": _round(r.ci_low),
                                "ci_high": _round(r.ci_high), "clears": bool(r.clears),
                                "clears_bonferroni": bool(b.clears)}
                               for r, b in zip(adv.itertuples(), strict.itertuples())],
                "val_acc": {f"{c} {s:g}": round(float(g["val_acc"].mean()), 4)
                            for (c, s), g in table.groupby(["candidate", "sparsity"], sort=False)}})
            line = "  ".join(f"{r.candidate} {r.advantage:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}]"
                             for r in adv.itertuples() if r.candidate != "design")
            print(f"fold {k} {setting:12s} chose {pick:14s} {seconds:6.0f} s ({cpu / 60:.1f} CPU min)",
                  line, flush=True)
    return {**provenance.stamp(__doc__.split("\n\n")[0]),
            "replicate": args.seed, "masks": args.masks, "grid": args.grid, "summary": summarise(results),
            "results": results}


def heldout(data: dict, cfg, banks: dict, execution: Execution) -> dict:
    """``data`` (a file :func:`choose` wrote) plus ``heldout``: per setting, the generators each fold chose
    fitted and measured as the chapter's GAN on the fold's held-out networks, against the fold's design
    (test accuracy, points, per sparsity: paired per network, CI over networks)."""
    start, out = time.perf_counter(), {}
    for setting in dict.fromkeys(r["setting"] for r in data["results"]):
        frames, changed = [], 0
        for r in (r for r in data["results"] if r["setting"] == setting):
            f, _, _, features, chosen = _fold_choices(banks, cfg, r["fold"])
            now = {"entropy_weight": chosen[0], "critic_weight": chosen[1], "features": list(features)}
            if r["design"] != now:
                raise ValueError(f"fold {r['fold']}'s design read back now, {now}, is not the file's "
                                 f"{r['design']}: another results cache?")
            cands = setting_choice.candidates(f, features, chosen, grid=data["grid"])
            changed += r["chosen"] != "design"
            rows = setting_choice.heldout_rows(banks, f, setting, {"design": cands["design"],
                                                                   "chosen": cands[r["chosen"]]},
                                               execution=execution, progress=False)
            frames.append(rows.assign(changed=r["chosen"] != "design"))
        rows = pd.concat(frames, ignore_index=True)
        short = "linear" if setting == "conv+linear" else setting
        out[short] = {"folds_changed": changed}
        for part, sub in (("all", rows), ("changed", rows[rows["changed"]])):
            if sub.empty:
                continue
            for e in setting_choice.heldout_effect(sub, "chosen", "design").itertuples():
                out[short].setdefault(part, {})[f"s{round(100 * e.sparsity)}"] = {
                    "effect": _round(e.effect), "ci_low": _round(e.ci_low), "ci_high": _round(e.ci_high),
                    "networks": int(e.networks)}
        print(f"held out, {setting}: chosen − design", out[short], flush=True)
    return {**data, "heldout": {**out, "seconds": round(time.perf_counter() - start, 1),
                                "commit": provenance.commit(short=True)}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="the replicate (chapter 6's seed)")
    parser.add_argument("--folds", type=int, nargs="*", default=None, help="default: every fold")
    parser.add_argument("--settings", nargs="*", default=list(chapter.SETTINGS),
                        choices=list(chapter.SETTINGS))
    parser.add_argument("--masks", type=int, default=4, help="sampled masks per (network, sparsity)")
    parser.add_argument("--grid", action="store_true",
                        help="also every other (entropy, critic) weight pair of the chapter's grid")
    parser.add_argument("--heldout", action="store_true",
                        help="read --out (a finished choice) and add the chosen generators' held-out effect")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results") / "setting_choice.json"))
    args = parser.parse_args(argv)
    if args.folds is None:
        args.folds = list(range(chapter.DEFAULTS.folds))
    execution = Execution(progress=False)
    if args.heldout:
        data = json.loads(Path(args.out).read_text())
        cfg = chapter.configs(replace(chapter.DEFAULTS, seed=data["replicate"]))
        banks = {s: bank.build(bc, execution=execution) for s, bc in cfg.banks.items()}
        out = heldout(data, cfg, banks, execution)
    else:
        cfg = chapter.configs(replace(chapter.DEFAULTS, seed=args.seed))
        banks = {s: bank.build(bc, execution=execution) for s, bc in cfg.banks.items()}
        out = choose(args, cfg, banks, execution)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print("written", args.out)


if __name__ == "__main__":
    main()
