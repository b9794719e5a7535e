"""Payment methods and how long a refund takes to reach the buyer by each (SPEC.md)."""

from typing import NamedTuple

from django.db import models
from django.utils.translation import gettext_lazy as _


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card (Visa, Mastercard)")
    MAESTRO = "maestro", _("Maestro")
    WEBMONEY = "webmoney", _("WebMoney")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    ACCOUNT_BALANCE = "account_balance", _("Marketplace account balance")
    WESTERN_UNION = "western_union", _("Western Union")
    QIWI = "qiwi", _("QIWI")


class RefundWindow(NamedTuple):
    """Business days between a refund being sent and arriving: earliest, latest."""

    min_days: int
    max_days: int


REFUND_WINDOWS: dict[str, RefundWindow] = {
    PaymentMethod.CARD: RefundWindow(3, 15),
    PaymentMethod.MAESTRO: RefundWindow(3, 15),
    PaymentMethod.WEBMONEY: RefundWindow(7, 10),
    PaymentMethod.BANK_TRANSFER: RefundWindow(7, 10),
    PaymentMethod.ACCOUNT_BALANCE: RefundWindow(0, 0),
    PaymentMethod.WESTERN_UNION: RefundWindow(7, 10),
    PaymentMethod.QIWI: RefundWindow(7, 10),
}


def refund_window(method: str) -> RefundWindow:
    return REFUND_WINDOWS[PaymentMethod(method)]
