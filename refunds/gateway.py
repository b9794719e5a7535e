"""The payment gateway behind one small interface; a simulated one by default.

``PORTAL_REFUND_GATEWAY`` names the class (dotted path). The simulated gateway keeps its own
ledger in the database (``GatewayCall``), answers each idempotency key once (a repeated
call returns the first answer and moves no money), and can be told to decline or to time
out with ``PORTAL_SIMULATED_GATEWAY_MODE``: "ok", "decline" (refused for good), "timeout"
(nothing happens; the caller retries), "lost_reply" (the money moves but the answer is
lost), "crash_after_call" (the money moves and then the calling process dies at once,
before it can record anything: what killing a worker at the worst moment does).
"""

from __future__ import annotations

import os
import uuid
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.module_loading import import_string


class GatewayError(Exception):
    """The gateway did not confirm the refund. ``retryable`` errors are tried again."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Gateway(Protocol):
    def refund(
        self, *, idempotency_key: uuid.UUID, amount: Decimal, currency: str, method: str
    ) -> str:
        """Send the money back; return the gateway's reference. Same key, same refund."""


class SimulatedGateway:
    def refund(
        self, *, idempotency_key: uuid.UUID, amount: Decimal, currency: str, method: str
    ) -> str:
        from refunds.models import GatewayCall

        mode = getattr(settings, "PORTAL_SIMULATED_GATEWAY_MODE", "ok")
        if mode == "decline":
            raise GatewayError("declined by the simulated gateway", retryable=False)
        if mode == "timeout":
            raise GatewayError("the simulated gateway timed out", retryable=True)
        with transaction.atomic():
            call, created = GatewayCall.objects.get_or_create(
                idempotency_key=idempotency_key,
                defaults={
                    "amount": amount,
                    "currency": currency,
                    "method": method,
                    "reference": f"SIM-{uuid.uuid4().hex[:12].upper()}",
                },
            )
            if not created:
                GatewayCall.objects.filter(pk=call.pk).update(times_asked=F("times_asked") + 1)
        if mode == "crash_after_call":
            os._exit(9)
        if mode == "lost_reply":
            # The money moved, but the answer never came back: the caller will retry.
            raise GatewayError("the reply of the simulated gateway was lost", retryable=True)
        return call.reference


def get_gateway() -> Gateway:
    path = getattr(settings, "PORTAL_REFUND_GATEWAY", "refunds.gateway.SimulatedGateway")
    return import_string(path)()
