"""`python -m local.qbo_sandbox --port N [--host H] [--state FILE]`: run the emulator until SIGTERM/SIGINT."""

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from local.qbo_sandbox.sandbox import QboSandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.qbo_sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--state", metavar="FILE", help="JSON snapshot loaded at start and saved on shutdown")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s qbo-sandbox %(levelname)s %(message)s")

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    sandbox = QboSandbox(port=args.port, host=args.host, state_file=args.state).start()
    try:
        print(f"QBO sandbox ready at {sandbox.base_url}", flush=True)
        # A timeout keeps the main thread responsive to signals on every platform.
        while not stopping.wait(timeout=0.5):
            pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
