"""The fuzz suite's harness: every HTTP route and every queue consumer of template.yaml, on the e2e local
stack, invoked through the Lambda runner (each function in its own worker process: its exact
environment, its real handler and adapters, moto and the emulators behind them) with the events API
Gateway and Lambda's SQS source produce, built by the runner's own builders. No HTTP hop: a case costs
what the function costs.

A case fails when the invocation raises, answers 5xx, or the function logs a traceback (the runtime's
``[ERROR]`` trace or a Powertools record with an ``exception``). ERROR lines without one are allowed:
a malformed message is logged at ERROR when it is rejected to its dead-letter queue, by design.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from local.runner.httpapi import Request, build_event, to_response
from local.runner.pool import InvocationResult
from local.runner.sqs import lambda_sqs_record, records_to_delete
from local.stack import LocalStack
from tests.e2e.conftest import World, _world, sqs

_FUZZ = settings(
    database=None,  # no example database to keep: a failure prints its reproduction blob
    deadline=None,  # the local stack shares two cores with the other suites
    print_blob=True,
    # No shrinking: each case costs real invocations, and shrinking one failure took over five minutes;
    # a failure reports the case as generated (the assertion says what went wrong).
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def fuzz(examples: int) -> settings:
    """The suite's settings with this test's number of examples (its share of the wall-time budget)."""
    return settings(_FUZZ, max_examples=examples)


def tracebacks(lines: Sequence[str]) -> list[str]:
    found = []
    for line in lines:
        if "Traceback (most recent call last)" in line:
            found.append(line)
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and ("exception" in record or "stack_trace" in record):
            found.append(line)
    return found


def assert_handled(result: InvocationResult) -> None:
    assert result.ok, f"{result.function} {result.status}: {result.error}"
    assert not tracebacks(result.logs), "\n".join(tracebacks(result.logs))


# ------------------------------------------------------------------------------------------ HTTP routes
@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpApi:
    """The template's routes, each invoked as API Gateway (payload 2.0) invokes its function."""

    stack: LocalStack

    def call(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HttpAnswer:
        matched = self.stack.runner.functions
        function_id, route = next(
            (fid, route)
            for fid, spec in matched.items()
            for route in spec.routes
            if route.method == method and route.path == path
        )
        request = Request(
            method, f"{path}?{query}" if query else path, list(headers), body, "127.0.0.1", "HTTP/1.1"
        )
        event = build_event(request, route, path, query, {})
        result = self.stack.runner.invoke(function_id, event)
        assert_handled(result)
        response = to_response(result, event["requestContext"]["requestId"])
        assert response.status < 500, f"{method} {path} answered {response.status}: {response.body[:300]!r}"
        return HttpAnswer(response.status, {k.lower(): v for k, v in response.headers}, response.body)


def assert_json_reason(answer: HttpAnswer) -> None:
    """A refused API request says why, as JSON (not for the admin's HTML pages)."""
    if answer.status >= 400:
        assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
        assert isinstance(answer.json().get("error"), str), answer.body


@pytest.fixture(scope="module")
def http(stack: LocalStack) -> HttpApi:
    return HttpApi(stack)


# ------------------------------------------------------------------------------------------ queues
@dataclass
class Consumer:
    """A queue consumer driven batch by batch: the test's messages are really sent to the queue and
    received (real receipt handles, attributes and sequence numbers), passed to the function as Lambda's
    SQS source would pass them, then deleted whatever the outcome (a failed record is reported, not
    retried: the next example must not find its group locked)."""

    stack: LocalStack
    function_id: str
    queue_id: str
    dead_letter_queue_id: str
    sent_bodies: set[str] = field(default_factory=set)

    @property
    def _client(self) -> Any:
        return sqs(self.stack)

    @property
    def batch_size(self) -> int:
        return self.stack.runner.functions[self.function_id].sqs_sources[0].batch_size

    def deliver(self, bodies: Sequence[str]) -> tuple[InvocationResult, list[str]]:
        """(the invocation, the bodies it reported as failed)."""
        url = self.stack.provisioned.ref(self.queue_id)
        group = uuid.uuid4().hex  # a group of its own: never locked by another example
        sent = self._client.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(index),
                    "MessageBody": body,
                    "MessageGroupId": group,
                    "MessageDeduplicationId": uuid.uuid4().hex,
                }
                for index, body in enumerate(bodies)
            ],
        )
        assert not sent.get("Failed"), sent["Failed"]
        self.sent_bodies.update(bodies)
        messages: list[dict[str, Any]] = []
        while len(messages) < len(bodies):
            messages += self._client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=300,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        source = self.stack.runner.functions[self.function_id].sqs_sources[0]
        records = [lambda_sqs_record(m, source.queue_arn, self.stack.provisioned.region) for m in messages]
        try:
            result = self.stack.runner.invoke(self.function_id, {"Records": records})
        finally:
            self._client.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        done = {r["messageId"] for r in records_to_delete(records, result, source.report_batch_item_failures)}
        return result, [r["body"] for r in records if r["messageId"] not in done]

    def remove_dead_letters(self) -> None:
        """The DLQ messages this suite caused (other e2e tests read their own DLQ messages)."""
        remove_messages(self.stack, self.dead_letter_queue_id, lambda body: body in self.sent_bodies)


def set_aside(stack: LocalStack, queue_id: str) -> list[str]:
    """Hide what the queue already holds (earlier tests' leftovers) while a test uses it; returns the
    receipt handles for ``put_back``."""
    client, url = sqs(stack), stack.provisioned.ref(queue_id)
    handles = []
    while messages := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900).get(
        "Messages", []
    ):
        handles += [m["ReceiptHandle"] for m in messages]
    return handles


def put_back(stack: LocalStack, queue_id: str, handles: Sequence[str]) -> None:
    client, url = sqs(stack), stack.provisioned.ref(queue_id)
    for handle in handles:
        client.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)


def remove_messages(stack: LocalStack, queue_id: str, ours: Any) -> None:
    """Delete the queue's messages whose body ``ours(body)`` claims; the others are put back."""
    client, url = sqs(stack), stack.provisioned.ref(queue_id)
    others = []
    while messages := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900).get(
        "Messages", []
    ):
        mine = [m for m in messages if ours(m["Body"])]
        others += [m["ReceiptHandle"] for m in messages if m not in mine]
        if mine:
            client.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(mine)],
            )
    put_back(stack, queue_id, others)


@pytest.fixture
def consumer(stack: LocalStack, request: pytest.FixtureRequest) -> Iterator[Consumer]:
    """Parametrised indirectly with (function id, queue, DLQ): its event source is disabled meanwhile."""
    function_id, queue_id, dlq_id = request.param
    stack.runner.set_event_sources_enabled(function_id, False)
    leftovers = set_aside(stack, queue_id)
    driven = Consumer(stack, function_id, queue_id, dlq_id)
    try:
        yield driven
    finally:
        driven.remove_dead_letters()
        put_back(stack, queue_id, leftovers)
        stack.runner.set_event_sources_enabled(function_id, True)


@pytest.fixture(scope="module")
def fuzz_world(stack: LocalStack) -> World:
    """A tenant of the fuzz suite's own, connected with complete settings: signed requests, sessions and
    well-formed messages name it, so the code behind the signature checks is reached."""
    return _world(stack, "US", "California")
