"""What the mails say: for every clock, what happened to whom, in words for each side (the
same sentence as on the dispute page's timeline); "you" for the person who acted; and the
case as the event left it, however late the mail is sent."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.models import Dispute, Notification
from disputes.notifications import notifications_deliver
from disputes.services import DisputeRequest
from disputes.states import OutcomeType, Reason, RequestedOutcome
from orders.templatetags.clocks import absolute
from tests.factories import DRESS_LINES, make_order, open_dispute

pytestmark = pytest.mark.django_db

REASONS = "The photos show the colour differs; 20.00 is fair."


# --- a dispute between Alice and Bob's Boutique, moved by the real services -------------------
@dataclass
class Case:
    alice: Any
    bob: Any
    sam: Any
    dispute: Dispute | None = None

    def reload(self) -> Dispute:
        self.dispute = Dispute.objects.select_related("store").get(pk=self.dispute.pk)
        return self.dispute

    def open(self, *, wants: str = RequestedOutcome.REFUND_ONLY) -> Case:
        order = make_order(
            buyer=self.alice,
            store=self.bob.store,
            lines=DRESS_LINES,
            shipped_at=timezone.now() - timedelta(days=2),
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
        )
        return self

    def propose(self, outcome: str = OutcomeType.PARTIAL_REFUND) -> Case:
        services.dispute_propose(
            dispute_id=self.dispute.pk,
            user=self.bob,
            outcome=outcome,
            amount=Decimal("10.00") if outcome == OutcomeType.PARTIAL_REFUND else None,
        )
        return self

    def accept(self, who: str) -> Case:
        services.dispute_accept(dispute_id=self.dispute.pk, user=getattr(self, who))
        return self

    def sweep(self) -> None:
        services.disputes_sweep_due(now=self.reload().next_deadline_at)

    def ruled(self) -> Case:
        self.open().propose().sweep()
        services.dispute_rule(
            dispute_id=self.dispute.pk,
            user=self.sam,
            outcome=OutcomeType.PARTIAL_REFUND,
            amount=Decimal("20.00"),
            reason=REASONS,
        )
        return self

    def agree(self, who: str) -> Case:
        services.dispute_reply_ruling(
            dispute_id=self.dispute.pk, user=getattr(self, who), agree=True
        )
        return self

    def ship_return(self) -> Case:
        services.dispute_ship_return(
            dispute_id=self.dispute.pk, user=self.alice, carrier="DHL", tracking="JD0001"
        )
        return self

    def ship_replacement(self) -> Case:
        services.dispute_ship_replacement(
            dispute_id=self.dispute.pk, user=self.bob, carrier="EMS", tracking="EE123"
        )
        return self


@pytest.fixture
def case(alice, bob, sam, bobs_store) -> Case:
    return Case(alice=alice, bob=bob, sam=sam)


def mails_to(mailoutbox, person, dispute: Dispute, label: str) -> list[Any]:
    prefix = f"[Dispute #{dispute.pk}] {label}:"
    return [m for m in mailoutbox if m.to == [person.email] and m.subject.startswith(prefix)]


def bodies(mail) -> tuple[str, str]:
    """The plain text, and the HTML as a reader sees it (tags dropped, entities decoded)."""
    html = html_lib.unescape(re.sub(r"<[^>]+>", " ", mail.alternatives[0][0]))
    return mail.body, re.sub(r"\s+", " ", html)


def timeline_of(client, person, dispute: Dispute) -> str:
    client.force_login(person)
    html = client.get(dispute.get_absolute_url()).content.decode()
    match = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', html, re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", match.group(1))))


# --- every clock, to each side ------------------------------------------------------------------
@dataclass
class Clock:
    name: str
    setup: Callable[[Case], Any]
    label: str  # the mail's subject: the kind of event the clock made
    buyer: str
    seller: str
    state: str  # where the clock left the case, as the mail says it


CLOCKS = [
    Clock(
        "seller's answer",
        lambda c: c.open(),
        "Deadline passed",
        "Bob's Boutique did not answer in time: you get a full refund of 45.00 USD.",
        "You did not answer in time: the buyer's request is granted, a full refund of 45.00 USD.",
        "Resolved",
    ),
    Clock(
        "seller's answer, a return asked",
        lambda c: c.open(wants=RequestedOutcome.RETURN_AND_REFUND),
        "Deadline passed",
        "Bob's Boutique did not answer in time: you get a refund of 45.00 USD once the item is "
        "returned.",
        "You did not answer in time: the buyer's request is granted, a refund of 45.00 USD once "
        "the item is returned.",
        "Awaiting the return",
    ),
    Clock(
        "negotiation",
        lambda c: c.open().propose(),
        "Escalated to an arbitrator",
        "You and Bob's Boutique did not agree within the 7 days of negotiation: the case went "
        "to an arbitrator.",
        "You and the buyer did not agree within the 7 days of negotiation: the case went to an "
        "arbitrator.",
        "With an arbitrator",
    ),
    Clock(
        "reply to a ruling, the seller silent",
        lambda c: c.ruled().agree("alice"),
        "Deadline passed",
        "Bob's Boutique did not reply to the ruling in time: silence counts as agreement, and "
        "the ruling took effect: a partial refund of 20.00 USD.",
        "You did not reply to the ruling in time: your silence counts as agreement, and the "
        "ruling took effect: a partial refund of 20.00 USD.",
        "Resolved",
    ),
    Clock(
        "reply to a ruling, the buyer silent",
        lambda c: c.ruled().agree("bob"),
        "Deadline passed",
        "You did not reply to the ruling in time: your silence counts as agreement, and the "
        "ruling took effect: a partial refund of 20.00 USD.",
        "The buyer did not reply to the ruling in time: silence counts as agreement, and the "
        "ruling took effect: a partial refund of 20.00 USD.",
        "Resolved",
    ),
    Clock(
        "reply to a ruling, both silent",
        lambda c: c.ruled(),
        "Deadline passed",
        "Neither you nor Bob's Boutique replied to the ruling in time: silence counts as "
        "agreement, and the ruling took effect: a partial refund of 20.00 USD.",
        "Neither you nor the buyer replied to the ruling in time: silence counts as agreement, "
        "and the ruling took effect: a partial refund of 20.00 USD.",
        "Resolved",
    ),
    Clock(
        "return shipment",
        lambda c: c.open(wants=RequestedOutcome.RETURN_AND_REFUND).accept("bob"),
        "Deadline passed",
        "You did not ship the return in time: the claim lapsed, without a refund.",
        "The buyer did not ship the return in time: the claim lapsed, without a refund.",
        "Resolved",
    ),
    Clock(
        "return receipt",
        lambda c: c.open(wants=RequestedOutcome.RETURN_AND_REFUND).accept("bob").ship_return(),
        "Deadline passed",
        "Bob's Boutique did not confirm in time that your return arrived: your refund of "
        "45.00 USD is sent all the same.",
        "You did not confirm in time that the returned parcel arrived: the buyer's refund of "
        "45.00 USD is sent all the same.",
        "Resolved",
    ),
    Clock(
        "replacement shipment",
        lambda c: c.open().propose(OutcomeType.REPLACEMENT).accept("alice"),
        "Deadline passed",
        "Bob's Boutique did not ship the replacement in time: your original request is "
        "granted, a full refund of 45.00 USD.",
        "You did not ship the replacement in time: the buyer's original request is granted, a "
        "full refund of 45.00 USD.",
        "Resolved",
    ),
    Clock(
        "replacement's protection",
        lambda c: c.open().propose(OutcomeType.REPLACEMENT).accept("alice").ship_replacement(),
        "Deadline passed",
        "The replacement's protection ended and you reported no problem: it counts as "
        "delivered, and the dispute is closed.",
        "The replacement's protection ended without a report from the buyer: it counts as "
        "delivered, and the dispute is closed.",
        "Resolved",
    ),
]


@pytest.mark.parametrize("clock", CLOCKS, ids=[c.name for c in CLOCKS])
def test_each_clock_tells_each_side_what_happened_to_whom(
    clock, case, client, mailoutbox, django_capture_on_commit_callbacks
):
    clock.setup(case)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        case.sweep()
    dispute = case.reload()
    for person, sentence in ((case.alice, clock.buyer), (case.bob, clock.seller)):
        (mail,) = mails_to(mailoutbox, person, dispute, clock.label)
        for body in bodies(mail):
            assert sentence in body, (person.username, body)
            assert "A deadline passed" not in body
            assert f"State: {clock.state}" in body or f"State {clock.state}" in body
        # The timeline shares the sentence, said to whoever reads it.
        assert sentence in timeline_of(client, person, dispute), person.username
    # The arbitrator is not a party to what the parties' clocks did.
    assert not mails_to(mailoutbox, case.sam, dispute, clock.label)


def test_the_arbitration_limit_is_told_to_the_arbitrator_only(
    case, mailoutbox, django_capture_on_commit_callbacks
):
    case.open().propose().sweep()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        case.sweep()  # the 60-day limit
    dispute = case.reload()
    (mail,) = mails_to(mailoutbox, case.sam, dispute, "Arbitration over its limit")
    sentence = (
        "The case passed its 60-day arbitration limit without a final ruling: it is flagged "
        "as late."
    )
    assert all(sentence in body for body in bodies(mail))
    assert [m.to for m in mailoutbox] == [[case.sam.email]]


@pytest.mark.parametrize("side", ["buyer", "seller"])
def test_an_evidence_request_tells_the_side_asked_by_when(
    side, case, client, mailoutbox, django_capture_on_commit_callbacks
):
    case.open().propose().sweep()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_request_evidence(
            dispute_id=case.dispute.pk,
            user=case.sam,
            party=side,
            note="A photo of the label, please.",
            days=3,
        )
    dispute = case.reload()
    request = dispute.evidence_requests.get()
    asked = case.alice if side == "buyer" else case.bob
    (mail,) = mailoutbox
    assert mail.to == [asked.email]
    sentence = f"The arbitrator asked you for more evidence, by {absolute(request.due_at)}."
    for body in bodies(mail):
        assert sentence in body and "A photo of the label, please." in body
    other = case.bob if side == "buyer" else case.alice
    assert f"The arbitrator asked the {side} for more evidence" in timeline_of(
        client, other, dispute
    )


def test_reminders_speak_to_the_person_who_must_act(
    case, mailoutbox, django_capture_on_commit_callbacks
):
    case.open()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.disputes_send_reminders(now=case.reload().reminder_at)
    (mail,) = mailoutbox
    assert mail.to == [case.bob.email]
    due = absolute(case.dispute.next_deadline_at)
    assert f"Reminder: your answer is due by {due}." in mail.body

    case.open(wants=RequestedOutcome.RETURN_AND_REFUND).accept("bob")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.disputes_send_reminders(now=case.reload().reminder_at)
    (mail,) = mailoutbox
    assert mail.to == [case.alice.email]
    due = absolute(case.dispute.next_deadline_at)
    assert f"Reminder: ship the return, with its tracking number entered, by {due}." in mail.body
    assert "1 Return Road, Shenzhen" in mail.body  # where to send it


def test_a_lapsed_return_mail_leads_with_what_happened(
    case, mailoutbox, django_capture_on_commit_callbacks
):
    case.open(wants=RequestedOutcome.RETURN_AND_REFUND).accept("bob")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        case.sweep()
    (mail,) = mails_to(mailoutbox, case.alice, case.reload(), "Deadline passed")
    for body in bodies(mail):
        ended = body.index("How it ended")
        assert "Claim lapsed: the return was not shipped in time" in body[ended:]
        assert ended < body.index("Agreed outcome, not carried out")
        assert "Outcome: Return" not in body and "Outcome Return" not in body


# --- "you" for the person who acted -------------------------------------------------------------
def test_a_persons_own_receipt_says_you(
    case, client, mailoutbox, django_capture_on_commit_callbacks
):
    case.alice.last_name = "Martin"
    case.alice.save()
    with django_capture_on_commit_callbacks(execute=True):
        case.open()
    dispute = case.reload()
    (to_alice,) = mails_to(mailoutbox, case.alice, dispute, "Dispute opened")
    (to_bob,) = mails_to(mailoutbox, case.bob, dispute, "Dispute opened")
    assert all("You opened a dispute." in body for body in bodies(to_alice))
    assert not any("Alice Martin opened" in body for body in bodies(to_alice))
    assert all("Alice Martin opened a dispute." in body for body in bodies(to_bob))

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        case.propose()
    (to_bob,) = mails_to(mailoutbox, case.bob, dispute, "Proposal made")
    (to_alice,) = mails_to(mailoutbox, case.alice, dispute, "Proposal made")
    assert "You proposed another solution." in to_bob.body
    assert "Bob proposed another solution." in to_alice.body
    assert "On the table: Partial refund 10.00 USD (proposed by the seller)" in to_alice.body

    # The in-app list is the same receipts.
    client.force_login(case.alice)
    page = html_lib.unescape(client.get(reverse("disputes:notifications")).content.decode())
    assert "You opened a dispute." in page and "Bob proposed another solution." in page


# --- a mail sent late describes the case as its event left it ------------------------------------
def test_a_late_mail_describes_the_case_as_the_event_left_it(case, mailoutbox):
    # No delivery yet: each change only writes its outbox rows (Redis down, worker busy).
    case.open().propose()
    case.accept("alice")
    dispute = case.reload()
    assert dispute.state == "resolved" and not mailoutbox

    def deliver(label: str) -> dict[str, Any]:
        rows = Notification.objects.filter(
            event__dispute=dispute, event__kind=label, sent_at__isnull=True
        )
        mailoutbox.clear()
        notifications_deliver(ids=list(rows.values_list("pk", flat=True)))
        return {m.to[0]: m for m in mailoutbox}

    opened = deliver("opened")
    for body in bodies(opened[case.bob.email]):
        assert "State: Waiting for the seller" in body or "State Waiting for the seller" in body
        assert "Resolved" not in body and "Outcome" not in body
        # The seller's clock it started has since stopped: it is not stated as running.
        assert "must answer by" not in body

    proposed = deliver("proposed")
    for body in bodies(proposed[case.alice.email]):
        assert "Negotiating" in body and "Resolved" not in body
        assert "Partial refund 10.00 USD" in body and "proposed by the seller" in body
        assert "How it ended" not in body and "have until" not in body

    accepted = deliver("accepted")
    for body in bodies(accepted[case.alice.email]):
        assert "Resolved" in body
        assert "Partial refund 10.00 USD" in body
        assert "Refunded" in body
