"""Webhooks: an outbox written with the change it reports, delivered signed per the
Standard Webhooks specification.

Dispute events, refund changes and payout releases reach here through the hooks named in
settings (``PORTAL_DISPUTE_EVENTS_HOOK``, ``PORTAL_REFUND_HOOK``, ``PORTAL_PAYOUT_HOOK``),
inside the change's own transaction: one ``WebhookDelivery`` row per interested endpoint,
so a message exists exactly when its change committed. Celery sends them after the commit
and a beat task resends whatever is due, with exponential backoff for
``PORTAL_WEBHOOK_RETRY_FOR`` (three days); then the message is given up, its endpoint
disabled and the integration's contact told. Messages about the same dispute (or order)
go to an endpoint in order: one waits while an earlier one is undelivered.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import logging
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from api.models import ExternalOrder, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

# Dispute event kinds that are not sent: staff-only reminders, and refund news (sent as
# refund.* events, with or without a dispute).
NOT_SENT = {"reminder", "assigned", "refund_sent", "refund_arrived", "refund_failed"}
# Seconds to wait after the n-th failed attempt (then the last one, until the window ends).
BACKOFF = (5, 300, 1800, 7200, 18000, 36000)
RESPONSE_EXCERPT = 500


# IPv6 ranges that carry an IPv4 address in their last 32 bits (NAT64, IPv4-compatible).
TRANSLATED_V4 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


class UnsafeDestination(ValueError):
    """A URL the portal will not send to (plain http, or a private or loopback address)."""


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_destination(url: str) -> None:
    """Only https, and only public addresses, unless the settings say otherwise (demo,
    tests). Checked when an endpoint is registered and again before each delivery (a name
    may come to point elsewhere)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeDestination("The URL must be http(s)://host/...")
    if parts.scheme == "http" and not settings.PORTAL_WEBHOOKS_ALLOW_HTTP:
        raise UnsafeDestination("Webhooks go only to https:// URLs.")
    if settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise UnsafeDestination(f"{parts.hostname} does not resolve.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.version == 6 and (
            address.ipv4_mapped or any(address in net for net in TRANSLATED_V4)
        ):
            # IPv4 inside IPv6 (mapped, NAT64, the old compatible form): judge the IPv4.
            address = address.ipv4_mapped or ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if not address.is_global:
            raise UnsafeDestination(f"{parts.hostname} is a private or loopback address.")


# --- the outbox: rows written in the change's transaction -----------------------------------
def _endpoints_by_order(
    order_ids: Iterable[int],
) -> tuple[dict[int, list[WebhookEndpoint]], dict[int, str]]:
    """Each order's integration's live endpoints, and the order's external id (two queries
    for any number of orders; one when no order came from an integration)."""
    owners: dict[int, int] = {}
    external: dict[int, str] = {}
    for order_id, integration_id, external_id in ExternalOrder.objects.filter(
        order_id__in=set(order_ids)
    ).values_list("order_id", "integration_id", "external_id"):
        owners[order_id] = integration_id
        external[order_id] = external_id
    if not owners:
        return {}, {}
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        integration_id__in=set(owners.values()), disabled_at__isnull=True
    ):
        endpoints.setdefault(endpoint.integration_id, []).append(endpoint)
    return {order_id: endpoints.get(owner, []) for order_id, owner in owners.items()}, external


def _message_id() -> str:
    return "msg_" + secrets.token_hex(12)


# (order id, event type, subject, a function of the order's external id giving the data)
Item = tuple[int, str, str, Callable[[str], dict[str, Any]]]


def _enqueue(items: Sequence[Item], at: datetime) -> None:
    """One row per endpoint that wants the event; the data is built only for those."""
    if not items:
        return
    endpoints, external = _endpoints_by_order(item[0] for item in items)
    rows = []
    for order_id, event_type, subject, make_data in items:
        wanting = [e for e in endpoints.get(order_id, []) if e.wants(event_type)]
        if not wanting:
            continue
        data = _jsonable(make_data(external[order_id]))
        for endpoint in wanting:
            message_id = _message_id()
            rows.append(
                WebhookDelivery(
                    endpoint=endpoint,
                    message_id=message_id,
                    event_type=event_type,
                    subject=subject,
                    payload={
                        "id": message_id,
                        "type": event_type,
                        "timestamp": at.isoformat(),
                        "data": data,
                    },
                    created_at=at,
                    next_attempt_at=at,
                )
            )
    if rows:
        WebhookDelivery.objects.bulk_create(rows)
        transaction.on_commit(_kick)


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _kick() -> None:
    from api.tasks import deliver_webhooks

    try:
        deliver_webhooks.delay()
    except Exception:  # the broker is down: the beat task resends what is due
        logger.warning("could not queue webhook delivery; the periodic resend will", exc_info=True)


def dispute_events_recorded(*, events: Sequence[Any]) -> None:
    """``PORTAL_DISPUTE_EVENTS_HOOK``: a change's dispute events were written."""
    from api.selectors import dispute_event_data

    _enqueue(
        [
            (
                event.dispute.order_id,
                f"dispute.{event.kind}",
                f"dispute:{event.dispute_id}",
                functools.partial(dispute_event_data, event),
            )
            for event in events
            if event.kind not in NOT_SENT
        ],
        timezone.now(),
    )


def refund_changed(*, refund: Any, change: str, at: datetime, note: str = "") -> None:
    """``PORTAL_REFUND_HOOK``: a refund was sent, arrived or failed."""
    from api.selectors import refund_data

    subject = f"dispute:{refund.dispute_id}" if refund.dispute_id else f"order:{refund.order_id}"
    _enqueue(
        [(refund.order_id, f"refund.{change}", subject, functools.partial(refund_data, refund))],
        at,
    )


def payouts_released(*, payouts: Sequence[Any], at: datetime) -> None:
    """``PORTAL_PAYOUT_HOOK``: lines' shares left escrow for the seller."""
    from api.selectors import payout_data

    _enqueue(
        [
            (
                payout.order_id,
                "payout.released",
                f"order:{payout.order_id}",
                functools.partial(payout_data, payout),
            )
            for payout in payouts
        ],
        at,
    )


# --- delivery -------------------------------------------------------------------------------
def _due(now: datetime):
    earlier_pending = WebhookDelivery.objects.filter(
        endpoint=OuterRef("endpoint"),
        subject=OuterRef("subject"),
        id__lt=OuterRef("id"),
        delivered_at__isnull=True,
        abandoned_at__isnull=True,
    )
    return (
        WebhookDelivery.objects.filter(
            delivered_at__isnull=True,
            abandoned_at__isnull=True,
            next_attempt_at__lte=now,
            endpoint__disabled_at__isnull=True,
        )
        .exclude(Exists(earlier_pending))
        .order_by("next_attempt_at", "id")
    )


def signature_headers(endpoint: WebhookEndpoint, message_id: str, body: str, at: datetime):
    """The three Standard Webhooks headers; during a rotation, signed with both secrets."""
    stamp = at.astimezone(UTC)
    signatures = [Webhook(endpoint.secret).sign(message_id, stamp, body)]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_until
        and (endpoint.previous_secret_until > at)
    ):
        signatures.append(Webhook(endpoint.previous_secret).sign(message_id, stamp, body))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "dispute-portal-webhooks/1",
    }


def _post(delivery: WebhookDelivery, now: datetime) -> tuple[int | None, int, str, str]:
    body = json.dumps(delivery.payload, separators=(",", ":"))
    # Signed as it leaves (receivers refuse a timestamp 5 minutes old), not when the run began.
    headers = signature_headers(delivery.endpoint, delivery.message_id, body, timezone.now())
    started = time.monotonic()
    try:
        check_destination(delivery.endpoint.url)
        response = requests.post(
            delivery.endpoint.url,
            data=body.encode(),
            headers=headers,
            timeout=settings.PORTAL_WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except (requests.RequestException, UnsafeDestination) as exc:
        elapsed = int((time.monotonic() - started) * 1000)
        return None, elapsed, "", f"{type(exc).__name__}: {exc}"[:300]
    elapsed = int((time.monotonic() - started) * 1000)
    return response.status_code, elapsed, response.text[:RESPONSE_EXCERPT], ""


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> bool | None:
    """Send one due message. True if it was delivered, False if the attempt failed, None if
    another worker has it or it is not due (delivered, waiting for an earlier one, ...)."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            _due(now)
            .select_for_update(of=("self",), skip_locked=True)
            .select_related("endpoint__integration")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None
        # The row stays locked while we wait for the receiver: a second worker skips it,
        # and no message is delivered twice as a success.
        status, elapsed, excerpt, error = _post(delivery, now)
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status = status
        delivery.last_duration_ms = elapsed
        delivery.last_response = excerpt
        delivery.last_error = error or ("" if status and 200 <= status < 300 else f"HTTP {status}")
        ok = status is not None and 200 <= status < 300
        if ok:
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif now - delivery.created_at >= settings.PORTAL_WEBHOOK_RETRY_FOR:
            delivery.abandoned_at = now
            delivery.next_attempt_at = None
        else:
            wait = BACKOFF[min(delivery.attempts, len(BACKOFF)) - 1]
            delivery.next_attempt_at = now + timedelta(seconds=wait)
        delivery.save()
        if delivery.abandoned_at:
            _disable(delivery.endpoint, now)
    return ok


def _disable(endpoint: WebhookEndpoint, now: datetime) -> None:
    """An endpoint that failed for the whole retry window is switched off, and its
    integration's contact told (after the commit)."""
    if endpoint.disabled_at:
        return
    endpoint.disabled_at = now
    endpoint.disabled_reason = f"Every delivery failed for {settings.PORTAL_WEBHOOK_RETRY_FOR}."
    endpoint.save(update_fields=["disabled_at", "disabled_reason"])
    contact = endpoint.integration.contact_email
    url = endpoint.url

    def tell() -> None:
        send_mail(
            subject="Webhook endpoint disabled",
            message=(
                f"The dispute portal stopped sending webhooks to {url}: every delivery "
                f"failed for {settings.PORTAL_WEBHOOK_RETRY_FOR.days} days. Fix the receiver, "
                "then enable the endpoint again in the portal's admin (undelivered messages "
                "can be replayed from there)."
            ),
            from_email=None,
            recipient_list=[contact],
        )

    transaction.on_commit(tell)


def webhooks_deliver_due(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Send every message that is due (in order per subject); returns counts."""
    now = now or timezone.now()
    counts = {"delivered": 0, "failed": 0}
    while True:
        ids = list(_due(now).values_list("pk", flat=True)[:limit])
        if not ids:
            return counts
        progressed = False
        for delivery_id in ids:
            outcome = webhook_deliver(delivery_id=delivery_id, now=now)
            if outcome is True:
                counts["delivered"] += 1
                progressed = True
            elif outcome is False:
                counts["failed"] += 1
        if not progressed:
            return counts


def webhook_replay(*, delivery: WebhookDelivery, now: datetime | None = None) -> WebhookDelivery:
    """Staff send a message again (delivered or given up): a new row with the same message
    id, so the receiver can tell it is the same message."""
    now = now or timezone.now()
    transaction.on_commit(_kick)
    return WebhookDelivery.objects.create(
        endpoint=delivery.endpoint,
        message_id=delivery.message_id,  # the same message: receivers deduplicate on it
        event_type=delivery.event_type,
        subject=delivery.subject,
        payload=delivery.payload,
        created_at=now,
        next_attempt_at=now,
    )


def webhook_endpoint_rotate(*, endpoint: WebhookEndpoint, now: datetime | None = None) -> str:
    """A new secret; the old one still signs (beside the new) for a day."""
    now = now or timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + settings.PORTAL_WEBHOOK_ROTATION_OVERLAP
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return endpoint.secret
