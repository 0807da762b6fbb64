"""One pooled ``requests`` session per process, shared by the QBO and OneDesk clients.

Keep-alive connections survive between invocations of a warm Lambda. Retries are not mounted here:
each client owns its retry policy (QBO must reuse the same ``requestid`` on every retry of a write).
"""

from __future__ import annotations

from functools import lru_cache

import requests
from requests.adapters import HTTPAdapter

USER_AGENT = "onedesk-qbo-sync/1.0"


@lru_cache(maxsize=1)
def shared_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=16, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session
