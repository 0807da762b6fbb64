"""Webhook delivery (§10): signed CloudEvents (or legacy) batches, in order, with Intuit's retry schedule.

One background thread delivers. A failed batch blocks the ones behind it (head-of-line, as
Intuit does) and is retried at 0 s, 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h, 6 h, then every 6 h
of emulator time, so a faster emulator clock shortens the real waits. The queue lives under the
state lock; the HTTP POST itself runs without it, because the receiver usually calls back into
this emulator to fetch the entity that changed.
"""

import base64
import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from local.qbo_sandbox.clock import response_time, utc_timestamp
from local.qbo_sandbox.state import AppRegistration, SandboxState
from local.qbo_sandbox.store import ChangeEvent

RETRY_DELAYS_SECONDS = (0, 10, 20, 30, 300, 1200, 7200, 14400, 21600)
MAX_EVENTS_PER_DELIVERY = 50
DELIVERY_TIMEOUT_SECONDS = 3.0  # Intuit expects an answer within 3 s
LEGACY_OPERATIONS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "void": "Void",
    "emailed": "Emailed",
}
log = logging.getLogger(__name__)
# Webhook receivers are local; a proxy from the environment (HTTP_PROXY) must never intercept them.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def sign(verifier_token: str, body: bytes) -> str:
    """intuit-signature: base64(HMAC-SHA256(verifier token, raw body))."""
    digest = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _source(client_id: str) -> str:
    """Intuit's source looks like "intuit.<base64 sha-256>"; derive one from the app."""
    return "intuit." + base64.b64encode(hashlib.sha256(client_id.encode()).digest()).decode("ascii")


def cloudevents_body(events: list[ChangeEvent], client_id: str) -> list[dict[str, object]]:
    return [
        {
            "specversion": "1.0",
            "id": event.event_id,
            "source": _source(client_id),
            "type": f"qbo.{event.entity.lower()}.{event.operation}.v1",
            "datacontenttype": "application/json",
            "time": utc_timestamp(event.time, nanoseconds=True),
            "intuitentityid": event.entity_id,
            "intuitaccountid": event.realm_id,
            "data": {},
        }
        for event in events
    ]


def legacy_body(events: list[ChangeEvent]) -> dict[str, object]:
    by_realm: dict[str, list[dict[str, str]]] = {}
    for event in events:
        by_realm.setdefault(event.realm_id, []).append(
            {
                "name": event.entity,
                "id": event.entity_id,
                "operation": LEGACY_OPERATIONS[event.operation],
                "lastUpdated": utc_timestamp(event.time),
            }
        )
    return {
        "eventNotifications": [
            {"realmId": realm_id, "dataChangeEvent": {"entities": entities}}
            for realm_id, entities in by_realm.items()
        ]
    }


@dataclass
class Delivery:
    """A batch whose body is fixed at its first attempt, so retries resend identical bytes."""

    events: list[ChangeEvent]
    url: str
    body: bytes
    signature: str
    content_type: str
    due: datetime
    attempts: int = 0
    generation: int = 0


@dataclass
class _Queue:
    pending: list[ChangeEvent] = field(default_factory=list)
    current: Delivery | None = None
    deliveries: list[dict[str, object]] = field(default_factory=list)
    generation: int = 0  # bumped by reset so a delivery in progress cannot resurrect old state


def _build_delivery(
    events: list[ChangeEvent], app: AppRegistration, now: datetime, generation: int
) -> Delivery:
    payload: object
    if app.webhook_format == "legacy":
        payload = legacy_body(events)
    else:
        payload = cloudevents_body(events, app.client_id)
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Delivery(
        events,
        str(app.webhook_url),
        body,
        sign(app.verifier_token, body),
        app.webhook_content_type,
        now,
        generation=generation,
    )


def _retry_delay(attempts: int) -> float:
    return float(RETRY_DELAYS_SECONDS[min(attempts - 1, len(RETRY_DELAYS_SECONDS) - 1)])


class WebhookDispatcher:
    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._wakeup = threading.Condition(state.lock)
        self._queue = _Queue()
        self._delivering = threading.Lock()  # one delivery at a time keeps events in order
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- producers (called with or without the state lock held) ----------------------------------

    def publish(self, events: list[ChangeEvent]) -> None:
        """Queue events of a committed change, if the app currently wants webhooks."""
        with self._wakeup:
            app = self._state.app
            if events and app.webhook_url and app.webhooks_enabled:
                self._queue.pending.extend(events)
                self._wakeup.notify_all()

    def wake(self) -> None:
        """Re-evaluate due times after a clock or app-registration change."""
        with self._wakeup:
            self._wakeup.notify_all()

    def reset(self) -> None:
        with self._wakeup:
            self._queue = _Queue(generation=self._queue.generation + 1)
            self._wakeup.notify_all()

    def deliveries(self) -> list[dict[str, object]]:
        with self._wakeup:
            return list(self._queue.deliveries)

    # -- delivery ------------------------------------------------------------------------------

    def _next_locked(self, force: bool) -> Delivery | None:
        """The batch to send now (building it from pending events if needed), or None."""
        queue, app = self._queue, self._state.app
        if queue.current is None:
            if not queue.pending or not app.webhook_url or not app.webhooks_enabled:
                return None
            events = queue.pending[:MAX_EVENTS_PER_DELIVERY]
            del queue.pending[:MAX_EVENTS_PER_DELIVERY]
            queue.current = _build_delivery(events, app, self._state.clock.now(), queue.generation)
        if force or queue.current.due <= self._state.clock.now():
            return queue.current
        return None

    def _seconds_until_due_locked(self) -> float | None:
        queue, app = self._queue, self._state.app
        if queue.current is not None:
            remaining = (queue.current.due - self._state.clock.now()).total_seconds()
            return self._state.clock.real_seconds(remaining)
        if queue.pending and app.webhook_url and app.webhooks_enabled:
            return 0.0
        return None

    def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        # webhook_url is checked to be http(s) when it is configured (AppRegistration.update).
        request = urllib.request.Request(  # noqa: S310
            delivery.url,
            data=delivery.body,
            method="POST",
            headers={"Content-Type": delivery.content_type, "intuit-signature": delivery.signature},
        )
        try:
            with _OPENER.open(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
                return int(response.status), None
        except urllib.error.HTTPError as error:
            return int(error.code), None
        except (urllib.error.URLError, OSError, ValueError) as error:
            return None, str(getattr(error, "reason", error))

    def _deliver_one(self, force: bool) -> int | None:
        """Events delivered (0 if the attempt failed), or None when nothing was due."""
        with self._delivering:
            with self._wakeup:
                delivery = self._next_locked(force)
            if delivery is None:
                return None
            status, error = self._post(delivery)
            with self._wakeup:
                if delivery.generation != self._queue.generation:
                    return None
                now = self._state.clock.now()
                delivery.attempts += 1
                ok = status is not None and 200 <= status < 300
                self._queue.deliveries.append(
                    {
                        "time": response_time(now),
                        "url": delivery.url,
                        "status": status,
                        "error": error,
                        "attempt": delivery.attempts,
                        "events": len(delivery.events),
                        "body": delivery.body.decode("utf-8"),
                        "signature": delivery.signature,
                    }
                )
                if ok:
                    self._queue.current = None
                    return len(delivery.events)
                delivery.due = now + timedelta(seconds=_retry_delay(delivery.attempts))
                log.info(
                    "webhook delivery to %s failed (%s); attempt %d",
                    delivery.url,
                    status or error,
                    delivery.attempts,
                )
                return 0

    def flush(self) -> int:
        """Deliver everything pending now, ignoring retry waits; stops at the first failure."""
        delivered = 0
        while True:
            count = self._deliver_one(force=True)
            if not count:
                return delivered
            delivered += count

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._stopping:
                    wait = self._seconds_until_due_locked()
                    if wait is not None and wait <= 0:
                        break
                    self._wakeup.wait(timeout=wait)
                if self._stopping:
                    return
            self._deliver_one(force=False)

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="qbo-sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=DELIVERY_TIMEOUT_SECONDS + 2)
            self._thread = None
