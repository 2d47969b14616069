"""Benchmarks: ``python -m benchmarks`` (or ``make bench``); results in benchmarks/results/."""
