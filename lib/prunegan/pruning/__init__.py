"""Pruning: scorers, the one global selection, strategies (scorer + selection), applying masks, the evaluation engine."""
