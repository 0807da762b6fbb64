"""`make bench`: runs every benchmark and prints its figures."""

from __future__ import annotations

from bench import backlog, cold_start, cost, qbo_client, storm, webhook, webhook_batch

BENCHMARKS = [
    cold_start.main,
    qbo_client.main,
    webhook.main,
    webhook_batch.main,
    backlog.main,
    storm.main,
    cost.main,
]

if __name__ == "__main__":
    for benchmark in BENCHMARKS:
        benchmark()
