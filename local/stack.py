"""The whole local stack: the product's emulators, AWS (moto) and the Lambda runner, from template.yaml.

`python -m local.stack` (`make dev`) starts it, prints where everything is served, and stays up
until Ctrl-C. Tests and the demo compose the same `LocalStack` themselves:

    with LocalStack(components={"qbo": QboSandbox()}, env_overrides=lambda s: {...}) as stack:
        requests.get(stack.http_url + "/health")
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Protocol

import requests

from local.aws import DEFAULT_STACK_NAME, LocalAws, Provisioned, free_port
from local.cfn import load_template
from local.runner import LambdaRunner

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "template.yaml"
LOG_DIR = REPO_ROOT / "artifacts" / "logs"
OPERATOR_ENV_FILE = REPO_ROOT / "artifacts" / "operator.env"
LOCAL_PARAMETERS = {"Stage": "local"}
_SERVED_BY_THE_RUNNER = {
    "AWS::Serverless::Function",
    "AWS::Serverless::HttpApi",
    "AWS::Serverless::LayerVersion",
}


class Component(Protocol):
    """Anything the stack starts before AWS and the runner, e.g. an emulator of a third-party API."""

    def start(self) -> object: ...

    def stop(self) -> None: ...

    @property
    def base_url(self) -> str: ...


# A fixed mapping, or one computed from the stack once its components run and its HTTP port is known.
type Settings = Mapping[str, str] | Callable[[LocalStack], Mapping[str, str]]


class LocalStack:
    """Components, then LocalAws provisioned from the template, then the LambdaRunner; stopped in reverse.

    `parameters`, `secrets` (see `LocalAws.provision`) and `env_overrides` (given to every
    function) may be callables of the stack, for values that depend on started components.
    `on_started` runs last, e.g. to tell an emulator where the HTTP API is.
    """

    def __init__(
        self,
        template_path: str | Path = TEMPLATE,
        *,
        parameters: Settings = LOCAL_PARAMETERS,
        secrets: Settings | None = None,
        env_overrides: Settings | None = None,
        components: Mapping[str, Component] | None = None,
        on_started: Callable[[LocalStack], None] | None = None,
        http_port: int = 0,
        moto_port: int = 0,
        schedule_speed: float | None = 1.0,
        verbose: bool = False,
        log_dir: str | Path | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
    ) -> None:
        self.template_path = Path(template_path)
        self.components = dict(components or {})
        self.aws = LocalAws(port=moto_port, stack_name=stack_name)
        self._parameters = parameters
        self._secrets = secrets
        self._env_overrides = env_overrides
        self._on_started = on_started
        self._http_port = http_port
        self._schedule_speed = schedule_speed
        self._verbose = verbose
        self._log_dir = log_dir
        self._started: list[Component | LocalAws | LambdaRunner] = []
        self._provisioned: Provisioned | None = None
        self._runner: LambdaRunner | None = None
        # What every function's environment adds to the template's (resolved at start).
        self.function_overrides: dict[str, str] = {}

    @property
    def provisioned(self) -> Provisioned:
        if self._provisioned is None:
            raise RuntimeError("the stack is not started")
        return self._provisioned

    @property
    def runner(self) -> LambdaRunner:
        if self._runner is None:
            raise RuntimeError("the stack is not started")
        return self._runner

    @property
    def http_url(self) -> str:
        """The HTTP API's base URL; known before the runner starts (settings may use it)."""
        return f"http://127.0.0.1:{self._http_port}"

    def start(self) -> LocalStack:
        try:
            for component in self.components.values():
                component.start()
                self._started.append(component)
            # Reserved now, so that parameters and environments can name the API's public URL.
            self._http_port = self._http_port or free_port()
            self.aws.start()
            self._started.append(self.aws)
            self._provisioned = self.aws.provision(
                self.template_path, self._resolve(self._parameters), self._resolve(self._secrets)
            )
            self.function_overrides = self._resolve(self._env_overrides)
            self._runner = LambdaRunner(
                self.template_path,
                self._provisioned,
                self.function_overrides,
                http_port=self._http_port,
                schedule_speed=self._schedule_speed,
                verbose=self._verbose,
                log_dir=self._log_dir,
            )
            self._runner.start()
            self._started.append(self._runner)
            if self._on_started is not None:
                self._on_started(self)
        except BaseException:
            self.stop()
            raise
        return self

    def _resolve(self, settings: Settings | None) -> dict[str, str]:
        if settings is None:
            return {}
        return dict(settings(self) if callable(settings) else settings)

    def stop(self) -> None:
        while self._started:
            self._started.pop().stop()
        self._runner = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def describe(self) -> str:
        """Where everything is served: the table `make dev` prints."""
        runner, provisioned = self.runner, self.provisioned
        lines = [f"HTTP API     {self.http_url}"]
        lines += [f"  {route:<32} {function}" for route, function in runner.routes()]
        lines += [
            f"AWS (moto)   {provisioned.endpoint_url}  region {provisioned.region}, "
            "credentials testing/testing (AWS_ENDPOINT_URL for the SDK and CLI)"
        ]
        consumers = {url: function for url, function in runner.event_sources()}
        lines.append("Queues")
        for logical_id, queue in provisioned.of_type("AWS::SQS::Queue").items():
            consumer = consumers.get(queue.ref, "(not polled)")
            lines.append(f"  {logical_id:<28} {queue.ref}  -> {consumer}")
        lines.append("Schedules")
        for expression, function, automatic in runner.schedules():
            when = f"x{self._schedule_speed:g} speed" if automatic else "fire_schedule() only"
            lines.append(f"  {expression:<28} {function}  ({when})")
        if self.components:
            lines.append("Emulators")
            lines += [f"  {name:<28} {component.base_url}" for name, component in self.components.items()]
        if self._log_dir is not None:
            lines.append(f"Function logs {self._log_dir}/<Function>.log")
        lines.append("Not emulated")
        lines += [
            f"  {logical_id:<28} {reason}"
            for logical_id, reason in provisioned.skipped.items()
            if provisioned.resources[logical_id].type not in _SERVED_BY_THE_RUNNER
        ]
        return "\n".join(lines)


def product_stack(
    *,
    http_port: int = 0,
    moto_port: int = 0,
    schedule_speed: float | None = 1.0,
    verbose: bool = False,
    log_dir: str | Path | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> LocalStack:
    """template.yaml wired to the QBO and OneDesk emulators, as `make dev` runs it. ``extra_env`` is
    given to every function (e.g. a scaled QBO rate window for a benchmark on a compressed clock)."""
    from local.onedesk_sandbox import OneDeskSandbox  # noqa: PLC0415 - optional for LocalStack users
    from local.qbo_sandbox import QboSandbox  # noqa: PLC0415

    qbo, onedesk = QboSandbox(port=0), OneDeskSandbox(port=0)
    declared = set(load_template(TEMPLATE).get("Parameters") or {})

    def parameters(stack: LocalStack) -> dict[str, str]:
        values = dict(LOCAL_PARAMETERS)
        if "PublicBaseUrl" in declared:
            values["PublicBaseUrl"] = stack.http_url  # OAuth redirect URI = this + /qbo/callback
        return values

    def secrets(_stack: LocalStack) -> dict[str, str]:
        # The emulator's registered app; the product reads its credentials from Secrets Manager.
        app = requests.get(f"{qbo.base_url}/_sandbox/app", timeout=5).json()
        return {
            "QboAppSecretName": json.dumps(
                {"client_id": app["client_id"], "client_secret": app["client_secret"]}
            ),
            "QboWebhookVerifierSecretName": app["verifier_token"],
        }

    def environment(_stack: LocalStack) -> dict[str, str]:
        return {
            "QBO_API_BASE_URL": qbo.base_url,
            "INTUIT_AUTHORIZE_URL": f"{qbo.base_url}/connect/oauth2",
            "INTUIT_TOKEN_URL": f"{qbo.base_url}/oauth2/v1/tokens/bearer",
            "INTUIT_REVOKE_URL": f"{qbo.base_url}/v2/oauth2/tokens/revoke",
            "ONEDESK_API_BASE_URL": onedesk.base_url,
            **(extra_env or {}),
        }

    def register_webhooks(stack: LocalStack) -> None:
        requests.put(
            f"{qbo.base_url}/_sandbox/app", json={"webhook_url": f"{stack.http_url}/qbo/webhooks"}, timeout=5
        ).raise_for_status()

    return LocalStack(
        components={"qbo": qbo, "onedesk": onedesk},
        parameters=parameters,
        secrets=secrets,
        env_overrides=environment,
        on_started=register_webhooks,
        http_port=http_port,
        moto_port=moto_port,
        schedule_speed=schedule_speed,
        verbose=verbose,
        log_dir=log_dir,
    )


def _admin_links(stack: LocalStack) -> str:
    """A OneDesk account on the Premium plan, registered as a tenant, and the signed links OneDesk's
    Administration > Financials page would open for it (valid 24 h)."""
    from local.controls import OneDeskControl  # noqa: PLC0415 - the product's code only once the stack is up
    from local.operator import signed_link, use_product_environment  # noqa: PLC0415
    from onedesk_qbo.tenants import register_tenant  # noqa: PLC0415

    use_product_environment(stack)
    account = OneDeskControl.new_account(stack.components["onedesk"].control_url, "Acme Consulting")  # type: ignore[attr-defined]
    tenant = register_tenant("Acme Consulting", account.api_key, tenant_id="t-dev")
    day = 24 * 3600
    return (
        "\nOneDesk admin (tenant t-dev, Premium plan): open in a browser to connect QuickBooks Online\n"
        f"  connect:  {signed_link(stack.http_url, tenant, '/qbo/connect', day)}\n"
        f"  settings: {signed_link(stack.http_url, tenant, '/qbo/settings', day)}\n"
        "The consent page is the QBO emulator's: pick a company and click Authorize.\n"
    )


def _operator_hint(stack: LocalStack) -> str:
    """Writes the operator CLI's environment for this stack to a file a shell sources."""
    from local.operator import write_operator_env_file  # noqa: PLC0415

    write_operator_env_file(stack, OPERATOR_ENV_FILE)
    return (
        "Operator CLI against this stack, from another shell:\n"
        f"  source {OPERATOR_ENV_FILE.relative_to(REPO_ROOT)} && .venv/bin/onedesk-qbo status\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the local stack until Ctrl-C.")
    parser.add_argument("--http-port", type=int, default=3000, help="HTTP API port (0: any free port)")
    parser.add_argument("--moto-port", type=int, default=0, help="moto port (0: any free port)")
    parser.add_argument(
        "--schedule-speed",
        type=float,
        default=1.0,
        help="run schedules this many times faster than real time",
    )
    parser.add_argument("--no-schedules", action="store_true", help="fire schedules only on demand")
    parser.add_argument("--quiet", action="store_true", help="do not echo function logs to the console")
    args = parser.parse_args(argv)

    stop_requested = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack = product_stack(
        http_port=args.http_port,
        moto_port=args.moto_port,
        schedule_speed=None if args.no_schedules else args.schedule_speed,
        verbose=not args.quiet,
        log_dir=LOG_DIR,
    )
    with stack:
        print(stack.describe())
        print(_admin_links(stack))
        print(_operator_hint(stack))
        print("Local stack is up; Ctrl-C stops it.", flush=True)
        stop_requested.wait()
        print("Stopping...", flush=True)


if __name__ == "__main__":
    main()
