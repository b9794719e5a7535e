"""The portal's roles, as Django groups with the permissions each needs, and the one
authority on who may do what: who is an arbitrator, what other staff may see."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

ARBITRATORS = "Arbitrators"
ARBITRATOR_DESCRIPTION = _("Platform staff who read and rule on escalated disputes.")

# app_label -> codenames given to arbitrators. Apps added by later issues extend this map;
# a codename that does not exist yet is ignored until its migration has run.
ARBITRATOR_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "accounts": ("view_user",),
    # Incidents: started (add) and ended (change) by arbitrators, never deleted.
    "orders": (
        "view_store",
        "view_order",
        "view_orderline",
        "view_incident",
        "add_incident",
        "change_incident",
    ),
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


# --- the one authority: who may do what ---------------------------------------------------------
# Every check of a staff member's rights asks one of these (or a permission through
# ``staff_may``); nothing else looks at ``is_staff`` or at the group's name.
RULE_DISPUTE = "disputes.rule_dispute"
VIEW_DISPUTE = "disputes.view_dispute"


def _active_staff(user: Any) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_staff
    )


def staff_may(user: Any, permission: str) -> bool:
    """Active staff holding ``permission`` (``app_label.codename``), through a group or
    directly; a superuser holds every permission."""
    return _active_staff(user) and user.has_perm(permission)


def is_arbitrator(user: Any) -> bool:
    """An arbitrator: active staff with ``disputes.rule_dispute`` (the Arbitrators group
    holds it, and so does a superuser). The same rule as ``arbitrators()``."""
    return staff_may(user, RULE_DISPUTE)


def arbitrators() -> QuerySet:
    """Every arbitrator, by the rule of ``is_arbitrator``: active staff with
    ``disputes.rule_dispute`` given to them, to one of their groups, or as superusers."""
    app_label, codename = RULE_DISPUTE.split(".")
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(is_superuser=True)
            | Q(
                user_permissions__content_type__app_label=app_label,
                user_permissions__codename=codename,
            )
            | Q(
                groups__permissions__content_type__app_label=app_label,
                groups__permissions__codename=codename,
            )
        )
        .distinct()
    )


def may_view_disputes(user: Any) -> bool:
    """Staff who read every dispute on the portal's pages: those with
    ``disputes.view_dispute``, and arbitrators. They see a case; only its parties and
    arbitrators write in it."""
    return staff_may(user, VIEW_DISPUTE) or is_arbitrator(user)


def may_see_hidden_evidence(user: Any) -> bool:
    """An item hidden by an arbitrator is shown to arbitrators only."""
    return is_arbitrator(user)


def works_in_admin(user: Any) -> bool:
    """Staff with at least one permission: the admin has something for them."""
    return _active_staff(user) and (user.is_superuser or bool(user.get_all_permissions()))
