"""Experiments as lists of jobs for one runner: the trained baseline, sweeps and trials, the mask bank,
and method comparisons. Each module only builds jobs (mask, retraining, labels);
:func:`prunegan.runs.runner.run` evaluates, caches and tabulates them."""
