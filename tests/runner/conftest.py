"""Fixtures for the runner tests: one moto server per session, fresh resources and runner per test.

The tests use their own template (fixtures/template.yaml) and handlers, never the product's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from local.aws import LocalAws, Provisioned
from local.runner import LambdaRunner

FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATE = FIXTURES / "template.yaml"
MARKER_SECRET = "marker-secret-value"


class RunnerFactory(Protocol):
    def __call__(self, *, schedule_speed: float | None = None) -> LambdaRunner: ...


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws(stack_name="runner-tests") as aws:
        yield aws


@pytest.fixture
def provisioned(local_aws: LocalAws) -> Provisioned:
    local_aws.reset()
    return local_aws.provision(TEMPLATE, secrets={"MarkerSecretName": MARKER_SECRET})


@pytest.fixture
def sqs(local_aws: LocalAws) -> Any:
    return local_aws.client("sqs")


@pytest.fixture
def make_runner(provisioned: Provisioned) -> Iterator[RunnerFactory]:
    """Starts a runner when called, so a test can fill its queues first (deterministic batches)."""
    runners: list[LambdaRunner] = []

    def make(*, schedule_speed: float | None = None) -> LambdaRunner:
        runner = LambdaRunner(TEMPLATE, provisioned, schedule_speed=schedule_speed)
        runners.append(runner)
        return runner.start()

    yield make
    for runner in runners:
        runner.stop()


def wait_for[T](probe: Callable[[], T], timeout: float = 15.0, message: str = "condition") -> T:
    """The first truthy value of `probe`, polled until `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def lines_starting(runner: LambdaRunner, function_id: str, prefix: str) -> list[str]:
    return [line for line in runner.logs(function_id) if line.startswith(prefix)]


def queue_depth(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message now visible on a queue (used on dead-letter queues, which nothing polls)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
