from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderState(models.TextChoices):
    # Paid by the buyer; the money is held in escrow and the seller has not shipped yet.
    PAID = "paid", _("Paid, awaiting shipment")
    # Shipped with a tracking number; the buyer-protection clock is running.
    SHIPPED = "shipped", _("Shipped")
    # Receipt confirmed by the buyer, or protection ran out; the post-close window runs.
    COMPLETED = "completed", _("Completed")
    # Cancelled before shipment.
    CANCELLED = "cancelled", _("Cancelled")


class CompletionReason(models.TextChoices):
    BUYER_CONFIRMED = "buyer_confirmed", _("Buyer confirmed receipt")
    PROTECTION_EXPIRED = "protection_expired", _("Protection period ended")


class OrderChange:
    """What the orders app reports about an order (``settings.PORTAL_ORDER_HOOK``)."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"
