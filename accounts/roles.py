"""The portal's roles, as Django groups with the permissions each needs."""

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.utils.translation import gettext_lazy as _

ARBITRATORS = "Arbitrators"
ARBITRATOR_DESCRIPTION = _("Platform staff who read and rule on escalated disputes.")

# app_label -> codenames given to arbitrators. Apps added by later issues extend this map;
# a codename that does not exist yet is ignored until its migration has run.
ARBITRATOR_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "accounts": ("view_user",),
    "orders": ("view_store", "view_order", "view_orderline"),
    "disputes": (
        "view_dispute",
        "view_disputeevent",
        "view_disputemessage",
        "view_notification",
        "add_disputemessage",
        "rule_dispute",
        "view_evidencerequest",
    ),
    "complaints": ("view_complaint", "change_complaint"),
    "evidence": ("view_evidence", "hide_evidence"),
    # change_refund: "Retry now" and "Mark as arrived" on refunds (never editing amounts:
    # every refund field is read-only in admin).
    "refunds": ("view_refund", "change_refund", "view_gatewaycall", "view_payout", "view_coupon"),
}


def ensure_role_groups(**kwargs: Any) -> None:
    """Create the Arbitrators group and give it exactly its permissions (idempotent)."""
    group, _created = Group.objects.get_or_create(name=ARBITRATORS)
    wanted = []
    for app_label, codenames in ARBITRATOR_PERMISSIONS.items():
        wanted.extend(
            Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )
    group.permissions.add(*wanted)


def is_arbitrator(user: Any) -> bool:
    return bool(
        user.is_authenticated
        and user.is_staff
        and (user.is_superuser or user.groups.filter(name=ARBITRATORS).exists())
    )
