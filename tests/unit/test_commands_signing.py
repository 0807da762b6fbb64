"""Queue ids (FIFO group and deduplication), request ids and request signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from qbo_sync.domain.commands import (
    InvoiceAction,
    InvoiceCommand,
    command_deduplication_id,
    command_group_id,
)
from qbo_sync.domain.request_ids import request_id
from qbo_sync.domain.signing import (
    intuit_signature,
    sign,
    verify,
    verify_connect_link,
    verify_csrf,
    verify_intuit,
    verify_session,
)
from tests.unit.builders import AT, TENANT, make_invoice

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
BODY = b'{"invoice_id":"1003","action":"send","request_id":"r-1"}'


def command(snapshot_modified: datetime | None = AT, request: str = "r-1") -> InvoiceCommand:
    return InvoiceCommand(
        tenant_id=TENANT,
        invoice_id="1003",
        action=InvoiceAction.COPY,
        request_id=request,
        requested_at=NOW,
        source="poller" if snapshot_modified else "api",
        snapshot=make_invoice(modified_at=snapshot_modified) if snapshot_modified else None,
    )


# ------------------------------------------------------------------------------------------ group / dedup ids


def test_group_id_stays_within_the_tenants_shards() -> None:
    groups = {command_group_id(TENANT, str(invoice), 4) for invoice in range(1000, 1200)}
    assert groups == {f"{TENANT}#{shard}" for shard in range(4)}


def test_group_id_is_stable_per_invoice() -> None:
    assert command_group_id(TENANT, "1003", 8) == f"{TENANT}#5"  # crc32("1003") % 8
    assert command_group_id(TENANT, "1003", 8) == command_group_id(TENANT, "1003", 8)
    assert command_group_id(TENANT, "1003", 1) == f"{TENANT}#0"


def test_dedup_id_names_the_snapshots_modified_time() -> None:
    assert command_deduplication_id(command()) == f"{TENANT}:1003:copy:2026-11-02T09:30:00+00:00"


def test_dedup_id_changes_with_the_snapshots_modified_time() -> None:
    later = command(AT + timedelta(seconds=1))
    assert command_deduplication_id(command()) != command_deduplication_id(later)
    assert command_deduplication_id(command()) == command_deduplication_id(command(request="r-2"))


def test_dedup_id_without_snapshot_is_the_request_id() -> None:
    assert command_deduplication_id(command(None, "r-9")) == f"{TENANT}:1003:copy:r-9"


def test_dedup_id_of_resumed_parked_work_differs_from_the_parked_message() -> None:
    parked = command(None, "r-9")
    resumed = parked.model_copy(update={"source": "parked", "resumed_at": NOW})
    assert command_deduplication_id(resumed) == f"{TENANT}:1003:copy:r-9:resumed:2026-11-02T10:00:00+00:00"


def test_request_ids_are_deterministic_uuids() -> None:
    first = request_id(TENANT, "9130", "1003", "create", 0)
    assert first == request_id(TENANT, "9130", "1003", "create", 0)
    assert first != request_id(TENANT, "9130", "1003", "create", 1)
    assert len(first) == 36


# ------------------------------------------------------------------------------------------ signatures


def test_sign_is_hex_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"secret", b"1793613600." + BODY, hashlib.sha256).hexdigest()
    assert sign("secret", 1793613600, BODY) == expected


def test_sign_verify_round_trip() -> None:
    timestamp = int(NOW.timestamp())
    signature = sign("secret", timestamp, BODY)
    assert verify("secret", str(timestamp), BODY, signature, NOW) is True


def test_verify_rejects_a_wrong_secret() -> None:
    timestamp = int(NOW.timestamp())
    assert verify("other", str(timestamp), BODY, sign("secret", timestamp, BODY), NOW) is False


def test_verify_rejects_a_stale_timestamp() -> None:
    five_minutes_ago = int((NOW - timedelta(minutes=5)).timestamp())
    too_old = five_minutes_ago - 1
    too_new = int((NOW + timedelta(minutes=5, seconds=1)).timestamp())
    assert verify("secret", str(five_minutes_ago), BODY, sign("secret", five_minutes_ago, BODY), NOW)
    assert not verify("secret", str(too_old), BODY, sign("secret", too_old, BODY), NOW)
    assert not verify("secret", str(too_new), BODY, sign("secret", too_new, BODY), NOW)


def test_verify_rejects_a_tampered_byte() -> None:
    timestamp = int(NOW.timestamp())
    signature = sign("secret", timestamp, BODY)
    tampered = BODY.replace(b"send", b"sene")
    assert not verify("secret", str(timestamp), tampered, signature, NOW)
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert not verify("secret", str(timestamp), BODY, flipped, NOW)


def test_verify_rejects_a_re_signed_timestamp() -> None:
    timestamp = int(NOW.timestamp())
    signature = sign("secret", timestamp - 60, BODY)
    assert not verify("secret", str(timestamp), BODY, signature, NOW)


def test_verify_rejects_missing_or_malformed_parts() -> None:
    timestamp = str(int(NOW.timestamp()))
    signature = sign("secret", int(timestamp), BODY)
    assert not verify("secret", None, BODY, signature, NOW)
    assert not verify("secret", timestamp, BODY, None, NOW)
    assert not verify("secret", "-" + timestamp, BODY, signature, NOW)
    assert not verify("secret", timestamp + ".0", BODY, signature, NOW)


def test_intuit_signature_is_base64_of_hmac_sha256() -> None:
    body = b'{"eventNotifications":[]}'
    expected = base64.b64encode(hmac.new(b"verifier", body, hashlib.sha256).digest()).decode()
    assert intuit_signature("verifier", body) == expected
    assert verify_intuit("verifier", body, expected) is True
    assert verify_intuit("verifier", body + b" ", expected) is False
    assert verify_intuit("other", body, expected) is False
    assert verify_intuit("verifier", body, None) is False


@pytest.mark.parametrize(
    "number", ["9" * 5000, "9" * 400, "9" * 13, "²³", "١٧٩٤", " 1793613600", "+1793613600"]
)
def test_odd_numbers_in_timestamps_links_and_sessions_are_refused_not_raised(number: str) -> None:
    signature = sign("secret", int(NOW.timestamp()), BODY)
    assert not verify("secret", number, BODY, signature, NOW)
    assert not verify_connect_link("secret", "t-1", number, "0" * 64, NOW)
    assert not verify_session("secret", f"t-1.{number}.{'0' * 64}", NOW)


def test_non_ascii_signatures_are_refused_not_raised() -> None:
    """hmac.compare_digest raises TypeError for a non-ASCII str; a forged header may hold any."""
    timestamp = int(NOW.timestamp())
    expires = int((NOW + timedelta(hours=1)).timestamp())
    assert not verify("secret", str(timestamp), BODY, "é" * 64, NOW)
    assert not verify_intuit("verifier", BODY, "é" * 44)
    assert not verify_connect_link("secret", "t-1", str(expires), "\u2603" * 64, NOW)
    assert not verify_session("secret", f"t-1.{expires}.{'é' * 64}", NOW)
    assert not verify_csrf("secret", "session", "é")
