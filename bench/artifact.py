"""The built artifact (.aws-sam/build) as Lambda sees it: each function folder plus the layer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".aws-sam" / "build"
LAYER = BUILD / "SharedLayer" / "python"

# What module-level code reads at import time (names only; values are never used to call AWS here).
IMPORT_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "APP_TABLE_NAME": "app-table",
    "IDEMPOTENCY_TABLE_NAME": "idempotency-table",
    "POWERTOOLS_SERVICE_NAME": "onedesk-qbo-sync",
    "POWERTOOLS_METRICS_NAMESPACE": "OneDeskQboSync",
}


def function_dirs() -> list[Path]:
    return sorted(p for p in BUILD.iterdir() if p.is_dir() and (p / "app.py").exists())


def import_in_fresh_interpreter(
    function_dir: Path, statement: str = "import app"
) -> subprocess.CompletedProcess[str]:
    """Run ``statement`` in an isolated interpreter whose only import roots are the function and the layer."""
    code = (
        "import sys, time\n"
        f"sys.path[:0] = [{str(function_dir)!r}, {str(LAYER)!r}]\n"
        "start = time.perf_counter()\n"
        f"{statement}\n"
        "print(f'{(time.perf_counter() - start) * 1000:.1f}')\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), **IMPORT_ENV}
    # -I: isolated (no user site, no PYTHON* env); -S: no site-packages at all, as in the artifact.
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=function_dir,
    )
