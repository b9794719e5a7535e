"""The hooks through which a lower app tells the one above it of a change are checked when
the portal starts: a wrong path stops it with a clear error instead of failing inside a
refund's transaction."""

from orders.hooks import check_hooks, hook_settings


def test_the_portal_names_its_hooks_and_they_import():
    assert hook_settings() == [
        "PORTAL_DISPUTE_EVENTS_HOOK",
        "PORTAL_EVIDENCE_HOOK",
        "PORTAL_ORDER_HOOK",
        "PORTAL_PAYOUT_HOOK",
        "PORTAL_REFUND_HOOK",
        "PORTAL_SWEEP_HOOK",
    ]
    assert check_hooks() == []


def test_a_hook_may_name_several_functions_each_checked(settings):
    settings.PORTAL_REFUND_HOOK = [
        "disputes.services.news.refund_changed",
        "api.webhooks.nowhere",
    ]
    (error,) = check_hooks()
    assert error.id == "portal.E001" and "PORTAL_REFUND_HOOK" in error.msg


def test_a_hook_that_does_not_import_is_an_error(settings):
    settings.PORTAL_REFUND_HOOK = "disputes.services.nowhere.refund_changed"
    (error,) = check_hooks()
    assert error.id == "portal.E001" and "PORTAL_REFUND_HOOK" in error.msg
