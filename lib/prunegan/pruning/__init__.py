"""Pruning: scorers, the one global selection, strategies (scorer + selection), applying masks, the evaluation
engine and its executors (worker processes on this machine, or Ray tasks on a cluster)."""
