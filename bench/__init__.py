"""Benchmarks: `python -m bench.<area>`."""
