"""Benchmarks: `make bench` (python -m bench) measures, in one run on one machine, and writes BENCHMARKS.md."""
