"""HTTP API routes: payload format 2.0 in and out, byte-exact bodies, errors as API Gateway shows them."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from local.aws import LocalAws
from local.runner import LambdaRunner
from tests.runner.conftest import MARKER_SECRET, TEMPLATE


@pytest.fixture(scope="module")
def runner(local_aws: LocalAws) -> Iterator[LambdaRunner]:
    """One runner for the module: these tests change no state, and a stop costs a long poll."""
    local_aws.reset()
    provisioned = local_aws.provision(TEMPLATE, secrets={"MarkerSecretName": MARKER_SECRET})
    with LambdaRunner(TEMPLATE, provisioned, schedule_speed=None) as runner:
        yield runner


def _url(runner: LambdaRunner, path: str) -> str:
    assert runner.http_url is not None
    return runner.http_url + path


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", os.urandom(4096)),
        ("application/json", '{ "amount":  12.50 ,\n "name": "Café Ünïcode ✓" }\r\n'.encode()),
        ("application/x-www-form-urlencoded", b"a=1&b=%C3%A9"),
        ("text/plain", b"\xff\xfe not utf-8"),  # "text" that is not UTF-8 still arrives intact
    ],
)
def test_the_raw_body_reaches_the_handler_byte_for_byte(
    runner: LambdaRunner, content_type: str, body: bytes
) -> None:
    response = requests.post(_url(runner, "/echo"), data=body, headers={"Content-Type": content_type})

    assert response.status_code == 200
    assert response.headers["x-body-sha256"] == hashlib.sha256(body).hexdigest()
    assert response.content == body  # and back: isBase64Encoded responses are decoded


def test_text_and_binary_bodies_are_encoded_as_api_gateway_does(runner: LambdaRunner) -> None:
    as_json = requests.post(
        _url(runner, "/files/json"), data=b'{"a":1}', headers={"Content-Type": "application/json"}
    )
    as_form = requests.post(
        _url(runner, "/files/form"),
        data=b"a=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    json_event, form_event = json.loads(as_json.text), json.loads(as_form.text)
    assert (json_event["isBase64Encoded"], json_event["body"]) == (False, '{"a":1}')
    assert (form_event["isBase64Encoded"], base64.b64decode(form_event["body"])) == (True, b"a=1")


def test_requests_become_payload_v2_events_and_results_become_responses(runner: LambdaRunner) -> None:
    url = urlsplit(_url(runner, "/items/42%20x?a=1&a=2&empty=&b=%C3%A9"))
    connection = http.client.HTTPConnection(url.hostname or "", url.port)
    connection.putrequest("GET", f"{url.path}?{url.query}")
    for name, value in [
        ("X-Tenant", "t1"),
        ("X-Tenant", "t2"),
        ("Cookie", "a=1; b=2"),
        ("User-Agent", "tests"),
    ]:
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    event = json.loads(response.read())
    set_cookies = response.headers.get_all("Set-Cookie")
    connection.close()

    assert response.status == 201
    assert set_cookies == ["session=abc; HttpOnly", "theme=dark"]
    assert response.headers["apigw-requestid"] == event["requestContext"]["requestId"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/42%20x"
    assert event["rawQueryString"] == "a=1&a=2&empty=&b=%C3%A9"
    assert event["queryStringParameters"] == {"a": "1,2", "empty": "", "b": "é"}
    assert event["pathParameters"] == {"id": "42 x"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-tenant"] == "t1,t2"
    assert "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context["apiId"] == runner.provisioned.ref("Api")
    assert context["stage"] == "$default"
    assert context["routeKey"] == "GET /items/{id}"
    assert context["http"] == {
        "method": "GET",
        "path": "/items/42%20x",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests",
    }
    assert {"accountId", "domainName", "time", "timeEpoch"} <= set(context)


def test_greedy_path_parameters(runner: LambdaRunner) -> None:
    response = requests.delete(_url(runner, "/files/reports/2026/q1.pdf"))

    event = response.json()
    assert event["routeKey"] == "ANY /files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "reports/2026/q1.pdf"}
    assert event["requestContext"]["http"]["method"] == "DELETE"


def test_malformed_json_gets_the_handlers_400(runner: LambdaRunner) -> None:
    response = requests.post(
        _url(runner, "/json"), data=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json() == {"message": "invalid JSON"}


def test_a_crashing_handler_gives_500_without_a_stack_trace(runner: LambdaRunner) -> None:
    response = requests.get(_url(runner, "/crash"))

    assert response.status_code == 500
    assert response.content == b'{"message": "Internal Server Error"}'
    assert response.headers["content-type"] == "application/json"
    assert "[ERROR] RuntimeError: secret internals must not leak" in runner.logs("EchoFunction")
    assert "Traceback (most recent call last):" in runner.logs("EchoFunction")


def test_unknown_routes_get_404_and_large_bodies_413(runner: LambdaRunner) -> None:
    assert requests.get(_url(runner, "/nowhere")).json() == {"message": "Not Found"}
    assert requests.get(_url(runner, "/echo")).status_code == 404  # route exists for POST only

    url = urlsplit(_url(runner, "/echo"))
    connection = http.client.HTTPConnection(url.hostname or "", url.port)
    connection.putrequest("POST", "/echo")
    connection.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    connection.close()


def test_the_function_sees_its_template_environment_and_the_local_aws(runner: LambdaRunner) -> None:
    provisioned = runner.provisioned
    response = requests.get(_url(runner, "/env"))

    assert response.status_code == 200
    seen = response.json()
    env = seen["env"]
    assert env["STAGE"] == "test"  # Globals
    assert env["TABLE_NAME"] == provisioned.ref("SeenTable")  # Globals, !Ref
    assert env["GREETING"] == "hello"  # !FindInMap
    assert env["ROTATION"] == "on"  # !If
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "runner-tests-EchoFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_ENDPOINT_URL"] == provisioned.endpoint_url
    assert seen["table_status"] == "ACTIVE"
    assert seen["parameter"] == "stage-test"
    assert seen["secret"] == MARKER_SECRET
    assert seen["layer"] == "HELLO!"
    assert 8_000 < seen["remaining_ms"] <= 10_000  # Timeout: 10 (Globals)
