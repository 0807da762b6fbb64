"""Benchmarks behind `make bench`: each prints figures; none passes or fails."""
