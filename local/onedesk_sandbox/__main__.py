"""``python -m local.onedesk_sandbox --port N [--host H]``: serve until SIGTERM or Ctrl-C.

Prints the public API base URL on its own line once the port accepts connections.
"""

from __future__ import annotations

import argparse
import signal
import threading

from local.onedesk_sandbox import OneDeskSandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.onedesk_sandbox", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    stop_requested = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_requested.set())
    with OneDeskSandbox(port=args.port, host=args.host) as sandbox:
        print(sandbox.base_url, flush=True)
        stop_requested.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
