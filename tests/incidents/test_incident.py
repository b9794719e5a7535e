"""Incident mode: a carrier's orders to one country, shipped between two dates, get their
protection extended and their disputes' clocks paused; ending early pulls back exactly."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail

from disputes.models import Dispute, DisputeEvent, Notification
from disputes.services import (
    DisputeError,
    DisputeRequest,
    IncidentScope,
    dispute_accept,
    dispute_propose,
    disputes_sweep_due,
    incident_end,
    incident_preview,
    incident_start,
)
from disputes.states import DeadlineKind, DisputeState, EventKind, OutcomeType, Party
from orders.models import Incident, IncidentNotice, IncidentOrder, Order
from orders.selectors import incident_notes_for_orders
from orders.services import orders_complete_expired
from orders.states import OrderState
from tests.factories import DRESS_LINES, UserFactory, make_order, open_dispute

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
REASON = "Strike at the Leipzig sorting centre of DHL"
SCOPE = IncidentScope(
    carrier="DHL",
    destination_country="DE",
    shipped_from=date(2026, 11, 15),
    shipped_to=date(2026, 11, 22),
)


def request(outcome="refund_only", amount="30.00"):
    return DisputeRequest(
        received=True,
        reason="not_as_described",
        description="The dress is orange, not red as pictured.",
        quantity=1,
        requested_outcome=outcome,
        requested_amount=Decimal(amount),
    )


@pytest.fixture
def world(alice, carol, bobs_store, daves_store, bob, now):
    """Orders in every interesting state; the incident starts at ``t`` (now + 9 days)."""
    t = now + 9 * DAY
    shipped = now - 3 * DAY  # 2026-11-20, inside the incident's dates

    def dhl(buyer=alice, store=bobs_store, **kw):
        kw.setdefault("shipped_at", shipped)
        kw.setdefault("destination_country", "DE")
        return make_order(buyer=buyer, store=store, lines=DRESS_LINES, carrier="DHL", **kw)

    o = {
        "quiet": dhl(),  # no dispute
        "quiet_carol": dhl(buyer=carol, store=daves_store),
        "open": dhl(),
        "negotiating": dhl(),
        "escalated": dhl(),
        "returning": dhl(),
        "outside": dhl(shipped_at=now - 20 * DAY),
        "other_country": dhl(destination_country="FR"),
        "other_carrier": make_order(
            buyer=alice,
            store=bobs_store,
            shipped_at=shipped,
            carrier="UPS",
            destination_country="DE",
        ),
        "not_shipped": make_order(buyer=alice, store=bobs_store, destination_country="DE"),
        "completed": dhl(confirmed_at=now - DAY),
    }
    # Escalated: negotiation from now + 1 day, escalated by the sweep 7 days later.
    d_esc = open_dispute(line=o["escalated"].lines.first(), buyer=alice, request=request(), now=now)
    dispute_propose(
        dispute_id=d_esc.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("10.00"),
        now=now + DAY,
    )
    disputes_sweep_due(now=now + 8 * DAY + SECOND)
    d_open = open_dispute(line=o["open"].lines.first(), buyer=alice, request=request(), now=t - DAY)
    d_neg = open_dispute(
        line=o["negotiating"].lines.first(), buyer=alice, request=request(), now=t - 2 * DAY
    )
    dispute_propose(
        dispute_id=d_neg.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("10.00"),
        now=t - DAY,
    )
    d_ret = open_dispute(
        line=o["returning"].lines.first(),
        buyer=alice,
        request=request("return_and_refund", "45.00"),
        now=t - 2 * DAY,
    )
    dispute_accept(dispute_id=d_ret.pk, user=bob, now=t - DAY)
    disputes = {"open": d_open, "negotiating": d_neg, "escalated": d_esc, "returning": d_ret}
    for d in disputes.values():
        d.refresh_from_db()
    assert disputes["escalated"].state == DisputeState.ESCALATED
    assert disputes["returning"].state == DisputeState.AWAITING_RETURN
    assert disputes["negotiating"].state == DisputeState.SELLER_RESPONDED
    for order in o.values():
        order.refresh_from_db()
    return t, o, disputes


CLOCKS = ("next_deadline_at", "reminder_at", "arbitration_target_at", "arbitration_limit_at")


def clocks(dispute):
    dispute.refresh_from_db()
    return {name: getattr(dispute, name) for name in CLOCKS}


def shifted(before, delta):
    return {k: (v + delta if v is not None else None) for k, v in before.items()}


def test_incident_over_a_carriers_orders(
    world, sam, alice, bob, carol, dave, django_capture_on_commit_callbacks
):
    t, o, disputes = world
    affected = ("quiet", "quiet_carol", "open", "negotiating", "escalated", "returning")
    before = {name: clocks(d) for name, d in disputes.items()}
    protection = {name: order.protection_ends_at for name, order in o.items()}
    assert before["escalated"]["arbitration_target_at"] is not None
    assert before["open"]["reminder_at"] is not None
    alice.language, carol.language = "ru", "en"
    alice.save(), carol.save()

    assert incident_preview(scope=SCOPE).orders == len(affected)
    assert incident_preview(scope=SCOPE).disputes == 4
    mail.outbox.clear()
    events_before = DisputeEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        result = incident_start(by=sam, scope=SCOPE, days=10, reason=REASON, now=t)
    assert (result.done, result.orders, result.disputes) == (True, 6, 4)

    # Every paused clock, exactly ten days later; the protection too, and nothing else.
    for name, dispute in disputes.items():
        assert clocks(dispute) == shifted(before[name], 10 * DAY), name
    for name, order in o.items():
        order.refresh_from_db()
        expected = protection[name] + 10 * DAY if name in affected else protection[name]
        assert order.protection_ends_at == expected, name
    quiet = o["quiet"]
    window = quiet.dispute_window(now=t)
    assert window.until == protection["quiet"] + 10 * DAY + timedelta(days=15)
    assert IncidentOrder.objects.filter(incident=result.incident).count() == 6

    # One event per dispute, dated, with the reason and the days; mailed to both parties.
    started = DisputeEvent.objects.filter(kind=EventKind.INCIDENT_STARTED)
    assert DisputeEvent.objects.count() - events_before == 4
    assert {e.dispute_id for e in started} == {d.pk for d in disputes.values()}
    for event in started:
        assert event.created_at == t
        assert event.note == REASON
        assert event.data["days"] == 10
        assert event.actor == sam and event.actor_party == Party.STAFF
        assert event.from_state == event.to_state
    assert Notification.objects.filter(event__in=started).count() == 8
    # Mail: dispute mails to alice (ru) and bob per dispute; one incident mail per person
    # for the orders without a dispute (alice as buyer, bob and dave as sellers, carol).
    by_person = {}
    for message in mail.outbox:
        by_person.setdefault(message.to[0], []).append(message)
    assert len(by_person[alice.email]) == 4 + 1
    assert len(by_person[bob.email]) == 4 + 1
    assert len(by_person[carol.email]) == 1
    assert len(by_person[dave.email]) == 1
    alices = [m for m in by_person[alice.email] if o["quiet"].number in m.body]
    assert len(alices) == 1
    # In her language (the incident's own sentences once the lead merges their Russian).
    assert alices[0].body.startswith("Здравствуйте, Alice!")
    assert REASON in alices[0].body
    carols = by_person[carol.email][0]
    assert carols.subject == "Protection extended by 10 days"
    assert carols.body.startswith("Hello Carol,")
    assert REASON in carols.body and o["quiet_carol"].number in carols.body
    assert o["quiet"].number not in carols.body
    assert (
        IncidentNotice.objects.filter(incident=result.incident, sent_at__isnull=False).count() == 4
    )

    # The sweep at the old due times moves nothing; at the new ones it does.
    old_open_due = before["open"]["next_deadline_at"]
    assert disputes_sweep_due(now=old_open_due + SECOND).moved == 0
    orders_complete_expired(now=protection["quiet"] + SECOND)
    for name, order in o.items():
        order.refresh_from_db()
        if name in affected or name == "not_shipped":
            assert order.state == OrderState.SHIPPED or name == "not_shipped", name
        else:
            assert order.state == OrderState.COMPLETED, name  # the others' clocks ran
    assert disputes_sweep_due(now=old_open_due + 10 * DAY + SECOND).moved >= 1
    disputes["open"].refresh_from_db()
    assert disputes["open"].state == DisputeState.RESOLVED
    assert orders_complete_expired(now=protection["quiet"] + 10 * DAY + SECOND) >= 1
    quiet.refresh_from_db()
    assert quiet.state == OrderState.COMPLETED
    assert quiet.completed_at == protection["quiet"] + 10 * DAY

    # Pages: the notes, read for many orders at once.
    notes = incident_notes_for_orders(order_ids=[o["quiet"].pk, o["outside"].pk])
    assert [(n.days, n.reason) for n in notes[o["quiet"].pk]] == [(10, REASON)]
    assert o["outside"].pk not in notes


def test_starting_twice_does_nothing_more(world, sam):
    t, _o, disputes = world
    first = incident_start(by=sam, scope=SCOPE, days=10, reason=REASON, now=t)
    before = clocks(disputes["open"])
    again = incident_start(by=sam, scope=SCOPE, days=10, reason=REASON, now=t + SECOND)
    assert not again.done and again.incident == first.incident
    assert clocks(disputes["open"]) == before
    assert Incident.objects.count() == 1
    assert DisputeEvent.objects.filter(kind=EventKind.INCIDENT_STARTED).count() == 4


def test_ending_early_pulls_back_exactly_and_ending_twice_is_a_noop(
    world, sam, django_capture_on_commit_callbacks
):
    t, o, disputes = world
    before = {name: clocks(d) for name, d in disputes.items()}
    protection = o["quiet"].protection_ends_at
    started = incident_start(by=sam, scope=SCOPE, days=10, reason=REASON, now=t)
    # Ended after 2 days and 3 hours: a day begun counts, so 3 days paused.
    with django_capture_on_commit_callbacks(execute=True):
        ended = incident_end(
            incident_id=started.incident.pk, by=sam, now=t + 2 * DAY + timedelta(hours=3)
        )
    assert ended.done and ended.incident.days_paused == 3
    for name, dispute in disputes.items():
        assert clocks(dispute) == shifted(before[name], 3 * DAY), name
    o["quiet"].refresh_from_db()
    assert o["quiet"].protection_ends_at == protection + 3 * DAY
    events = DisputeEvent.objects.filter(kind=EventKind.INCIDENT_ENDED)
    assert events.count() == 4
    assert all(e.data["days_paused"] == 3 and e.data["days"] == 10 for e in events)
    assert IncidentNotice.objects.filter(step="ended").count() == 4
    assert incident_notes_for_orders(order_ids=[o["quiet"].pk])[o["quiet"].pk][0].days == 3

    mails = len(mail.outbox)
    assert mails == 4 * 2 + 4  # the dispute events to both parties, a notice per person
    again = incident_end(incident_id=started.incident.pk, by=sam, now=t + 5 * DAY)
    assert not again.done
    for name, dispute in disputes.items():
        assert clocks(dispute) == shifted(before[name], 3 * DAY), name
    assert DisputeEvent.objects.filter(kind=EventKind.INCIDENT_ENDED).count() == 4
    assert len(mail.outbox) == mails


def test_ending_after_its_days_changes_no_date(world, sam):
    t, _o, disputes = world
    started = incident_start(by=sam, scope=SCOPE, days=2, reason=REASON, now=t)
    after_start = {name: clocks(d) for name, d in disputes.items()}
    incident_end(incident_id=started.incident.pk, by=sam, now=t + 2 * DAY)
    assert {name: clocks(d) for name, d in disputes.items()} == after_start


def test_a_dispute_that_moved_keeps_its_new_clock(world, sam, alice):
    t, _o, disputes = world
    started = incident_start(by=sam, scope=SCOPE, days=10, reason=REASON, now=t)
    # The buyer accepts the seller's proposal during the incident: the case moves on.
    negotiating = disputes["negotiating"]
    dispute_accept(dispute_id=negotiating.pk, user=alice, now=t + DAY)
    moved = clocks(negotiating)
    incident_end(incident_id=started.incident.pk, by=sam, now=t + 2 * DAY)
    assert clocks(negotiating) == moved


def test_only_arbitrators_start_incidents(world, bob):
    t, _o, _d = world
    staff = UserFactory(username="clerk", is_staff=True)
    for person in (staff, bob):
        with pytest.raises(DisputeError):
            incident_start(by=person, scope=SCOPE, days=10, reason=REASON, now=t)
    assert not Incident.objects.exists()
    assert Order.objects.filter(state=OrderState.SHIPPED).exists()


def test_days_and_dates_are_checked(world, sam):
    t, _o, _d = world
    with pytest.raises(DisputeError):
        incident_start(by=sam, scope=SCOPE, days=31, reason=REASON, now=t)
    with pytest.raises(DisputeError):
        incident_start(
            by=sam,
            scope=IncidentScope("DHL", "DE", date(2026, 11, 22), date(2026, 11, 15)),
            days=3,
            reason=REASON,
            now=t,
        )
    assert not Incident.objects.exists()
    assert Dispute.objects.filter(deadline_kind=DeadlineKind.SELLER_RESPONSE).exists()
