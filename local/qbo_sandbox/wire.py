"""Transport-neutral request/response values shared by the data API, OAuth and the control API."""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.qbo_sandbox.money import dumps_bytes

JSON = "application/json"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    raw_query: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    base_url: str  # scheme://host:port as the client addressed us

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


Send = Callable[[Response], None]


def json_response(status: int, payload: Any, content_type: str = JSON) -> Response:
    return Response(status, dumps_bytes(payload), content_type)


def html_response(status: int, html: str) -> Response:
    return Response(status, html.encode("utf-8"), "text/html; charset=utf-8")


def redirect(location: str) -> Response:
    return Response(302, b"", "text/plain", {"Location": location})


def new_intuit_tid() -> str:
    """Intuit transaction ids look like 1-65f2c1a2-7d3c5f0e1b2a3c4d5e6f7a8b."""
    raw = uuid.uuid4().hex
    return f"1-{raw[:8]}-{raw[8:32]}"
