"""Which adversarial-stage settings keep the generator on its bank? (issue 29: chosen by measurement)

On fold 0 of chapter 6's replicate 0 (its eight training networks' banks only; nothing held out is read),
one generator per variant, each reading the structural and magnitude features and the channel features
fold 0 chose in the build of 044c8e3 (only-kept accuracy, Taylor, activation mean): the likelihood stage
alone, the adversarial stage after it without a stabiliser, with one-sided label smoothing 0.1, with the
likelihood anchor (weight 1), with both (chapter 6's choice), with an R1 penalty (weight 1), and the
adversarial stage alone from the untrained generator (the third design). Per variant and setting: the bank
likelihood over the untrained generator's (nats per mask, training examples), the discriminator's end
probabilities on bank and generated masks, the divergence flag and the fit's seconds (one thread).

    python benchmarks/stabilisers.py            # writes benchmarks/results/stabilisers.json

It builds chapter 6's banks of replicate 0 when they are not in the results cache (about 7 minutes on two
cores).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from prunegan import gan  # noqa: E402
from prunegan.chapters import part2 as chapter  # noqa: E402
from prunegan.core import provenance  # noqa: E402
from prunegan.gan import diagnostics  # noqa: E402
from prunegan.pruning.executors import Execution  # noqa: E402
from prunegan.runs import bank  # noqa: E402

FOLD0_FEATURES = ("only_kept_acc_z_layer", "only_kept_acc_rank_layer", "taylor_z_layer", "taylor_rank_layer",
                  "act_mean_z_layer", "act_mean_rank_layer")
PLAIN = {"label_smoothing": 0.0, "r1_weight": 0.0, "likelihood_weight": 0.0}
#: Variant → its short key in the file's ``gain`` summary (what the book wires to).
SHORT = {"likelihood only": "likelihood", "+ adversarial, no stabiliser": "none",
         "+ adversarial, label smoothing 0.1": "smoothing", "+ adversarial, likelihood anchor 1": "anchor",
         "+ adversarial, smoothing 0.1 + anchor 1 (chapter 6)": "chosen", "+ adversarial, R1 penalty 1": "r1",
         "adversarial from scratch (third design)": "scratch"}
VARIANTS = {"likelihood only": None, "+ adversarial, no stabiliser": {},
            "+ adversarial, label smoothing 0.1": {"label_smoothing": 0.1},
            "+ adversarial, likelihood anchor 1": {"likelihood_weight": 1.0},
            "+ adversarial, smoothing 0.1 + anchor 1 (chapter 6)": {"label_smoothing": 0.1,
                                                                    "likelihood_weight": 1.0},
            "+ adversarial, R1 penalty 1": {"r1_weight": 1.0},
            "adversarial from scratch (third design)": "scratch"}


def summarise(rows: list[dict]) -> dict:
    """``{"conv" | "linear": {short variant: bank gain}}`` of the rows (dotted keys for the book's wiring)."""
    out: dict = {}
    for r in rows:
        setting = r["setting"].replace("conv+linear", "linear")
        out.setdefault(setting, {})[SHORT[r["variant"]]] = r["bank_gain"]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("results") / "stabilisers.json"))
    args = parser.parse_args(argv)
    cfg = chapter.configs(chapter.DEFAULTS)
    fold = cfg.fold(0)
    base = replace(fold.gan, features=chapter.BASE_FEATURES + FOLD0_FEATURES, seed=fold.choice_seed)
    rows = []
    for setting, bank_config in cfg.banks.items():
        b = bank.build(bank_config, execution=Execution(progress=False))
        examples = gan.training_set(b, base)
        for name, change in VARIANTS.items():
            if change is None:
                config = base.likelihood_stage()
            elif change == "scratch":
                config = replace(base, likelihood_steps=0, **PLAIN)
            else:
                config = replace(base, **{**PLAIN, **change})
            start = time.perf_counter()
            g = gan.fit(b, config, progress=False, cache=False)
            seconds = time.perf_counter() - start
            gain = float(diagnostics.bank_likelihood(g, examples)["gain"].mean())
            rows.append({"setting": setting, "variant": name, "bank_gain": round(gain, 2),
                         **{k: (None if v != v else round(v, 3)) if isinstance(v, float) else v
                            for k, v in diagnostics.fit_summary(g).items()},
                         "seconds": round(seconds, 1)})
            print(f"{setting:12s} {name:55s} gain {gain:+8.2f}  D {rows[-1]['d_real']} / {rows[-1]['d_fake']}"
                  f"  {seconds:5.1f} s", flush=True)
    note = "seconds measured while other work shared the 2 cores"
    out = {**provenance.stamp(__doc__.split("\n\n")[0], note),
           "fold": 0, "replicate": 0,
           "gain": summarise(rows), "rows": rows}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print("written", args.out)


if __name__ == "__main__":
    main()
