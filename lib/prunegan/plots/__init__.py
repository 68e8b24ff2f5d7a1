"""Figures: each function takes tidy data and returns a matplotlib Figure (part1: pruning sweeps and collapse;
part2: bank and GAN)."""
