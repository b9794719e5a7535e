"""Issue 12, finding 2: one authority on roles (``accounts.roles``).

An arbitrator is active staff holding ``disputes.rule_dispute`` (the Arbitrators group holds
it, a superuser has it): the predicate, the queryset, the admin's list, the reminders and the
transitions agree. Staff without ``disputes.view_dispute`` see no portal page of a dispute (a
404 like any stranger); only arbitrators write in a case and see hidden evidence.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.roles import (
    ARBITRATORS,
    arbitrators,
    ensure_role_groups,
    is_arbitrator,
    may_see_hidden_evidence,
    may_view_disputes,
)
from disputes import admin_filters, notifications
from disputes.models import Dispute, DisputeMessage
from disputes.selectors import disputes_for_user
from disputes.services import (
    DisputeError,
    DisputeRequest,
    dispute_add_evidence,
    dispute_assign,
    dispute_open,
    dispute_post_message,
    dispute_propose,
    disputes_send_reminders,
    disputes_sweep_due,
)
from disputes.states import DisputeState, EventKind, OutcomeType, Party, Reason
from evidence.models import Evidence
from evidence.services import evidence_hide
from tests.factories import DRESS_LINES, UserFactory, make_arbitrator, make_order, photo

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def claim() -> DisputeRequest:
    return DisputeRequest(
        received=True,
        reason=Reason.NOT_AS_DESCRIBED,
        description="The dress is orange, not red as in the listing.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal("45.00"),
    )


def with_permissions(user, *names: str):
    for name in names:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def clerk(db):
    """Staff without any permission (the issue's finding)."""
    return UserFactory(username="clerk", is_staff=True)


@pytest.fixture
def reader(db):
    """Staff who may read disputes and their evidence, and nothing more."""
    user = UserFactory(username="reader", is_staff=True)
    return with_permissions(user, "disputes.view_dispute", "evidence.view_evidence")


@pytest.fixture
def root(db):
    """A superuser outside the Arbitrators group."""
    ensure_role_groups()
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def dispute(alice, bobs_store):
    order = make_order(
        buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=timezone.now() - 2 * DAY
    )
    return dispute_open(
        line=order.lines.first(), buyer=alice, request=claim(), files=[photo("torn.jpg")]
    ).dispute


@pytest.fixture
def item(dispute):
    return dispute.evidence.get()


def urls(dispute: Dispute, item: Evidence) -> list[str]:
    return [
        reverse("disputes:detail", args=[dispute.pk]),
        reverse("disputes:evidence_file", args=[dispute.pk, item.pk]),
        reverse("disputes:evidence_thumbnail", args=[dispute.pk, item.pk]),
    ]


# --- one definition ---------------------------------------------------------------------------
def test_one_definition_of_an_arbitrator(sam, root, clerk, reader, alice):
    """The predicate, the queryset, the admin's choice list and the reminders' list agree."""
    group = Group.objects.get(name=ARBITRATORS)
    direct = with_permissions(
        UserFactory(username="direct", is_staff=True), "disputes.rule_dispute"
    )
    not_staff = UserFactory(username="notstaff")
    not_staff.groups.add(group)
    gone = UserFactory(username="gone", is_staff=True, is_active=False)
    gone.groups.add(group)
    super_not_staff = UserFactory(username="supernotstaff", is_superuser=True)
    people = [sam, root, clerk, reader, alice, direct, not_staff, gone, super_not_staff]

    expected = {sam, root, direct}
    assert {person for person in people if is_arbitrator(person)} == expected
    assert set(arbitrators()) == expected
    assert set(admin_filters.arbitrators()) == expected
    assert set(notifications.arbitrator_ids()) == {person.pk for person in expected}
    assert not is_arbitrator(AnonymousUser())
    # Reading disputes is a permission of its own; arbitrators read what they rule on.
    assert {person for person in people if may_view_disputes(person)} == {*expected, reader}
    assert {person for person in people if may_see_hidden_evidence(person)} == expected


# --- staff without permission are strangers to a dispute --------------------------------------
def test_staff_without_permission_get_404_on_a_dispute_and_its_files(client, clerk, dispute, item):
    client.force_login(clerk)
    for url in urls(dispute, item):
        assert client.get(url).status_code == 404, url
    assert dispute.party_of(clerk) is None
    assert not disputes_for_user(user=clerk).exists()


def test_staff_without_permission_cannot_post_a_message(client, clerk, dispute):
    client.force_login(clerk)
    mail.outbox.clear()
    response = client.post(reverse("disputes:message", args=[dispute.pk]), {"body": "Hello both."})
    assert response.status_code == 404
    with pytest.raises(DisputeError):
        dispute_post_message(dispute_id=dispute.pk, user=clerk, body="Hello both of you.")
    assert not DisputeMessage.objects.exists()
    assert mail.outbox == []


def test_staff_who_only_read_see_the_page_but_never_write(client, reader, dispute, item):
    """A reader sees the case but has no side: no message, no file, no quota used."""
    client.force_login(reader)
    assert client.get(reverse("disputes:detail", args=[dispute.pk])).status_code == 200
    assert (
        client.get(reverse("disputes:evidence_file", args=[dispute.pk, item.pk])).status_code == 200
    )
    assert dispute.party_of(reader) is None
    with pytest.raises(DisputeError):
        dispute_post_message(dispute_id=dispute.pk, user=reader, body="Hello both of you.")
    with pytest.raises(DisputeError):
        dispute_add_evidence(dispute_id=dispute.pk, user=reader, files=[photo("mine.jpg")])
    response = client.post(reverse("disputes:message", args=[dispute.pk]), {"body": "Hello both."})
    assert response.status_code != 302
    assert not DisputeMessage.objects.exists()
    assert list(Evidence.objects.values_list("party", flat=True)) == [Party.BUYER]


def test_only_an_arbitrator_writes_as_staff(sam, root, dispute):
    for person in (sam, root):
        assert dispute.party_of(person) == Party.STAFF
        posted = dispute_post_message(dispute_id=dispute.pk, user=person, body="The staff here.")
        assert posted.message.author_party == Party.STAFF


# --- hidden evidence ---------------------------------------------------------------------------
def test_hidden_items_only_for_arbitrators(client, sam, root, reader, alice, bob, dispute, item):
    evidence_hide(evidence_id=item.pk, user=sam, reason="Shows a home address.")
    file_url = reverse("disputes:evidence_file", args=[dispute.pk, item.pk])
    for person, status in [(alice, 404), (bob, 404), (reader, 404), (sam, 200), (root, 200)]:
        client.force_login(person)
        assert client.get(file_url).status_code == status, person.username


def test_staff_without_the_permission_cannot_hide(clerk, item):
    from evidence.services import EvidenceError

    with pytest.raises(EvidenceError):
        evidence_hide(evidence_id=item.pk, user=clerk, reason="Shows a home address.")


# --- reminders: a superuser outside the group is an arbitrator ---------------------------------
def test_a_superuser_outside_the_group_gets_the_arbitration_reminders(
    alice, bobs_store, sam, root, clerk, now
):
    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - 3 * DAY)
    opened = dispute_open(
        line=order.lines.first(), buyer=alice, request=claim(), files=[photo()], now=now
    ).dispute
    dispute_propose(
        dispute_id=opened.pk,
        user=bob_of(opened),
        outcome=OutcomeType.REJECTED,
        note="Red.",
        now=now + DAY,
    )
    assert disputes_sweep_due(now=now + 8 * DAY).moved == 1
    assert Dispute.objects.get(pk=opened.pk).state == DisputeState.ESCALATED
    # Nobody has the case: every arbitrator hears of the target, the superuser too.
    assert disputes_send_reminders(now=now + 21 * DAY) == 1
    reminder = opened.events.get(kind=EventKind.REMINDER)
    assert set(reminder.notifications.values_list("recipient", flat=True)) == {sam.pk, root.pk}
    # Whoever hears of it may take it: the superuser can be given the case.
    dispute_assign(dispute_id=opened.pk, user=sam, assignee=root, now=now + 21 * DAY)


def bob_of(dispute: Dispute):
    return dispute.store.owner


# --- where home leads --------------------------------------------------------------------------
def test_home_sends_only_staff_with_a_permission_to_the_admin(client, sam, clerk):
    client.force_login(sam)
    assert client.get(reverse("home")).url == reverse("admin:index")
    client.force_login(clerk)
    assert client.get(reverse("home")).url == reverse("dashboards:my_orders")


def test_the_arbitrators_group_makes_an_arbitrator(db):
    assert is_arbitrator(make_arbitrator("rita"))
