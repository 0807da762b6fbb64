"""Retries stop when the invocation has no time left for another full attempt."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import requests
import responses
from pydantic import SecretStr

from qbo_sync import deadline
from qbo_sync.adapters.qbo.client import QboClient
from qbo_sync.domain import qbo
from qbo_sync.ports.qbo import QboTransient

BASE = "https://qbo.test"
URL = f"{BASE}/v3/company/1/invoice/7"


class _Tokens:
    def current(self) -> SecretStr:
        return SecretStr("token")

    def refreshed_after_rejection(self, rejected: SecretStr) -> SecretStr:
        return rejected


class _Budget:
    @contextmanager
    def acquire(self) -> Iterator[None]:
        yield


@dataclass
class _Context:
    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _client(sleeps: list[float]) -> QboClient:
    return QboClient(
        "1", BASE, _Tokens(), _Budget(), requests.Session(), timeout_seconds=10, sleep=sleeps.append
    )


@responses.activate
def test_without_an_invocation_deadline_every_attempt_is_made() -> None:
    responses.get(URL, status=503)
    sleeps: list[float] = []
    with pytest.raises(QboTransient):
        _client(sleeps).read(qbo.Invoice, "7")
    assert len(responses.calls) == 3
    assert len(sleeps) == 2


@responses.activate
def test_with_too_little_time_left_the_call_fails_after_one_attempt() -> None:
    responses.get(URL, status=503)
    sleeps: list[float] = []
    # 12 s left, 5 s kept back: 7 s is less than a backoff plus a 10 s request timeout.
    with deadline.invocation(_Context(remaining_ms=12_000)), pytest.raises(QboTransient):
        _client(sleeps).read(qbo.Invoice, "7")
    assert len(responses.calls) == 1
    assert sleeps == []


@responses.activate
def test_with_time_left_it_retries() -> None:
    responses.get(URL, status=503)
    responses.get(URL, json={"Invoice": {"Id": "7", "CustomerRef": {"value": "1"}, "Line": []}})
    sleeps: list[float] = []
    with deadline.invocation(_Context(remaining_ms=120_000)):
        result = _client(sleeps).read(qbo.Invoice, "7")
    assert result.entity.Id == "7"
    assert len(sleeps) == 1
