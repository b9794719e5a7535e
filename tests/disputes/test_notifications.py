"""Who hears about what: for every kind of event, exactly the right people get exactly one
mail (text and HTML) and one in-app notification; the in-app list, its unread badge and
marking notifications read, each person seeing only their own."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.models import Dispute, DisputeEvent, Notification
from disputes.services import (
    DisputeRequest,
    dispute_assign,
    dispute_reply_ruling,
    dispute_request_evidence,
    dispute_rule,
    disputes_send_reminders,
    disputes_sweep_due,
)
from disputes.states import EventKind, OutcomeType, Reason, RequestedOutcome
from evidence.models import Evidence
from evidence.services import evidence_hide
from orders.models import Order
from refunds.models import Refund
from refunds.services import refund_mark_arrived
from tests.factories import DRESS_LINES, make_arbitrator, make_order, open_dispute, photo

pytestmark = pytest.mark.django_db

PEOPLE = ["alice", "bob", "carol", "dave", "sam", "tom"]
REASONS = "The photos show the colour differs; half of the price is fair."


# --- a small world in which every event can happen ---------------------------------------------
class World:
    """Alice's order from Bob's store, the arbitrators Sam and Tom, and Carol and Dave, who
    have nothing to do with it. Each step goes through the real services and sweeps."""

    def __init__(self, people: dict[str, Any], settings: Any) -> None:
        self.people = people
        self.settings = settings
        self.dispute: Dispute | None = None
        self.start = timezone.now() - timedelta(days=9)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["people"][name]
        except KeyError:
            raise AttributeError(name) from None

    def reload(self) -> Dispute:
        self.dispute = Dispute.objects.select_related("store").get(pk=self.dispute.pk)
        return self.dispute

    # steps ---------------------------------------------------------------------------------
    def open(self, *, wants: str = RequestedOutcome.REFUND_ONLY, at=None) -> Dispute:
        order = make_order(
            buyer=self.alice,
            store=self.bob.owned_store,
            lines=DRESS_LINES,
            shipped_at=self.start - timedelta(days=2),
        )
        self.dispute = open_dispute(
            line=order.lines.order_by("id")[0],
            buyer=self.alice,
            request=DisputeRequest(
                received=True,
                reason=Reason.NOT_AS_DESCRIBED,
                description="The dress is orange, not red as in the listing photos.",
                quantity=1,
                requested_outcome=wants,
                requested_amount=Decimal("45.00"),
            ),
            now=at,
        )
        return self.dispute

    def propose(self, outcome: str = OutcomeType.PARTIAL_REFUND, at=None) -> None:
        services.dispute_propose(
            dispute_id=self.dispute.pk,
            user=self.bob,
            outcome=outcome,
            amount=Decimal("10.00")
            if outcome in (OutcomeType.PARTIAL_REFUND, OutcomeType.COUPON)
            else None,
            note="The colour varies with the light.",
            now=at,
        )

    def decline(self, who: str = "alice") -> None:
        services.dispute_decline(
            dispute_id=self.dispute.pk, user=self.people[who], reason="Not what I asked for."
        )

    def accept(self, who: str = "bob") -> None:
        services.dispute_accept(dispute_id=self.dispute.pk, user=self.people[who])

    def negotiating(self) -> None:
        self.open(at=self.start)
        self.propose(at=self.start + timedelta(hours=1))

    def sweep(self) -> None:
        disputes_sweep_due(now=self.reload().next_deadline_at + timedelta(minutes=1))

    def escalated(self) -> None:
        self.negotiating()
        self.sweep()
        assert self.reload().state == "escalated"

    def assign(self, who: str = "tom") -> None:
        dispute_assign(dispute_id=self.dispute.pk, user=self.sam, assignee=self.people[who])

    def rule(self) -> None:
        dispute_rule(
            dispute_id=self.dispute.pk,
            user=self.sam,
            outcome=OutcomeType.PARTIAL_REFUND,
            amount=Decimal("20.00"),
            reason=REASONS,
        )

    def ruled(self) -> None:
        self.escalated()
        self.rule()

    def return_agreed(self) -> None:
        self.open(wants=RequestedOutcome.RETURN_AND_REFUND)
        self.accept()

    def ship_return(self) -> None:
        services.dispute_ship_return(
            dispute_id=self.dispute.pk, user=self.alice, carrier="China Post", tracking="RR1CN"
        )

    def replacement_agreed(self) -> None:
        self.open()
        self.propose(OutcomeType.REPLACEMENT)
        self.accept("alice")

    def ship_replacement(self) -> None:
        services.dispute_ship_replacement(
            dispute_id=self.dispute.pk, user=self.bob, carrier="China Post", tracking="RR2CN"
        )

    def remind(self) -> None:
        assert disputes_send_reminders(now=self.reload().reminder_at) == 1

    def incident_start(self) -> None:
        order = self.reload().line.order
        Order.objects.filter(pk=order.pk).update(destination_country="DE")
        shipped = timezone.localdate(order.shipped_at, timezone=UTC)
        self.incident = services.incident_start(
            by=self.sam,
            scope=services.IncidentScope(
                carrier=order.carrier,
                destination_country="DE",
                shipped_from=shipped,
                shipped_to=shipped,
            ),
            days=5,
            reason="The carrier's depot is closed by a strike.",
        ).incident

    def incident_end(self) -> None:
        services.incident_end(incident_id=self.incident.pk, by=self.sam)

    def refund_sent(self) -> None:
        self.open()
        self.accept()  # the refund is sent after the commit


def nothing(w: World) -> None:
    return None


@dataclass
class Row:
    name: str
    kind: str
    act: Callable[[World], Any]
    expected: list[str]
    setup: Callable[[World], Any] = nothing
    extra: dict[str, Any] = field(default_factory=dict)


ROWS = [
    Row("opened", EventKind.OPENED, lambda w: w.open(), ["alice", "bob"]),
    Row("accepted", EventKind.ACCEPTED, lambda w: w.accept(), ["alice", "bob"], World.open),
    Row("proposed", EventKind.PROPOSED, lambda w: w.propose(), ["alice", "bob"], World.open),
    # A decline, like a proposal, reaches both sides: the other's news, the decliner's receipt.
    Row(
        "the buyer declines the seller's proposal",
        EventKind.DECLINED,
        lambda w: w.decline("alice"),
        ["alice", "bob"],
        lambda w: (w.open(), w.propose(OutcomeType.COUPON)),
    ),
    Row(
        "the seller declines the buyer's request",
        EventKind.DECLINED,
        lambda w: w.decline("bob"),
        ["alice", "bob"],
        World.open,
    ),
    Row(
        "an incident extends the protection",
        EventKind.INCIDENT_STARTED,
        lambda w: w.incident_start(),
        ["alice", "bob"],
        World.open,
    ),
    Row(
        "the incident ends",
        EventKind.INCIDENT_ENDED,
        lambda w: w.incident_end(),
        ["alice", "bob"],
        lambda w: (w.open(), w.incident_start()),
    ),
    Row(
        "withdrawn",
        EventKind.WITHDRAWN,
        lambda w: services.dispute_withdraw(dispute_id=w.dispute.pk, user=w.alice),
        ["alice", "bob"],
        World.open,
    ),
    # The outcome taking effect is told in the mail of the change that caused it.
    Row("resolved", EventKind.RESOLVED, lambda w: w.accept(), [], World.open),
    Row("escalated", EventKind.ESCALATED, World.sweep, ["alice", "bob"], World.negotiating),
    Row(
        "seller silent",
        EventKind.DEADLINE_PASSED,
        World.sweep,
        ["alice", "bob"],
        lambda w: w.open(at=w.start),
    ),
    Row(
        "message by the seller",
        EventKind.MESSAGE,
        lambda w: services.dispute_post_message(dispute_id=w.dispute.pk, user=w.bob, body="Hi."),
        ["alice"],
        World.open,
    ),
    Row(
        "message by the buyer",
        EventKind.MESSAGE,
        lambda w: services.dispute_post_message(
            dispute_id=w.dispute.pk, user=w.alice, body="Hello."
        ),
        ["bob"],
        World.open,
    ),
    Row(
        "message by staff",
        EventKind.MESSAGE,
        lambda w: services.dispute_post_message(
            dispute_id=w.dispute.pk, user=w.sam, body="We are looking into it."
        ),
        ["alice", "bob"],
        World.open,
    ),
    Row(
        "evidence added",
        EventKind.EVIDENCE_ADDED,
        lambda w: services.dispute_add_evidence(
            dispute_id=w.dispute.pk, user=w.alice, files=[photo("more.jpg")]
        ),
        ["alice", "bob"],
        World.open,
    ),
    Row(
        "evidence hidden",
        EventKind.EVIDENCE_HIDDEN,
        lambda w: evidence_hide(
            evidence_id=Evidence.objects.filter(dispute=w.dispute).first().pk,
            user=w.sam,
            reason="It shows a stranger's address.",
        ),
        ["alice", "bob"],
        World.open,
    ),
    # A return or a replacement starting is part of the agreement's mail.
    Row(
        "return started",
        EventKind.RETURN_STARTED,
        lambda w: w.accept(),
        [],
        lambda w: w.open(wants=RequestedOutcome.RETURN_AND_REFUND),
    ),
    Row(
        "return shipped",
        EventKind.RETURN_SHIPPED,
        World.ship_return,
        ["alice", "bob"],
        World.return_agreed,
    ),
    Row(
        "return received",
        EventKind.RETURN_RECEIVED,
        lambda w: services.dispute_confirm_return(dispute_id=w.dispute.pk, user=w.bob),
        ["alice", "bob"],
        lambda w: (w.return_agreed(), w.ship_return()),
    ),
    Row(
        "replacement started",
        EventKind.REPLACEMENT_STARTED,
        lambda w: w.accept("alice"),
        [],
        lambda w: (w.open(), w.propose(OutcomeType.REPLACEMENT)),
    ),
    Row(
        "replacement shipped",
        EventKind.REPLACEMENT_SHIPPED,
        World.ship_replacement,
        ["alice", "bob"],
        World.replacement_agreed,
    ),
    Row(
        "replacement received",
        EventKind.REPLACEMENT_RECEIVED,
        lambda w: services.dispute_confirm_replacement(dispute_id=w.dispute.pk, user=w.alice),
        ["alice", "bob"],
        lambda w: (w.replacement_agreed(), w.ship_replacement()),
    ),
    Row(
        "replacement not arrived",
        EventKind.REPLACEMENT_NOT_ARRIVED,
        lambda w: services.dispute_replacement_not_arrived(dispute_id=w.dispute.pk, user=w.alice),
        ["alice", "bob"],
        lambda w: (w.replacement_agreed(), w.ship_replacement()),
    ),
    Row("refund sent", EventKind.REFUND_SENT, lambda w: w.accept(), ["alice", "bob"], World.open),
    Row(
        "refund arrived",
        EventKind.REFUND_ARRIVED,
        lambda w: refund_mark_arrived(
            refund_id=Refund.objects.get(dispute=w.dispute).pk, user=w.alice
        ),
        ["alice", "bob"],
        World.refund_sent,
    ),
    Row(
        "refund failed",
        EventKind.REFUND_FAILED,
        lambda w: w.accept(),
        ["alice", "bob"],
        World.open,
        {"PORTAL_SIMULATED_GATEWAY_MODE": "decline"},
    ),
    Row("assigned", EventKind.ASSIGNED, World.assign, ["tom"], World.escalated),
    Row("ruled", EventKind.RULED, World.rule, ["alice", "bob"], World.escalated),
    Row(
        "ruling agreed",
        EventKind.RULING_AGREED,
        lambda w: dispute_reply_ruling(dispute_id=w.dispute.pk, user=w.alice, agree=True),
        ["alice", "bob", "sam"],
        World.ruled,
    ),
    Row(
        "ruling objected",
        EventKind.RULING_OBJECTED,
        lambda w: dispute_reply_ruling(
            dispute_id=w.dispute.pk, user=w.bob, agree=False, reason="I shipped what was shown."
        ),
        ["alice", "bob", "sam"],
        World.ruled,
    ),
    Row(
        "evidence requested of the buyer",
        EventKind.EVIDENCE_REQUESTED,
        lambda w: dispute_request_evidence(
            dispute_id=w.dispute.pk, user=w.sam, party="buyer", note="A photo of the label."
        ),
        ["alice"],
        World.escalated,
    ),
    Row(
        "evidence requested of the seller",
        EventKind.EVIDENCE_REQUESTED,
        lambda w: dispute_request_evidence(
            dispute_id=w.dispute.pk, user=w.sam, party="seller", note="The listing's photos."
        ),
        ["bob"],
        World.escalated,
    ),
    Row("reminder: seller's answer", EventKind.REMINDER, World.remind, ["bob"], World.open),
    Row(
        "reminder: return shipment",
        EventKind.REMINDER,
        World.remind,
        ["alice"],
        World.return_agreed,
    ),
    Row(
        "reminder: arbitration target, no arbitrator yet",
        EventKind.REMINDER,
        World.remind,
        ["sam", "tom"],
        World.escalated,
    ),
    Row(
        "reminder: arbitration target, assigned",
        EventKind.REMINDER,
        World.remind,
        ["tom"],
        lambda w: (w.escalated(), w.assign("tom")),
    ),
    Row(
        "arbitration late, no arbitrator yet",
        EventKind.ARBITRATION_LATE,
        World.sweep,
        ["sam", "tom"],
        World.escalated,
    ),
    Row(
        "arbitration late, assigned",
        EventKind.ARBITRATION_LATE,
        World.sweep,
        ["tom"],
        lambda w: (w.escalated(), w.assign("tom")),
    ),
]


@pytest.fixture
def tom(db):
    return make_arbitrator("tom")


@pytest.fixture
def world(persona, tom, bobs_store, settings):
    people = {name: persona(name) for name in PEOPLE if name != "tom"}
    people["tom"] = tom
    people["bob"].owned_store = bobs_store
    return World(people, settings)


def notifications_page(client, user) -> str:
    client.force_login(user)
    return client.get(reverse("disputes:notifications")).content.decode()


def test_every_kind_of_event_has_a_row():
    assert {row.kind for row in ROWS} == set(EventKind.values)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_exactly_the_right_people_hear_once(
    row, world, client, settings, mailoutbox, django_capture_on_commit_callbacks
):
    for name, value in row.extra.items():
        setattr(settings, name, value)
    with django_capture_on_commit_callbacks(execute=True):
        row.setup(world)
    mailoutbox.clear()
    mark = DisputeEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    with django_capture_on_commit_callbacks(execute=True):
        row.act(world)

    dispute = world.reload()
    events = list(DisputeEvent.objects.filter(pk__gt=mark, kind=row.kind, dispute=dispute))
    assert len(events) == 1, f"expected one {row.kind} event, got {len(events)}"
    event = events[0]
    people = world.people
    expected = sorted(row.expected)

    rows = Notification.objects.filter(event=event).select_related("recipient")
    assert sorted(n.recipient.username for n in rows) == expected
    assert all(n.sent_at is not None for n in rows)

    label = EventKind(row.kind).label
    mails = [m for m in mailoutbox if m.subject.startswith(f"[Dispute #{dispute.pk}] {label}:")]
    by_address = {people[name].email: name for name in PEOPLE}
    assert sorted(by_address[m.to[0]] for m in mails) == expected
    assert all(len(m.to) == 1 for m in mails)
    for mail in mails:
        html, mimetype = mail.alternatives[0]
        assert mimetype == "text/html"
        link = re.search(r"https?://\S+", mail.body.split("Hello", 1)[1]).group(0)
        assert f'href="{link}"' in html

    for name in PEOPLE:
        page = notifications_page(client, people[name])
        assert page.count(f'data-event="{event.pk}"') == (1 if name in expected else 0), name


# --- the mail itself ----------------------------------------------------------------------------
def test_the_html_mail_has_the_same_content_and_a_link_button(
    world, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://portal.example"
    with django_capture_on_commit_callbacks(execute=True):
        world.escalated()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        world.rule()
    mail = next(m for m in mailoutbox if m.to == [world.alice.email])
    html = mail.alternatives[0][0]
    link = f"https://portal.example/disputes/{world.dispute.pk}/"
    assert link in mail.body and f'href="{link}"' in html
    for text in ("Hello Alice,", "sam ruled.", "Partial refund", "20.00", "Reply now"):
        assert text in mail.body and text in html, text
    assert REASONS in mail.body and REASONS in html
    # The running clock, as a sentence and as time left.
    assert "may each agree to the ruling or object to it" in mail.body
    assert "may each agree to the ruling or object to it" in html
    assert re.search(r"\(\d+ days?( \d+ hours?)? left\)", mail.body)
    assert " left)" in html


def test_staff_are_sent_to_the_admin_page_and_parties_to_the_dispute_page(
    world, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://portal.example"
    with django_capture_on_commit_callbacks(execute=True):
        world.ruled()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        dispute_reply_ruling(dispute_id=world.dispute.pk, user=world.alice, agree=True)
    admin = "https://portal.example" + reverse(
        "admin:disputes_dispute_change", args=[world.dispute.pk]
    )
    page = f"https://portal.example/disputes/{world.dispute.pk}/"
    to = {m.to[0]: m for m in mailoutbox}
    assert admin in to[world.sam.email].body and admin in to[world.sam.email].alternatives[0][0]
    assert "you arbitrate this case" in to[world.sam.email].body
    for person in (world.alice, world.bob):
        assert page in to[person.email].body and admin not in to[person.email].body


def test_a_reminder_says_what_is_due_and_when(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        world.open()
    mailoutbox.clear()
    with (
        time_machine.travel(world.reload().reminder_at, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        world.remind()
    (mail,) = mailoutbox
    assert mail.to == [world.bob.email]
    assert "Reminder: your answer is due by" in mail.body
    assert "Due: " in mail.body and "1 day left" in mail.body
    assert "Reminder: your answer is due by" in mail.alternatives[0][0]


def test_the_html_mail_escapes_what_people_wrote(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        world.open()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_post_message(
            dispute_id=world.dispute.pk, user=world.bob, body="<script>alert(1)</script> hi"
        )
    (mail,) = mailoutbox
    assert "<script>alert(1)</script>" in mail.body
    assert "<script>" not in mail.alternatives[0][0]
    assert "&lt;script&gt;" in mail.alternatives[0][0]


# --- the in-app list ----------------------------------------------------------------------------
def badge(html: str) -> int:
    match = re.search(
        r'id="nav-notifications">[^<]*<span class="badge unread-count"[^>]*>(\d+)<', html
    )
    return int(match.group(1)) if match else 0


def test_the_unread_badge_counts_on_every_page_and_reading_lowers_it(client_for, world):
    world.open()  # alice and bob: one notification each
    services.dispute_post_message(dispute_id=world.dispute.pk, user=world.bob, body="Hello.")
    client = client_for("alice")
    for url in (reverse("dashboards:my_orders"), world.dispute.get_absolute_url()):
        assert badge(client.get(url).content.decode()) == 2

    page = client.get(reverse("disputes:notifications")).content.decode()
    assert page.count('class="notification unread"') == 2
    assert badge(client.get(reverse("disputes:notifications")).content.decode()) == 2  # unchanged

    newest = Notification.objects.filter(recipient=world.alice).order_by("-id").first()
    response = client.get(reverse("disputes:notification_open", args=[newest.pk]))
    assert response.status_code == 302
    assert response.url == world.dispute.get_absolute_url()
    newest.refresh_from_db()
    assert newest.read_at is not None
    page = client.get(reverse("disputes:notifications")).content.decode()
    assert badge(page) == 1 and page.count('class="notification unread"') == 1

    response = client.post(reverse("disputes:notifications_read_all"), follow=True)
    assert badge(response.content.decode()) == 0
    assert not Notification.objects.filter(recipient=world.alice, read_at__isnull=True).exists()
    # Bob's own notifications were not touched.
    assert Notification.objects.filter(recipient=world.bob, read_at__isnull=True).count() == 1


def test_a_staff_notification_leads_to_the_admin_page(client_for, world):
    world.escalated()
    disputes_send_reminders(now=world.reload().reminder_at)
    row = Notification.objects.get(recipient=world.sam)
    response = client_for("sam").get(reverse("disputes:notification_open", args=[row.pk]))
    assert response.url == reverse("admin:disputes_dispute_change", args=[world.dispute.pk])


@pytest.mark.parametrize("who", ["bob", "carol", "sam"])
def test_nobody_sees_or_marks_another_persons_notification(who, client_for, world):
    world.open()
    theirs = Notification.objects.get(recipient=world.alice)
    client = client_for(who)
    assert client.get(reverse("disputes:notification_open", args=[theirs.pk])).status_code == 404
    client.post(reverse("disputes:notifications_read_all"))
    theirs.refresh_from_db()
    assert theirs.read_at is None
    page = client.get(reverse("disputes:notifications")).content.decode()
    assert f'id="notification-{theirs.pk}"' not in page


def test_anonymous_is_sent_to_log_in(client, world):
    world.open()
    row = Notification.objects.filter(recipient=world.alice).first()
    for url in (
        reverse("disputes:notifications"),
        reverse("disputes:notification_open", args=[row.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response.url
    assert client.post(reverse("disputes:notifications_read_all")).status_code == 302
    row.refresh_from_db()
    assert row.read_at is None


def test_mark_all_as_read_needs_a_post(client_for):
    assert client_for("alice").get(reverse("disputes:notifications_read_all")).status_code == 405


def test_the_list_is_newest_first_and_paginated(client_for, world, django_assert_max_num_queries):
    world.open()
    for i in range(29):
        services.dispute_post_message(dispute_id=world.dispute.pk, user=world.bob, body=f"N{i}.")
    client = client_for("alice")
    with django_assert_max_num_queries(8):
        first = client.get(reverse("disputes:notifications")).content.decode()
    ids = [int(pk) for pk in re.findall(r'id="notification-(\d+)"', first)]
    assert len(ids) == 25
    assert ids == sorted(ids, reverse=True)
    assert "N28." in first and "N0." not in first
    second = client.get(reverse("disputes:notifications") + "?page=2").content.decode()
    assert len(re.findall(r'id="notification-(\d+)"', second)) == 5
    assert "N0." in second and "opened a dispute" in second
