"""QBO fault bodies (JSON, gateway JSON, XML, HTML) map to typed errors (qbo-facts §5)."""

from __future__ import annotations

import json

import pytest

from qbo_sync.adapters.qbo.faults import errors_of_json, fault_from_response
from qbo_sync.ports.qbo import (
    QboAuthError,
    QboDuplicateName,
    QboError,
    QboNotFound,
    QboStaleObject,
    QboThrottled,
    QboTransient,
    QboValidationError,
)

TID = "1-65f2c1a2-7d3c5f0e1b2a3c4d5e6f7a8b"


def validation_fault(code: str, message: str, detail: str, element: str = "") -> bytes:
    error = {"Message": message, "Detail": detail, "code": code, "element": element}
    return json.dumps(
        {"Fault": {"Error": [error], "type": "ValidationFault"}, "time": "2026-01-01T00:00:00-08:00"}
    ).encode()


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("5010", "Stale Object Error", QboStaleObject),
        ("6240", "Duplicate Name Exists Error", QboDuplicateName),
        ("610", "Object Not Found", QboNotFound),
        ("2020", "Required param missing, need to supply the required value for the API", QboValidationError),
        ("2050", "Length exceeds limit", QboValidationError),
        ("6000", "Business Validation Error", QboValidationError),
        ("4000", "Error parsing query", QboValidationError),
        ("6140", "Duplicate Document Number Error", QboValidationError),
    ],
)
def test_validation_faults_by_code(code: str, message: str, expected: type[QboError]) -> None:
    error = fault_from_response(400, validation_fault(code, message, "the detail", "Line"), TID)
    assert type(error) is expected
    assert (error.status, error.code, error.message, error.detail, error.element, error.intuit_tid) == (
        400,
        code,
        message,
        "the detail",
        "Line",
        TID,
    )


def test_object_not_found_is_recognised_by_message_too() -> None:
    body = validation_fault("6000", "Object Not Found", "Another user has deleted this transaction.")
    assert isinstance(fault_from_response(400, body, None), QboNotFound)


def test_str_is_a_readable_one_liner() -> None:
    error = fault_from_response(
        400,
        validation_fault(
            "6240",
            "Duplicate Name Exists Error",
            "The name supplied already exists. : Another customer is already using this name.",
        ),
        TID,
    )
    assert str(error) == (
        "QBO 6240: Duplicate Name Exists Error | The name supplied already exists. : "
        "Another customer is already using this name."
    )
    assert "\n" not in str(error)


def test_gateway_401_is_an_auth_error_without_the_token_prefix() -> None:
    body = {
        "warnings": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": "Token expired: eyJlbmMiOiJBMTI4Q0JD",
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "time": 1767225600000,
    }
    error = fault_from_response(401, json.dumps(body).encode(), TID)
    assert isinstance(error, QboAuthError)
    assert error.code == "3200"
    assert error.detail is None
    assert "eyJ" not in str(error) and "eyJ" not in repr(error)


def test_403_3100_is_an_auth_error() -> None:
    body = {
        "fault": {
            "error": [
                {
                    "message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                    "detail": None,
                    "code": "3100",
                    "element": None,
                }
            ],
            "type": "SERVICE",
        }
    }
    error = fault_from_response(403, json.dumps(body).encode(), None)
    assert isinstance(error, QboAuthError)
    assert error.code == "3100"


XML_THROTTLE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2026-01-01T00:00:00.000-08:00">'
    b'<Fault type="SERVICE"><Error code="3001">'
    b"<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
    b"<Detail>The request limit was reached.  Try again later</Detail>"
    b"</Error></Fault></IntuitResponse>"
)


def test_xml_throttle_body() -> None:
    error = fault_from_response(429, XML_THROTTLE, TID)
    assert isinstance(error, QboThrottled)
    assert error.code == "3001"
    assert error.message == "message=ThrottleExceeded; errorCode=003001; statusCode=429"
    assert error.detail == "The request limit was reached.  Try again later"


def test_json_throttle_body() -> None:
    body = validation_fault("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429", "Try again")
    assert isinstance(fault_from_response(429, body, None), QboThrottled)


def test_historic_403_throttle_is_still_a_throttle() -> None:
    assert isinstance(fault_from_response(403, XML_THROTTLE, None), QboThrottled)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>\r\n<head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        b"",
        b"not json at all",
        b"{broken json",
        b"<unclosed",
    ],
)
def test_unreadable_5xx_bodies_keep_only_the_status(body: bytes) -> None:
    error = fault_from_response(502, body, None)
    assert isinstance(error, QboTransient)
    assert (error.code, error.message, error.detail) == (None, "HTTP 502", None)


def test_system_fault_500_is_transient() -> None:
    body = validation_fault("10000", "An application error has occurred while processing your request", "x")
    assert isinstance(fault_from_response(500, body, None), QboTransient)


def test_several_errors_first_decides() -> None:
    errors = [
        {"Message": "Stale Object Error", "Detail": "d1", "code": "5010"},
        {"Message": "Business Validation Error", "Detail": "d2", "code": "6000"},
    ]
    body = json.dumps({"Fault": {"Error": errors, "type": "ValidationFault"}}).encode()
    assert isinstance(fault_from_response(400, body, None), QboStaleObject)


def test_batch_item_fault_is_found_in_a_parsed_body() -> None:
    item = {
        "bId": "1",
        "Fault": {"Error": [{"Message": "Duplicate", "code": "6240"}], "type": "ValidationFault"},
    }
    (error,) = errors_of_json(item)
    assert error.code == "6240"
    assert errors_of_json({"bId": "2", "Customer": {"Id": "5"}}) == []
