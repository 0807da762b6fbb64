"""`make bench`: runs every benchmark and prints its figures."""

from __future__ import annotations

from bench import cold_start

BENCHMARKS = [cold_start.main]

if __name__ == "__main__":
    for benchmark in BENCHMARKS:
        benchmark()
