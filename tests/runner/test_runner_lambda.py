"""Invocations: the Lambda-like context, timeouts that end the execution environment, cold starts."""

from __future__ import annotations

from tests.runner.conftest import RunnerFactory


def test_the_context_is_lambdas(make_runner: RunnerFactory) -> None:
    runner = make_runner()

    cold = runner.invoke("SlowFunction", {"sleep": 0})
    warm = runner.invoke("SlowFunction", {"sleep": 0})

    assert cold.ok and warm.ok
    assert cold.init_duration_ms is not None and warm.init_duration_ms is None
    context = cold.payload
    assert 1_000 < context["remaining_at_start"] <= 2_000  # Timeout: 2
    assert context["function_name"] == "runner-tests-SlowFunction"
    assert context["function_version"] == "$LATEST"
    assert (
        context["invoked_function_arn"]
        == "arn:aws:lambda:us-east-1:123456789012:function:runner-tests-SlowFunction"
    )
    assert context["memory_limit_in_mb"] == "128"
    assert context["aws_request_id"] == cold.request_id
    assert context["log_group_name"] == "/aws/lambda/runner-tests-SlowFunction"
    assert cold.logs[0] == f"START RequestId: {cold.request_id} Version: $LATEST"
    assert cold.logs[-1].startswith(f"REPORT RequestId: {cold.request_id}\tDuration: ")
    assert "Init Duration" in cold.logs[-1] and "Init Duration" not in warm.logs[-1]


def test_a_timeout_ends_the_environment_like_lambda(make_runner: RunnerFactory) -> None:
    runner = make_runner()

    timed_out = runner.invoke("SlowFunction", {"sleep": 30})
    after = runner.invoke("SlowFunction", {"sleep": 0})

    assert timed_out.status == "timeout"
    assert timed_out.error == {
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 2.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert 2_000 <= timed_out.duration_ms < 3_000
    assert "sleeping 30 s" in timed_out.logs
    assert any(
        line.endswith(f"{timed_out.request_id} Task timed out after 2.00 seconds")
        for line in runner.logs("SlowFunction")
    )
    # The killed environment is replaced by a new one: a cold start.
    assert after.ok and after.init_duration_ms is not None
