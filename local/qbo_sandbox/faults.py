"""QBO fault bodies (§5): the JSON ValidationFault, the gateway's lower-case auth faults, XML throttling."""

from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from local.qbo_sandbox.clock import response_time


class QboFault(Exception):
    """A fault answered as `{"Fault": {"Error": [...], "type": ...}, "time": ...}`."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        element: str = "",
        *,
        fault_type: str = "ValidationFault",
        status: int = 400,
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.fault_type = fault_type
        self.status = status

    def fault(self) -> dict[str, Any]:
        error = {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}
        return {"Error": [error], "type": self.fault_type}

    def payload(self, moment: datetime) -> dict[str, Any]:
        return {"Fault": self.fault(), "time": response_time(moment)}


def object_not_found(element: str = "", *, deleted: bool = False) -> QboFault:
    reason = (
        "Another user has deleted this transaction."
        if deleted
        else "Something you're trying to use has been made inactive. "
        "Check the fields with accounts, customers, items, vendors or employees."
    )
    return QboFault("610", "Object Not Found", f"Object Not Found : {reason}", element)


def required_param(element: str) -> QboFault:
    return QboFault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element,
    )


def too_long(element: str, maximum: int, supplied: int) -> QboFault:
    return QboFault(
        "2050",
        "Length exceeds limit",
        f"String length specified does not match the supported length. Min:0 Max:{maximum} "
        f"supplied length:{supplied}",
        element,
    )


def invalid_enumeration(element: str, value: object) -> QboFault:
    return QboFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {value}", element)


def invalid_number(element: str, value: object) -> QboFault:
    return QboFault(
        "2170", "Invalid Number", f"Invalid Number : {element} value {value!r} is not a number", element
    )


def invalid_reference(element: str, value: object) -> QboFault:
    return QboFault(
        "2500", "Invalid Reference Id", f"Invalid Reference Id : {element} {value} is invalid", element
    )


def business_error(detail: str, element: str = "") -> QboFault:
    # The spec's chosen shape: the short title in Message, the specific reason in Detail.
    return QboFault("6000", "Business Validation Error", detail, element)


def duplicate_name(kind: str) -> QboFault:
    return QboFault(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another {kind} is already using this name. "
        "Please use a different name.",
    )


def stale_object(entity: str) -> QboFault:
    return QboFault(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and sandbox@example.com were working on this at the same time. "
        f"sandbox@example.com finished before you did, so your work was not saved. Entity={entity}",
    )


def query_parse_error(detail: str) -> QboFault:
    return QboFault("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_validation_error(detail: str) -> QboFault:
    return QboFault("4001", "Invalid query", f"QueryValidationError: {detail}")


def unsupported_operation(detail: str) -> QboFault:
    return QboFault("500", "Unsupported Operation", detail)


def malformed_request(detail: str) -> QboFault:
    return QboFault("2010", "Request has invalid or unsupported property", detail)


def unknown_resource(path: str) -> QboFault:
    return QboFault(
        "10000",
        "An application error has occurred while processing your request",
        f"System Failure Error: Could not find resource for relative : {path}",
        fault_type="SystemFault",
    )


def system_failure(status: int) -> QboFault:
    return QboFault(
        "10000",
        "An application error has occurred while processing your request",
        f"System Failure Error: injected HTTP {status}",
        fault_type="SystemFault",
        status=status,
    )


def _gateway_envelope(fault: dict[str, Any], moment: datetime) -> dict[str, Any]:
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": fault,
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(moment.timestamp() * 1000),
        "status": None,
        "cdcresponse": [],
    }


def authentication_failed_body(detail: str, moment: datetime) -> dict[str, Any]:
    """401/3200 as the API gateway sends it: lower-case keys, epoch-millisecond time."""
    error = {
        "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        "detail": detail,
        "code": "3200",
        "element": None,
    }
    return _gateway_envelope({"error": [error], "type": "AUTHENTICATION"}, moment)


def authorization_failed_body() -> dict[str, Any]:
    """403/3100: a token used against a company it was not issued for."""
    error = {
        "message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
        "detail": None,
        "code": "3100",
        "element": None,
    }
    return {"fault": {"error": [error], "type": "SERVICE"}}


WWW_AUTHENTICATE = 'Bearer realm="Intuit", error="invalid_token"'


def throttle_body(moment: datetime) -> bytes:
    """429/3001 is XML even when the client asked for JSON (§5)."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{escape(response_time(moment))}">'
        '<Fault type="SERVICE"><Error code="3001">'
        "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
        "<Detail>The request limit was reached.  Try again later</Detail>"
        "</Error></Fault></IntuitResponse>"
    ).encode()


NGINX_ERROR_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
