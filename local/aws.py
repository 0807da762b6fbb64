"""The AWS of the local stack: a moto server process, provisioned from the SAM template.

`LocalAws` starts moto on 127.0.0.1 in its own process (faster than the threaded server: no GIL
shared with the runner), creates the template's queues, tables, keys, parameters and secrets in it
and returns a `Provisioned` map of logical ids to physical ids, so function environments resolve
exactly as CloudFormation would resolve them. Product code reaches it only through the standard
`AWS_ENDPOINT_URL`, region and (dummy) credentials.

`python -m local.aws --port N` is the server process itself: moto's own server with two fixes to
its SQS model that the Lambda runner depends on (see `_patch_moto_sqs`).
"""

from __future__ import annotations

import argparse
import collections
import copy
import hashlib
import http.client
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.cfn import (
    ACCOUNT_ID,
    PARTITION,
    Resolver,
    ResourceValues,
    TemplateError,
    apply_globals,
    load_template,
    physical_name,
    references,
)

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_STACK_NAME = "onedesk-qbo-local"
_REPO_ROOT = Path(__file__).resolve().parents[1]

# Types the local stack does not create in moto, and why (reported, never silently dropped).
_SKIP_REASONS = {
    "AWS::Serverless::Function": "run by the Lambda runner (local/runner)",
    "AWS::Serverless::HttpApi": "served by the Lambda runner's HTTP server",
    "AWS::Serverless::LayerVersion": "the Lambda runner puts its ContentUri on the function's sys.path",
    "AWS::CloudWatch::Alarm": "no CloudWatch locally: read DLQ depth with sqs get_queue_attributes",
    "AWS::SNS::Topic": "nothing local consumes alarm notifications",
}
_SKIP_PREFIX_REASONS = {
    "AWS::IAM::": "IAM is not enforced locally",
    "AWS::Events::": "schedules are fired by the Lambda runner",
    "AWS::Scheduler::": "schedules are fired by the Lambda runner",
    "AWS::Logs::": "function logs are kept by the Lambda runner",
    "AWS::Lambda::": "functions are run by the Lambda runner",
}

_SQS_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)
_SQS_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")

logger = logging.getLogger(__name__)


def aws_environment(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """What a process needs to reach the local AWS through the standard SDK configuration."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **CREDENTIALS,
    }


def aws_client(service: str, endpoint_url: str, region: str = REGION) -> Any:
    """A boto3 client (own session: thread-safe to create) for the local AWS."""
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        # The runner shares one client between its long polls and its batches' deletes.
        config=Config(max_pool_connections=50),
    )


@dataclass
class ProvisionedResource:
    """One template resource: created in moto, or skipped with a reason and placeholder ids."""

    logical_id: str
    type: str
    ref: str
    attributes: dict[str, Any] = field(default_factory=dict)
    skipped_reason: str | None = None


@dataclass
class Provisioned:
    """What `LocalAws.provision` created, by logical id."""

    stack_name: str
    region: str
    endpoint_url: str
    parameters: dict[str, Any]
    resources: dict[str, ProvisionedResource]
    secrets: dict[str, str] = field(default_factory=dict)  # secret name -> ARN

    @property
    def skipped(self) -> dict[str, str]:
        return {
            logical_id: resource.skipped_reason
            for logical_id, resource in self.resources.items()
            if resource.skipped_reason is not None
        }

    def ref(self, logical_id: str) -> str:
        return self.resources[logical_id].ref

    def attribute(self, logical_id: str, name: str) -> Any:
        return self.resources[logical_id].attributes[name]

    def of_type(self, resource_type: str) -> dict[str, ProvisionedResource]:
        return {lid: res for lid, res in self.resources.items() if res.type == resource_type}

    def resolver(self, template: Mapping[str, Any]) -> Resolver:
        """A resolver for `template` that sees these parameter values and resources."""
        values = {lid: ResourceValues(res.ref, res.attributes) for lid, res in self.resources.items()}
        return Resolver(template, self.parameters, values, stack_name=self.stack_name, region=self.region)

    def environment(self) -> dict[str, str]:
        return aws_environment(self.endpoint_url, self.region)

    def client(self, service: str) -> Any:
        return aws_client(service, self.endpoint_url, self.region)


class LocalAws:
    """moto in server mode on 127.0.0.1, provisioned from a SAM template."""

    def __init__(
        self,
        *,
        port: int = 0,
        region: str = REGION,
        stack_name: str = DEFAULT_STACK_NAME,
        startup_timeout: float = 30.0,
    ) -> None:
        self.region = region
        self.stack_name = stack_name
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._server_log: collections.deque[str] = collections.deque(maxlen=500)
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        if self._process is None:
            raise RuntimeError("LocalAws is not started")
        return f"http://127.0.0.1:{self._port}"

    def environment(self) -> dict[str, str]:
        return aws_environment(self.endpoint_url, self.region)

    def server_log(self) -> list[str]:
        """The moto process's warnings and errors (its request log is silenced)."""
        return list(self._server_log)

    def start(self) -> LocalAws:
        # A free port can be taken between probing and binding: retry a few times.
        for _attempt in range(3):
            self._port = self._requested_port or free_port()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "local.aws", "--port", str(self._port)],
                cwd=_REPO_ROOT,
                env={
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join([str(_REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
                },
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Own session: Ctrl-C in `make dev` reaches the stack, which then stops moto in order.
                start_new_session=True,
            )
            threading.Thread(target=self._drain_log, args=(self._process,), daemon=True).start()
            if self._wait_until_ready():
                return self
            self.stop()
            if self._requested_port:
                break
        log = "\n".join(self._server_log)
        raise RuntimeError(f"moto server did not start:\n{log}")

    def _drain_log(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self._server_log.append(raw.decode("utf-8", "replace").rstrip())

    def _wait_until_ready(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                self._request("GET", "/moto-api/data.json")
            except OSError:
                time.sleep(0.05)
                continue
            return True
        return False

    def _request(self, method: str, path: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=5)
        try:
            connection.request(method, path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"moto {method} {path}: HTTP {response.status}")
        finally:
            connection.close()

    def client(self, service: str) -> Any:
        """A boto3 client for the local AWS (cached: creating one costs about 0.1 s)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = aws_client(service, self.endpoint_url, self.region)
            return self._clients[service]

    def reset(self) -> None:
        """Wipe every resource and message (moto's reset), e.g. between tests."""
        self._request("POST", "/moto-api/reset")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        self._clients.clear()
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def provision(
        self,
        template: Mapping[str, Any] | str | Path,
        parameters: Mapping[str, Any] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> Provisioned:
        """Create the template's resources; `secrets` maps a secret to its local value.

        A `secrets` key that names a template parameter stands for the secret named by that
        parameter's value (the template passes secret names as parameters); any other key is the
        secret name itself.
        """
        loaded = load_template(template) if isinstance(template, str | Path) else template
        template_ = apply_globals(loaded)
        resolver = Resolver(template_, parameters, stack_name=self.stack_name, region=self.region)
        provisioned = Provisioned(
            self.stack_name, self.region, self.endpoint_url, dict(resolver.parameters), {}
        )
        for logical_id in _creation_order(template_["Resources"], resolver):
            definition = template_["Resources"][logical_id]
            resource = self._provision_one(logical_id, definition, resolver)
            provisioned.resources[logical_id] = resource
            resolver.resources[logical_id] = ResourceValues(resource.ref, resource.attributes)
        secretsmanager = self.client("secretsmanager")
        for key, value in (secrets or {}).items():
            name = str(resolver.parameters.get(key, key))
            arn = secretsmanager.create_secret(Name=name, SecretString=value)["ARN"]
            provisioned.secrets[name] = arn
        for logical_id, reason in provisioned.skipped.items():
            logger.debug("skipped %s (%s): %s", logical_id, provisioned.resources[logical_id].type, reason)
        return provisioned

    def _provision_one(
        self, logical_id: str, definition: Mapping[str, Any], resolver: Resolver
    ) -> ProvisionedResource:
        resource_type = str(definition["Type"])
        creator = {
            "AWS::SQS::Queue": self._create_queue,
            "AWS::DynamoDB::Table": self._create_table,
            "AWS::KMS::Key": self._create_key,
            "AWS::SSM::Parameter": self._create_parameter,
            "AWS::SecretsManager::Secret": self._create_secret,
        }.get(resource_type)
        if creator is None:
            return self._placeholder(logical_id, resource_type, definition, resolver)
        properties = resolver.resolve(definition.get("Properties") or {})
        ref, attributes = creator(logical_id, properties)
        return ProvisionedResource(logical_id, resource_type, ref, attributes)

    def _placeholder(
        self, logical_id: str, resource_type: str, definition: Mapping[str, Any], resolver: Resolver
    ) -> ProvisionedResource:
        """Ids for a resource that is not created, so that references to it still resolve."""
        reason = _SKIP_REASONS.get(resource_type) or next(
            (text for prefix, text in _SKIP_PREFIX_REASONS.items() if resource_type.startswith(prefix)),
            "not emulated locally",
        )
        service = resource_type.split("::")[1].lower()
        name = physical_name(self.stack_name, logical_id)
        arn_prefix = f"arn:{PARTITION}:{service}:{self.region}:{ACCOUNT_ID}"
        ref, attributes = name, {"Arn": f"{arn_prefix}:{name}"}
        if resource_type == "AWS::Serverless::Function":
            properties = definition.get("Properties") or {}
            name = str(resolver.resolve(properties.get("FunctionName", name)))
            ref, attributes = (
                name,
                {"Arn": f"arn:{PARTITION}:lambda:{self.region}:{ACCOUNT_ID}:function:{name}"},
            )
        elif resource_type == "AWS::Serverless::LayerVersion":
            ref = f"arn:{PARTITION}:lambda:{self.region}:{ACCOUNT_ID}:layer:{name}:1"
            attributes = {"Arn": ref}
        elif resource_type == "AWS::SNS::Topic":
            ref = f"{arn_prefix}:{name}"
            attributes = {"TopicArn": ref, "TopicName": name}
        elif resource_type == "AWS::Serverless::HttpApi":
            # API ids are 10 lower-case alphanumerics; derive one so it is stable across restarts.
            ref = hashlib.sha256(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:10]
            attributes = {"ApiEndpoint": f"https://{ref}.execute-api.{self.region}.amazonaws.com"}
        elif resource_type == "AWS::IAM::Role":
            attributes = {"Arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{name}", "RoleId": name}
        return ProvisionedResource(logical_id, resource_type, ref, attributes, reason)

    def _create_queue(self, logical_id: str, properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        fifo = _cfn_bool(properties.get("FifoQueue", False))
        name = properties.get("QueueName") or physical_name(self.stack_name, logical_id, 75) + (
            ".fifo" if fifo else ""
        )
        attributes = {key: _sqs_value(properties[key]) for key in _SQS_ATTRIBUTES if key in properties}
        for key in _SQS_JSON_ATTRIBUTES:
            if key in properties:
                value = properties[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def _create_table(self, logical_id: str, properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = properties.get("TableName") or physical_name(self.stack_name, logical_id, 255)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": properties["KeySchema"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
        }
        for key in (
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "ProvisionedThroughput",
            "TableClass",
            "DeletionProtectionEnabled",
        ):
            if key in properties:
                request[key] = properties[key]
        if "StreamSpecification" in properties:
            request["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
        sse = properties.get("SSESpecification")
        if sse:
            # CloudFormation spells it SSEEnabled, the API Enabled.
            request["SSESpecification"] = {
                "Enabled": _cfn_bool(sse.get("SSEEnabled", False)),
                **{key: sse[key] for key in ("SSEType", "KMSMasterKeyId") if key in sse},
            }
        dynamodb = self.client("dynamodb")
        description = dynamodb.create_table(**request)["TableDescription"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and _cfn_bool(ttl.get("Enabled", False)):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        pitr = properties.get("PointInTimeRecoverySpecification")
        if pitr and _cfn_bool(pitr.get("PointInTimeRecoveryEnabled", False)):
            dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        attributes = {"Arn": description["TableArn"]}
        if "LatestStreamArn" in description:
            attributes["StreamArn"] = description["LatestStreamArn"]
        return name, attributes

    def _create_key(self, _logical_id: str, properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        request: dict[str, Any] = {}
        if "Description" in properties:
            request["Description"] = properties["Description"]
        if "KeyUsage" in properties:
            request["KeyUsage"] = properties["KeyUsage"]
        if "KeySpec" in properties:
            request["KeySpec"] = properties["KeySpec"]
        if "KeyPolicy" in properties:
            policy = properties["KeyPolicy"]
            request["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
        kms = self.client("kms")
        metadata = kms.create_key(**request)["KeyMetadata"]
        if _cfn_bool(properties.get("EnableKeyRotation", False)):
            kms.enable_key_rotation(KeyId=metadata["KeyId"])
        return metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}

    def _create_parameter(self, logical_id: str, properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = properties.get("Name") or physical_name(self.stack_name, logical_id, 2048)
        self.client("ssm").put_parameter(
            Name=name,
            Value=str(properties["Value"]),
            Type=properties.get("Type", "String"),
            Overwrite=True,
        )
        return name, {"Type": properties.get("Type", "String"), "Value": str(properties["Value"])}

    def _create_secret(self, logical_id: str, properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = properties.get("Name") or physical_name(self.stack_name, logical_id, 512)
        secretsmanager = self.client("secretsmanager")
        value = properties.get("SecretString")
        if value is None:
            value = _generated_secret(secretsmanager, properties.get("GenerateSecretString") or {})
        arn = secretsmanager.create_secret(Name=name, SecretString=value)["ARN"]
        return arn, {"Id": arn}


def _generated_secret(secretsmanager: Any, spec: Mapping[str, Any]) -> str:
    options = {
        key: spec[key]
        for key in (
            "PasswordLength",
            "ExcludeCharacters",
            "ExcludeNumbers",
            "ExcludePunctuation",
            "ExcludeUppercase",
            "ExcludeLowercase",
            "IncludeSpace",
            "RequireEachIncludedType",
        )
        if key in spec
    }
    password = secretsmanager.get_random_password(**options)["RandomPassword"]
    if "SecretStringTemplate" not in spec:
        return str(password)
    document = json.loads(spec["SecretStringTemplate"])
    document[spec["GenerateStringKey"]] = password
    return json.dumps(document)


def _creation_order(resources: Mapping[str, Any], resolver: Resolver) -> list[str]:
    """Active resources, each after the resources it refers to (template order otherwise)."""
    active = [lid for lid, definition in resources.items() if resolver.is_active(definition)]
    dependencies: dict[str, set[str]] = {}
    for logical_id in active:
        definition = resources[logical_id]
        depends_on = definition.get("DependsOn", [])
        needed = references(definition.get("Properties")) | set(
            [depends_on] if isinstance(depends_on, str) else depends_on
        )
        dependencies[logical_id] = {name for name in needed if name in resources}
    ordered: list[str] = []
    done: set[str] = set()
    while len(ordered) < len(active):
        ready = [lid for lid in active if lid not in done and dependencies[lid] <= done]
        if not ready:
            cycle = sorted(set(active) - done)
            raise TemplateError(f"circular or inactive references between resources: {cycle}")
        ordered.extend(ready)
        done.update(ready)
    return ordered


def _cfn_bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _sqs_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------- the moto server process

_RECEIVE_TICK_SECONDS = 0.1


def _patch_moto_sqs() -> None:
    """Fix two moto 5.2 SQS behaviours that the Lambda runner's fidelity depends on.

    1. FIFO order after a visibility timeout. moto releases a timed-out in-flight message only when
       its receive loop reaches it, and unlocks the group only when the last one is released, so
       after a partial batch failure it hands out the *last* failed message of a group first
       (checked by hand: A3..A5 in flight and timed out -> the next receive returns A5). AWS returns
       the group's oldest message first. Here every timed-out message is released before the scan.
    2. Busy long polls. moto's wait predicate is "any visible message", which stays true while those
       messages sit in a locked FIFO group, so a long poll spins a CPU core for its whole duration.
       Here the poll sleeps on the queue's condition (woken by sends and deletes) with a short tick
       for visibility timeouts that expire on their own.

    Deletes also take the queue lock: moto rebuilt the message list on delete, and a concurrent
    send appended to the old list was lost. So do visibility changes (a consumer returning its failed
    records early): moto edits the in-flight set a concurrent receive iterates over, and a message made
    visible again must wake the long polls waiting on its queue. And every FIFO message gets an increasing
    SequenceNumber, as on AWS (moto gives random digits, and only with an explicit deduplication id).

    Two costs that grow with the queue are cut (a webhook batch queues thousands of messages): every
    send reads ``queue.attributes`` up to four times for ContentBasedDeduplication, and each read
    counted the queue's messages three times, so one SendMessageBatch took ~0.3 s once 800 messages
    were waiting; while sending, the attributes skip those counts (nothing on that path reads them).
    A message's visibility check built two datetimes; it reads the clock once now. And a delete scans
    the queue once, in place.
    """
    from moto.core.utils import unix_time  # noqa: PLC0415 - only in the server process
    from moto.sqs import models  # noqa: PLC0415
    from moto.sqs.exceptions import ReceiptHandleIsInvalid  # noqa: PLC0415

    def collect(
        queue: Any, count: int, visibility_timeout: int, attribute_names: list[str]
    ) -> tuple[list[Any], list[Any]]:
        queue._pending_messages -= {message for message in queue._pending_messages if message.visible}
        locked_groups = queue.pending_message_groups if queue.fifo_queue else set()
        policy = queue.redrive_policy if queue.dead_letter_queue is not None else None
        retention_seconds = int(queue.message_retention_period)
        received: list[Any] = []
        dead: list[Any] = []
        for message in queue.messages:
            if message.group_id is not None and message.group_id in locked_groups:
                continue
            if message.sent_timestamp / 1000 + retention_seconds <= unix_time():
                queue._messages.remove(message)
                continue
            if policy and message.approximate_receive_count >= policy["maxReceiveCount"]:
                queue._messages.remove(message)
                dead.append(message)
                continue
            queue._pending_messages.add(message)
            message.mark_received(visibility_timeout=visibility_timeout)
            delivered = copy.deepcopy(message)
            models._filter_message_attributes(delivered, attribute_names)
            received.append(delivered)
            if len(received) >= count:
                break
        return received, dead

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        queue = self.get_queue(queue_name)
        deadline = unix_time() + wait_seconds_timeout
        while True:
            with queue._messages_lock:
                received, dead = collect(queue, count, visibility_timeout, message_attribute_names or [])
                remaining = deadline - unix_time()
                if not received and not dead and remaining > 0:
                    queue._messages_lock.wait(timeout=min(_RECEIVE_TICK_SECONDS, remaining))
                    continue
            # Appended directly (not add_message): a redrive is not a send, no deduplication applies.
            dead_letter_queue = queue.dead_letter_queue
            for message in dead:
                with dead_letter_queue._messages_lock:
                    dead_letter_queue._messages.append(message)
                    dead_letter_queue._messages_lock.notify_all()
            if received or deadline - unix_time() <= 0:
                return received

    def delete_message(self: Any, receipt_handle: str) -> None:
        # moto's own, in one pass and in place: it rebuilt the list and every message's list of handles.
        with self._messages_lock:
            if receipt_handle in self.deleted_messages:
                return  # deleting twice is fine, as on AWS
            found = next(
                (
                    index
                    for index, held in enumerate(self._messages)
                    if receipt_handle in (held.receipt_handle, *held._old_receipt_handles)
                ),
                None,
            )
            if found is None:
                raise ReceiptHandleIsInvalid()
            message = self._messages.pop(found)
            self.pending_messages.discard(message)
            self.deleted_messages.update(message.all_receipt_handles)
            self._messages_lock.notify_all()

    original_change_visibility = models.SQSBackend.change_message_visibility

    def change_message_visibility(
        self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int
    ) -> None:
        queue = self.get_queue(queue_name)
        with queue._messages_lock:
            original_change_visibility(self, queue_name, receipt_handle, visibility_timeout)
            queue._messages_lock.notify_all()

    original_add = models.Queue.add_message
    sequence = itertools.count(time.time_ns())
    sequence_lock = threading.Lock()

    def add_message(self: Any, message: Any) -> None:
        if self.fifo_queue:
            with sequence_lock:
                message.sequence_number = f"{next(sequence):020d}"
        original_add(self, message)

    sending = threading.local()
    original_attributes = models.Queue.attributes.fget

    def attributes(self: Any) -> dict[str, Any]:
        if not getattr(sending, "active", False):
            return original_attributes(self)  # type: ignore[misc]
        deduplication = self.content_based_deduplication
        as_text = str(deduplication).lower() if isinstance(deduplication, bool) else deduplication
        return {"ContentBasedDeduplication": as_text}

    def while_sending(method: Any) -> Any:
        def send(*args: Any, **kwargs: Any) -> Any:
            nested = getattr(sending, "active", False)
            sending.active = True
            try:
                return method(*args, **kwargs)
            finally:
                sending.active = nested

        return send

    def visible(self: Any) -> bool:
        return bool(time.time() * 1000 > self.visible_at)

    def delayed(self: Any) -> bool:
        return bool(time.time() * 1000 < self.delayed_until)

    models.SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    models.SQSBackend.send_message = while_sending(models.SQSBackend.send_message)  # type: ignore[method-assign]
    models.SQSBackend.send_message_batch = while_sending(models.SQSBackend.send_message_batch)  # type: ignore[method-assign]
    models.Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    models.Message.visible = property(visible)  # type: ignore[assignment,method-assign]
    models.Message.delayed = property(delayed)  # type: ignore[assignment,method-assign]
    models.Queue.delete_message = delete_message  # type: ignore[method-assign]
    models.SQSBackend.change_message_visibility = change_message_visibility  # type: ignore[method-assign]
    models.Queue.add_message = add_message  # type: ignore[method-assign]


CALL_LOG_ENV = "LOCAL_AWS_CALL_LOG"


def _log_calls(path: str) -> None:
    """Append one line per AWS API call this server answers (service, action, request bytes) to ``path``,
    so a benchmark can count what the product really called, priced as AWS bills it."""
    from moto.core.responses import BaseResponse  # noqa: PLC0415 - only in the server process

    lock = threading.Lock()
    original = BaseResponse.call_action

    def call_action(self: Any) -> Any:
        # DynamoDB's handler has already parsed its body into a dict here; the others hold the raw body.
        body = self.body if isinstance(self.body, bytes | str | dict) else b""
        raw = json.dumps(body, default=str) if isinstance(body, dict) else body
        call = {"service": self.service_name, "action": self._get_action(), "bytes": len(raw)}
        if self.service_name == "dynamodb" and isinstance(body, dict):
            call["item"] = _dynamodb_item_kind(body)
            # A put of an item carrying the index's key is also written to the index (billed again).
            call["indexed"] = "gsi1pk" in (body.get("Item") or {})
        entry = json.dumps(call)
        with lock, open(path, "a", encoding="utf-8") as log:
            log.write(entry + "\n")
        return original(self)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]


def _dynamodb_item_kind(request: dict[str, Any]) -> str:
    """ "RATE/BUDGET"-like: the kinds of the partition and sort keys a DynamoDB request names (no values;
    audit records, whose sort key is a time, are "AUDIT")."""
    key = request.get("Key") or request.get("Item") or {}
    if not key and "KeyConditionExpression" in request:
        values = request.get("ExpressionAttributeValues", {})
        key = {"pk": next(iter(values.values()), {})}
    kinds = []
    for name in ("pk", "sk"):
        attribute = key.get(name)
        value = attribute.get("S", "") if isinstance(attribute, dict) else str(attribute or "")
        kind = value.split("#", 1)[0] if value else "-"
        kinds.append("AUDIT" if kind[:2] == "20" and kind[:4].isdigit() else kind)
    return "/".join(kinds) + (f" {request['IndexName']}" if "IndexName" in request else "")


def serve_moto(argv: list[str] | None = None) -> None:
    """Run the patched moto server in this process until it is terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # The request log (one line per SQS poll) drowns everything else; warnings and errors remain.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _patch_moto_sqs()
    if call_log := os.environ.get(CALL_LOG_ENV):
        _log_calls(call_log)
    from moto.server import main  # noqa: PLC0415 - imported after patching

    main(["-H", "127.0.0.1", "-p", str(args.port)])


if __name__ == "__main__":
    serve_moto()
