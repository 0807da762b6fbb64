"""Puts shared/ on sys.path, as the Lambda layer does on Lambda: import this before ``qbo_sync``."""

from __future__ import annotations

import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / "shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))
