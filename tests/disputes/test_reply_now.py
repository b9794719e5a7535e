"""Reply now: both sides see the ruling and may each agree or object once within 5 days;
silence counts as agreement; an objection brings the arbitrator's final second ruling.
Through the services and through the dispute page, as every persona."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.models import Dispute
from disputes.services import (
    DisputeError,
    DisputeRequest,
    StaleDispute,
    dispute_reply_ruling,
    dispute_request_evidence,
    dispute_rule,
    disputes_sweep_due,
)
from disputes.states import (
    Closing,
    DisputeState,
    EventKind,
    OutcomeType,
    Reason,
    Reply,
    RequestedOutcome,
)
from evidence.models import Evidence
from refunds.models import Refund
from tests.factories import DRESS_LINES, make_order, open_dispute, photo

pytestmark = pytest.mark.django_db

REASONS = "The photos show the colour differs; half of the price is fair."
OBJECTION = "The dress is not wearable at all; I want all my money back."


# --- helpers ------------------------------------------------------------------------------------
def reload(dispute: Dispute) -> Dispute:
    return Dispute.objects.select_related("store").get(pk=dispute.pk)


def kinds(dispute: Dispute) -> list[str]:
    return list(dispute.events.order_by("created_at", "id").values_list("kind", flat=True))


def revision_on(html: str) -> int:
    match = re.search(r'name="revision" value="(\d+)"', html)
    assert match, "no revision on the page"
    return int(match.group(1))


def ruling_box(html: str) -> str:
    match = re.search(r'<article class="ruling[^"]*" id="ruling">(.*?)</article>', html, re.S)
    assert match, "no ruling on the page"
    return html_lib.unescape(re.sub(r"\s+", " ", match.group(1)))


def reply_buttons(html: str, dispute: Dispute) -> set[str]:
    return {
        name
        for name in ("agree_ruling", "object_ruling")
        if reverse(f"disputes:{name}", args=[dispute.pk]) in html
    }


def escalate(dispute: Dispute, *, seller, at) -> Dispute:
    """The seller answers with 10.00; a week passes without agreement: escalated."""
    services.dispute_propose(
        dispute_id=dispute.pk,
        user=seller,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("10.00"),
        note="The colour varies with the light.",
        now=at,
    )
    due = reload(dispute).next_deadline_at
    disputes_sweep_due(now=due + timedelta(minutes=1))
    escalated = reload(dispute)
    assert escalated.state == DisputeState.ESCALATED
    return escalated


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def start():
    """The dispute opened nine days ago, so that its ruling is two days old now."""
    return timezone.now() - timedelta(days=9)


@pytest.fixture
def escalated(alice, bob, bobs_store, start):
    order = make_order(
        buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=start - timedelta(days=2)
    )
    dispute = open_dispute(
        line=order.lines.order_by("id")[0],
        buyer=alice,
        request=DisputeRequest(
            received=True,
            reason=Reason.NOT_AS_DESCRIBED,
            description="The dress is orange, not red as in the listing photos.",
            quantity=1,
            requested_outcome=RequestedOutcome.REFUND_ONLY,
            requested_amount=Decimal("45.00"),
        ),
        now=start,
    )
    return escalate(dispute, seller=bob, at=start + timedelta(hours=1))


@pytest.fixture
def ruled(escalated, sam):
    """Sam ruled a partial refund of 20.00 an hour after the escalation."""
    dispute = dispute_rule(
        dispute_id=escalated.pk,
        user=sam,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("20.00"),
        reason=REASONS,
        now=escalated.escalated_at + timedelta(hours=1),
    )
    assert dispute.state == DisputeState.RULED
    assert dispute.next_deadline_at > timezone.now()
    return reload(dispute)


# --- the services -------------------------------------------------------------------------------
def test_the_ruling_starts_a_five_day_reply_clock(ruled):
    assert ruled.deadline_kind == "ruling_reply"
    assert ruled.next_deadline_at == ruled.ruled_at + timedelta(days=5)
    assert (ruled.buyer_reply, ruled.seller_reply) == ("", "")
    assert ruled.ruling_round == 1


def test_both_agree_and_the_partial_refund_takes_effect(ruled, alice, bob):
    after_one = dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=True).dispute
    assert after_one.state == DisputeState.RULED
    assert after_one.buyer_reply == Reply.AGREE and not after_one.seller_reply
    assert not Refund.objects.exists()

    done = dispute_reply_ruling(dispute_id=ruled.pk, user=bob, agree=True).dispute

    assert done.state == DisputeState.RESOLVED
    assert done.closing == Closing.REFUNDED
    assert (done.outcome_type, done.outcome_amount) == (OutcomeType.PARTIAL_REFUND, Decimal("20"))
    refund = Refund.objects.get()
    assert refund.amount == Decimal("20.00") and refund.dispute_id == ruled.pk
    assert kinds(ruled)[-3:] == [EventKind.RULING_AGREED, EventKind.RULING_AGREED, "resolved"]


def test_one_objects_then_the_second_ruling_is_final_and_takes_effect_at_once(
    ruled, alice, bob, sam
):
    objected = dispute_reply_ruling(
        dispute_id=ruled.pk, user=bob, agree=False, reason=OBJECTION, files=[photo("new.jpg")]
    ).dispute
    assert objected.state == DisputeState.ESCALATED
    assert objected.seller_reply == Reply.OBJECT
    assert objected.assignee_id == sam.pk
    assert Evidence.objects.filter(dispute=ruled, party="seller", original_name="new.jpg").exists()
    event = ruled.events.get(kind=EventKind.RULING_OBJECTED)
    assert event.note == OBJECTION and event.data["evidence"]
    # The other side can no longer reply: the case is back with the arbitrator.
    with pytest.raises(StaleDispute):
        dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=True)

    final = dispute_rule(
        dispute_id=ruled.pk,
        user=sam,
        outcome=OutcomeType.FULL_REFUND,
        reason="Having seen the new photos: the dress is unwearable, a full refund.",
    )

    assert final.state == DisputeState.RESOLVED
    assert final.ruling_round == 2
    assert final.closing == Closing.REFUNDED
    assert Refund.objects.get().amount == Decimal("45.00")
    assert final.next_deadline_at is None
    for person in (alice, bob):
        names = {t.name for t in reload(final).get_available_user_state_transitions(person)}
        assert not names & {"agree_ruling", "object_ruling"}
        with pytest.raises(StaleDispute):
            dispute_reply_ruling(dispute_id=ruled.pk, user=person, agree=True)
    assert ruled.events.filter(kind=EventKind.RULED).latest("id").data["final"] is True


def test_silence_for_five_days_counts_as_agreement(ruled):
    assert disputes_sweep_due(now=ruled.next_deadline_at - timedelta(seconds=1)).moved == 0
    assert disputes_sweep_due(now=ruled.next_deadline_at).moved == 1

    done = reload(ruled)
    assert done.state == DisputeState.RESOLVED
    # Silence counts as agreement, but is recorded as what it was: no reply.
    assert (done.buyer_reply, done.seller_reply) == ("", "")
    assert Refund.objects.get().amount == Decimal("20.00")
    passed = done.events.get(kind=EventKind.DEADLINE_PASSED, data__clock="ruling_reply")
    assert passed.actor_party == "deadline"


def test_one_agrees_and_the_others_silence_completes_the_agreement(ruled, alice):
    dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=True)
    disputes_sweep_due(now=ruled.next_deadline_at)
    assert reload(ruled).state == DisputeState.RESOLVED


def test_replying_twice_is_refused(ruled, alice):
    dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=True)
    for agree in (True, False):
        with pytest.raises(DisputeError):
            dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=agree, reason=OBJECTION)
    assert reload(ruled).buyer_reply == Reply.AGREE
    assert kinds(ruled).count(EventKind.RULING_AGREED) == 1


@pytest.mark.parametrize("who", ["carol", "dave", "sam"])
def test_only_the_parties_reply(who, persona, ruled):
    with pytest.raises(DisputeError):
        dispute_reply_ruling(dispute_id=ruled.pk, user=persona(who), agree=True)
    assert reload(ruled).state == DisputeState.RULED


@pytest.mark.parametrize("reason", ["", "   ", "No."])
def test_an_objection_needs_a_reason(reason, ruled, bob):
    with pytest.raises(DisputeError) as refused:
        dispute_reply_ruling(dispute_id=ruled.pk, user=bob, agree=False, reason=reason)
    assert refused.value.field == "reason"
    assert reload(ruled).state == DisputeState.RULED


def test_a_reply_after_the_five_days_is_too_late(ruled, alice):
    with pytest.raises(services.DeadlinePassed):
        dispute_reply_ruling(
            dispute_id=ruled.pk,
            user=alice,
            agree=False,
            reason=OBJECTION,
            now=ruled.next_deadline_at,
        )


# --- the dispute page ---------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["alice", "bob", "sam"])
def test_both_sides_and_staff_see_the_ruling_with_its_reasons_round_and_clock(
    who, client_for, ruled
):
    html = client_for(who).get(ruled.get_absolute_url()).content.decode()
    box = ruling_box(html)
    assert "Partial refund: 20.00 USD" in box or "Partial refund: 20.00" in box
    assert REASONS in box
    assert "First ruling" in box
    assert 'data-countdown="' in box
    assert "Silence counts as agreement" in box
    assert re.search(r'id="reply-buyer">\s*No reply yet', html)
    assert re.search(r'id="reply-seller">\s*No reply yet', html)
    expected = {"agree_ruling", "object_ruling"} if who != "sam" else set()
    assert reply_buttons(html, ruled) == expected
    if expected:
        assert "You can object only once" in html
        assert 'enctype="multipart/form-data" data-upload' in html


@pytest.mark.parametrize("who", ["carol", "dave"])
def test_strangers_do_not_see_the_ruling(who, client_for, ruled):
    assert client_for(who).get(ruled.get_absolute_url()).status_code == 404


def test_agreeing_through_the_page(client_for, ruled):
    client = client_for("alice")
    revision = revision_on(client.get(ruled.get_absolute_url()).content.decode())
    response = client.post(
        reverse("disputes:agree_ruling", args=[ruled.pk]), {"revision": revision}, follow=True
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "You agreed to the ruling" in html
    assert re.search(r'id="reply-buyer">\s*Agrees', html)
    assert reply_buttons(html, ruled) == set()
    assert reload(ruled).buyer_reply == Reply.AGREE

    bob = client_for("bob")
    html = bob.get(ruled.get_absolute_url()).content.decode()
    assert reply_buttons(html, ruled) == {"agree_ruling", "object_ruling"}
    bob.post(reverse("disputes:agree_ruling", args=[ruled.pk]), {"revision": revision_on(html)})
    assert reload(ruled).state == DisputeState.RESOLVED
    assert Refund.objects.get().amount == Decimal("20.00")


def test_agreeing_twice_through_the_page_is_refused(client_for, ruled):
    client = client_for("alice")
    url = reverse("disputes:agree_ruling", args=[ruled.pk])
    client.post(url, {"revision": ruled.revision})
    again = client.post(url, {"revision": ruled.revision + 1}, follow=True)
    assert "You cannot do this on this dispute." in again.content.decode()
    assert reload(ruled).events.filter(kind=EventKind.RULING_AGREED).count() == 1


def test_objecting_through_the_page_with_new_evidence(client_for, ruled, sam):
    client = client_for("bob")
    response = client.post(
        reverse("disputes:object_ruling", args=[ruled.pk]),
        {"revision": ruled.revision, "reason": OBJECTION, "files": [photo("box.jpg")]},
        follow=True,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Your objection was sent" in html
    assert "The seller objected." in html
    assert reply_buttons(html, ruled) == set()
    dispute = reload(ruled)
    assert dispute.state == DisputeState.ESCALATED and dispute.assignee_id == sam.pk
    assert Evidence.objects.filter(dispute=ruled, original_name="box.jpg").exists()

    dispute_rule(
        dispute_id=ruled.pk,
        user=sam,
        outcome=OutcomeType.REJECTED,
        reason="The photos do not show a defect; the claim is rejected.",
    )
    for who in ("alice", "bob"):
        html = client_for(who).get(ruled.get_absolute_url()).content.decode()
        box = ruling_box(html)
        assert "final ruling" in box.lower() and "Claim rejected" in box
        assert reply_buttons(html, ruled) == set()


def test_an_objection_without_a_reason_keeps_what_was_typed(client_for, ruled):
    response = client_for("bob").post(
        reverse("disputes:object_ruling", args=[ruled.pk]),
        {"revision": ruled.revision, "reason": "Too short"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    match = re.search(r'<textarea name="reason"[^>]*>(.*?)</textarea>', html, re.S)
    assert match and html_lib.unescape(match.group(1)).strip() == "Too short"
    assert "at least 10 characters" in html
    assert '<details class="objection" open' in html
    assert reload(ruled).state == DisputeState.RULED


@pytest.mark.parametrize("name", ["agree_ruling", "object_ruling"])
def test_staff_have_no_reply_to_give(name, client_for, ruled):
    response = client_for("sam").post(
        reverse(f"disputes:{name}", args=[ruled.pk]),
        {"revision": ruled.revision, "reason": OBJECTION},
    )
    assert response.status_code == 403
    assert reload(ruled).state == DisputeState.RULED


@pytest.mark.parametrize("who", ["carol", "dave"])
@pytest.mark.parametrize("name", ["agree_ruling", "object_ruling"])
def test_strangers_cannot_reply(who, name, client_for, ruled):
    response = client_for(who).post(
        reverse(f"disputes:{name}", args=[ruled.pk]),
        {"revision": ruled.revision, "reason": OBJECTION},
    )
    assert response.status_code == 404


@pytest.mark.parametrize("name", ["agree_ruling", "object_ruling"])
def test_reply_urls_refuse_get_and_anonymous(name, client, client_for, ruled):
    url = reverse(f"disputes:{name}", args=[ruled.pk])
    assert client.post(url, {"revision": ruled.revision}).status_code == 302  # to log in
    assert client_for("alice").get(url).status_code == 405


def test_a_stale_page_gets_the_conflict_page(client_for, ruled, bob):
    dispute_reply_ruling(dispute_id=ruled.pk, user=bob, agree=False, reason=OBJECTION)
    response = client_for("alice").post(
        reverse("disputes:agree_ruling", args=[ruled.pk]), {"revision": ruled.revision}
    )
    assert response.status_code == 409
    assert "This dispute changed" in response.content.decode()


@pytest.mark.parametrize("name", ["agree_ruling", "object_ruling"])
def test_replying_after_the_five_days_is_too_late(name, client_for, ruled):
    client = client_for("alice")
    with time_machine.travel(ruled.next_deadline_at + timedelta(minutes=1), tick=False):
        response = client.post(
            reverse(f"disputes:{name}", args=[ruled.pk]),
            {"revision": ruled.revision, "reason": OBJECTION},
        )
    assert response.status_code == 409
    assert "Too late" in response.content.decode()
    # The deadline's consequence was applied at once: silence counted as agreement.
    assert reload(ruled).state == DisputeState.RESOLVED


def test_the_timeline_tells_the_ruling_and_the_replies(client_for, ruled, alice, bob):
    dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=True)
    dispute_reply_ruling(dispute_id=ruled.pk, user=bob, agree=False, reason=OBJECTION)
    text = html_lib.unescape(client_for("alice").get(ruled.get_absolute_url()).content.decode())
    assert "sam ruled. Buyer and seller may each agree or object once within 5 days" in text
    assert "Alice agreed to the ruling." in text
    assert "Bob objected to the ruling: the case returns to the arbitrator" in text
    assert "The arbitrator must rule within" in text


def test_an_evidence_request_shows_to_the_side_asked_and_is_mentioned_to_the_other(
    client_for, escalated, sam
):
    note = "Please send a photo of the label inside the dress."
    dispute_request_evidence(dispute_id=escalated.pk, user=sam, party="seller", note=note, days=3)
    seller = html_lib.unescape(client_for("bob").get(escalated.get_absolute_url()).content.decode())
    assert "The arbitrator asks you for more evidence" in seller and note in seller
    assert 'href="#evidence-form"' in seller and 'id="evidence-form"' in seller
    buyer = html_lib.unescape(
        client_for("alice").get(escalated.get_absolute_url()).content.decode()
    )
    assert "The arbitrator asked the seller for more evidence" in buyer
    assert note not in buyer.split('id="evidence-request-')[1].split("</article>")[0]
    staff = html_lib.unescape(client_for("sam").get(escalated.get_absolute_url()).content.decode())
    assert note in staff

    # Answered by sending evidence: the request leaves the page.
    services.dispute_add_evidence(
        dispute_id=escalated.pk, user=escalated.store.owner, files=[photo("label.jpg")]
    )
    seller = client_for("bob").get(escalated.get_absolute_url()).content.decode()
    assert "asks you for more evidence" not in seller
