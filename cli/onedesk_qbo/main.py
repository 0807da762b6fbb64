"""``onedesk-qbo``: the entry point. Global options choose the deployment; each command is a module
with ``register`` (its arguments) and ``run`` (its work, returning the exit status)."""

from __future__ import annotations

import argparse
import logging
import sys
from types import ModuleType

from botocore.exceptions import BotoCoreError, ClientError

from onedesk_qbo import audit, backfill, preview, replay, status, tenants
from onedesk_qbo.config import ConfigError, configure
from onedesk_qbo.console import err
from onedesk_qbo.queues import NoDeadLetterQueue
from qbo_sync.config import MissingSetting

# The subcommands, in the order `--help` lists them.
COMMANDS: tuple[ModuleType, ...] = (tenants, status, preview, backfill, replay, audit)

EXIT_FAILED = 1
EXIT_USAGE = 2  # also argparse's


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="onedesk-qbo",
        description="Operate the OneDesk ⇄ QuickBooks Online integration, deployed or on the local stack.",
        epilog="Without --stack, the deployment is the one the environment names (APP_TABLE_NAME, "
        "KMS_KEY_ID, the queue URLs, AWS_*), as for the functions; see README, Operating.",
    )
    root.add_argument("--stack", help="a deployed CloudFormation stack: read its outputs")
    root.add_argument("--region", help="its AWS region (default: the AWS SDK's)")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _product_logs_to_stderr()
    try:
        configure(args.stack, args.region)
        return int(args.run(args))
    except (ConfigError, MissingSetting) as missing:
        err.print(f"not configured: {missing} (use --stack NAME, or the environment: see README, Operating)")
        return EXIT_USAGE
    except NoDeadLetterQueue as missing:
        err.print(str(missing))
        return EXIT_FAILED
    except (BotoCoreError, ClientError) as error:
        err.print(f"AWS: {error}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


def _product_logs_to_stderr() -> None:
    """The product code logs JSON lines to stdout (as Lambda wants); here stdout is the command's result
    (``--json`` must stay parseable), so its warnings and errors go to stderr and the rest is dropped."""
    from qbo_sync.observability import logger  # noqa: PLC0415 - after the deployment is chosen

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
    logger.setLevel("WARNING")


def entry() -> None:
    sys.exit(main())
