"""Experiments as lists of jobs for one runner: the trained baseline, sweeps and trials, the mask bank,
and Part 2's paired, held-out protocol. Each module only builds jobs (mask, retraining, labels);
:func:`prunegan.runs.runner.run` evaluates, caches and tabulates them."""
