"""Pruning: scorers (from the weights, Torch-Pruning's, and the image-based criteria of :mod:`.importance`),
the one global selection, strategies (scorer + selection), applying masks, the evaluation engine and its
executors (worker processes on this machine, or Ray tasks on a cluster)."""
