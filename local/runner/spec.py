"""What the runner needs to know about each function, read from the SAM template."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.aws import Provisioned
from local.cfn import (
    ACCOUNT_ID,
    PARTITION,
    SERVERLESS_FUNCTION,
    Resolver,
    TemplateError,
    apply_globals,
    load_template,
    physical_name,
)

# Lambda's own defaults when the template (and Globals) say nothing.
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
DEFAULT_SQS_BATCH_SIZE = 10
# Lambda scales an SQS source up to 1,000 concurrent batches; two are enough to show concurrency
# effects (FIFO group locking, races between batches) without crowding a laptop.
DEFAULT_LOCAL_CONCURRENCY = 2
IMPLICIT_HTTP_API = "ServerlessHttpApi"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SqsSource:
    event_name: str
    queue_arn: str
    batch_size: int
    max_concurrency: int
    report_batch_item_failures: bool
    enabled: bool


@dataclass(frozen=True)
class HttpRoute:
    event_name: str
    method: str  # upper case, or ANY
    path: str  # /items/{id}, /files/{proxy+} or $default
    api_id: str

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class ScheduleSource:
    event_name: str
    expression: str
    enabled: bool
    input: str | None  # the target's Input: JSON text that replaces the Scheduled Event
    resource_arn: str


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    runtime: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    timeout: int
    memory_mb: int
    environment: dict[str, str]
    sqs_sources: tuple[SqsSource, ...]
    routes: tuple[HttpRoute, ...]
    schedules: tuple[ScheduleSource, ...]

    @property
    def concurrency(self) -> int:
        """Workers the function may run at once: enough for every SQS source's MaximumConcurrency."""
        return max(DEFAULT_LOCAL_CONCURRENCY, sum(source.max_concurrency for source in self.sqs_sources))


def load_functions(
    template_path: Path, provisioned: Provisioned, code_root: Path | None = None
) -> dict[str, FunctionSpec]:
    """Every active `AWS::Serverless::Function` of the template, Globals applied, values resolved."""
    template = apply_globals(load_template(template_path))
    root = code_root or template_path.parent
    resolver = provisioned.resolver(template)
    functions: dict[str, FunctionSpec] = {}
    for logical_id, definition in template["Resources"].items():
        if definition.get("Type") == SERVERLESS_FUNCTION and resolver.is_active(definition):
            functions[logical_id] = _function(
                logical_id, definition.get("Properties") or {}, template, resolver, root
            )
    return functions


def _function(
    logical_id: str,
    properties: dict[str, Any],
    template: dict[str, Any],
    resolver: Resolver,
    root: Path,
) -> FunctionSpec:
    runtime = str(properties.get("Runtime", ""))
    if not runtime.startswith("python3"):
        raise TemplateError(f"{logical_id}: runtime {runtime!r}: the local runner runs Python only")
    code_uri = properties.get("CodeUri")
    if not isinstance(code_uri, str):
        raise TemplateError(f"{logical_id}: CodeUri must be a local folder, got {code_uri!r}")
    name = str(
        resolver.resolve(properties.get("FunctionName", physical_name(resolver.stack_name, logical_id)))
    )
    variables = resolver.resolve((properties.get("Environment") or {}).get("Variables") or {})
    events = properties.get("Events") or {}
    return FunctionSpec(
        logical_id=logical_id,
        name=name,
        arn=f"arn:{PARTITION}:lambda:{resolver.region}:{ACCOUNT_ID}:function:{name}",
        handler=str(properties["Handler"]),
        runtime=runtime,
        code_dir=(root / code_uri).resolve(),
        layer_dirs=_layer_dirs(logical_id, properties.get("Layers") or [], template, root),
        timeout=int(resolver.resolve(properties.get("Timeout", DEFAULT_TIMEOUT_SECONDS))),
        memory_mb=int(resolver.resolve(properties.get("MemorySize", DEFAULT_MEMORY_MB))),
        environment={key: _env_value(value) for key, value in variables.items()},
        sqs_sources=tuple(
            _sqs_source(event_name, resolver.resolve(event.get("Properties") or {}))
            for event_name, event in events.items()
            if event.get("Type") == "SQS"
        ),
        routes=tuple(
            _route(event_name, event.get("Properties") or {}, resolver)
            for event_name, event in events.items()
            if event.get("Type") == "HttpApi"
        ),
        schedules=tuple(
            _schedule(
                logical_id,
                event_name,
                event["Type"],
                resolver.resolve(event.get("Properties") or {}),
                resolver,
            )
            for event_name, event in events.items()
            if event.get("Type") in {"Schedule", "ScheduleV2"}
        ),
    )


def _layer_dirs(logical_id: str, layers: list[Any], template: dict[str, Any], root: Path) -> tuple[Path, ...]:
    """The folders of the template's own layers; `/opt/python` on Lambda, a sys.path entry here."""
    folders: list[Path] = []
    for layer in layers:
        target = template["Resources"].get(layer.get("Ref")) if isinstance(layer, dict) else None
        if target is None or target.get("Type") != "AWS::Serverless::LayerVersion":
            # A published layer (an ARN): its packages must come from the virtualenv instead.
            logger.warning("%s: layer %r is not part of the template, not loaded", logical_id, layer)
            continue
        content_uri = (target.get("Properties") or {}).get("ContentUri")
        if not isinstance(content_uri, str):
            raise TemplateError(f"{logical_id}: layer ContentUri must be a local folder, got {content_uri!r}")
        folders.append((root / content_uri).resolve())
    return tuple(folders)


def _sqs_source(event_name: str, properties: dict[str, Any]) -> SqsSource:
    if "FilterCriteria" in properties:
        logger.warning("SQS event %s: FilterCriteria is not applied locally", event_name)
    scaling = properties.get("ScalingConfig") or {}
    response_types = properties.get("FunctionResponseTypes") or []
    return SqsSource(
        event_name=event_name,
        queue_arn=str(properties["Queue"]),
        batch_size=int(properties.get("BatchSize", DEFAULT_SQS_BATCH_SIZE)),
        max_concurrency=int(scaling.get("MaximumConcurrency", DEFAULT_LOCAL_CONCURRENCY)),
        report_batch_item_failures="ReportBatchItemFailures" in response_types,
        enabled=_truthy(properties.get("Enabled", True)),
    )


def _route(event_name: str, properties: dict[str, Any], resolver: Resolver) -> HttpRoute:
    api = properties.get("ApiId")
    api_id = str(resolver.resolve(api)) if api is not None else IMPLICIT_HTTP_API
    path = str(properties.get("Path", "$default"))
    method = "ANY" if path == "$default" else str(properties.get("Method", "ANY")).upper()
    return HttpRoute(event_name=event_name, method=method, path=path, api_id=api_id)


def _schedule(
    logical_id: str, event_name: str, event_type: str, properties: dict[str, Any], resolver: Resolver
) -> ScheduleSource:
    name = str(properties.get("Name") or physical_name(resolver.stack_name, f"{logical_id}{event_name}"))
    if event_type == "Schedule":
        expression = str(properties["Schedule"])
        enabled = _truthy(properties.get("Enabled", True)) and properties.get("State", "ENABLED") == "ENABLED"
        arn = f"arn:{PARTITION}:events:{resolver.region}:{ACCOUNT_ID}:rule/{name}"
    else:
        expression = str(properties["ScheduleExpression"])
        enabled = properties.get("State", "ENABLED") == "ENABLED"
        group = properties.get("GroupName", "default")
        arn = f"arn:{PARTITION}:scheduler:{resolver.region}:{ACCOUNT_ID}:schedule/{group}/{name}"
    payload = properties.get("Input")
    return ScheduleSource(
        event_name=event_name,
        expression=expression,
        enabled=enabled,
        input=None if payload is None else str(payload),
        resource_arn=arn,
    )


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _env_value(value: Any) -> str:
    # CloudFormation turns YAML booleans into "true"/"false", Python's str() would say "True".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
