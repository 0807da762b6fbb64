"""Cold-start import time of every handler, from the built artifact (fresh interpreter, median of 5)."""

from __future__ import annotations

import statistics

from bench.artifact import function_dirs, import_in_fresh_interpreter

RUNS = 5
TARGET_MS = 300.0


def main() -> None:
    print(f"\nCold-start import time per handler (built artifact, fresh interpreter, median of {RUNS})")
    print(f"{'function':<28} {'median ms':>10} {'min ms':>8} {'max ms':>8}  target <= {TARGET_MS:.0f} ms")
    for function_dir in function_dirs():
        samples = []
        for _ in range(RUNS):
            result = import_in_fresh_interpreter(function_dir)
            if result.returncode != 0:
                failure = result.stderr.strip().splitlines()[-1]
                print(f"{function_dir.name:<28} import failed: {failure}")
                break
            samples.append(float(result.stdout.strip().splitlines()[-1]))
        else:
            median = statistics.median(samples)
            verdict = "ok" if median <= TARGET_MS else "over target"
            spread = f"{min(samples):>8.1f} {max(samples):>8.1f}"
            print(f"{function_dir.name:<28} {median:>10.1f} {spread}  {verdict}")


if __name__ == "__main__":
    main()
