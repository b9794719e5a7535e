"""Walk-through item 15: the demo (`manage.py seed_demo`, loaded by `make run`) is exactly what
README.md's "Demo logins" section says, an order paid from the account balance included.

Each claim of that section is quoted here as it is written (so rewording the README without
the demo, or the demo without the README, fails) and checked against the data the command
made.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.roles import is_arbitrator
from complaints.services import complaint_allowed
from demo.management.commands.seed_demo import DEMO_PASSWORD
from disputes.models import Dispute
from disputes.services import DisputeRequest, dispute_accept
from disputes.states import DeadlineKind, DisputeState, OutcomeType
from orders.models import Order
from orders.payment import PaymentMethod, refund_window
from orders.states import CompletionReason, OrderState
from refunds.models import Coupon, Refund
from tests.factories import open_dispute

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
SLACK = timedelta(minutes=5)  # the seed's "now" and the test's differ by the seeding time


def demo_section(*, as_written: bool = False) -> str:
    text = README.read_text()
    start = text.index("## Demo logins")
    section = text[start : text.index("\n## ", start + 1)]
    return section if as_written else " ".join(section.split())


def says(claim: str) -> None:
    assert " ".join(claim.split()) in demo_section(), f"README no longer says: {claim}"


def about(moment: datetime | None, ago: timedelta) -> bool:
    return moment is not None and abs(moment - (timezone.now() - ago)) < SLACK


@pytest.fixture
def demo():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def alices(**filters) -> Order:
    return Order.objects.get(buyer__username="alice", **filters)


def dispute_on(product: str) -> Dispute:
    return Dispute.objects.get(buyer__username="carol", line__product_name=product)


# --- the account balance ------------------------------------------------------------------------
def test_alice_has_an_order_paid_from_her_account_balance(demo, client):
    says("one shipped yesterday, paid from her marketplace account balance")
    order = alices(payment_method=PaymentMethod.ACCOUNT_BALANCE)
    assert order.state == OrderState.SHIPPED and about(order.shipped_at, timedelta(days=1))
    client.force_login(order.buyer)
    html = client.get(reverse("dashboards:my_orders")).content.decode()
    card = html.split(f'id="order-{order.number}"', 1)[1].split("</article>", 1)[0]
    assert "Marketplace account balance" in card
    assert "Open dispute" in card


def test_a_refund_of_the_balance_paid_order_is_back_the_same_day(
    demo, client, django_capture_on_commit_callbacks
):
    says(
        "(a refund of it is back on the balance the same day; by card it takes 3 to 15 "
        "business days)"
    )
    assert tuple(refund_window(PaymentMethod.ACCOUNT_BALANCE)) == (0, 0)
    assert tuple(refund_window(PaymentMethod.CARD)) == (3, 15)
    order = alices(payment_method=PaymentMethod.ACCOUNT_BALANCE)
    with django_capture_on_commit_callbacks(execute=True):
        dispute = open_dispute(
            line=order.lines.get(),
            buyer=order.buyer,
            request=DisputeRequest(
                received=True,
                reason="not_as_described",
                description="The wallet is black, not brown as pictured.",
                quantity=1,
                requested_outcome="refund_only",
                requested_amount=Decimal("28.00"),
            ),
        )
    with django_capture_on_commit_callbacks(execute=True):
        dispute_accept(dispute_id=dispute.pk, user=order.store.owner)
    refund = Refund.objects.get(dispute=dispute)
    assert refund.method == PaymentMethod.ACCOUNT_BALANCE
    assert refund.expected_from == refund.expected_by == refund.sent_at.date()
    client.force_login(order.buyer)
    page = client.get(reverse("disputes:detail", args=[dispute.pk])).content.decode()
    assert "Marketplace account balance" in page and "the same day" in page


# --- the logins ---------------------------------------------------------------------------------
def test_the_logins_are_the_ones_the_readme_lists(demo):
    says(f"(password for all: `{DEMO_PASSWORD}`)")
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", demo_section(as_written=True), re.M)
    assert [name for name, _ in rows] == ["alice", "carol", "bob", "dave", "sam"]
    User = get_user_model()
    for name, who in rows:
        user = User.objects.get(username=name)
        assert user.check_password(DEMO_PASSWORD), name
        if "owns" in who:
            assert user.store.name == who.split("owns", 1)[1].strip(), name
        else:
            assert not hasattr(user, "store") or user.store is None, name
    sam = User.objects.get(username="sam")
    assert "staff arbitrator" in dict(rows)["sam"]
    assert sam.is_staff and is_arbitrator(sam)


def test_the_logins_are_printed_again_at_every_start(demo):
    says("`make run` loads these once (password for all")
    says("and prints them again at every start")
    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert "already loaded" in again.getvalue()
    for name in ("alice", "carol", "bob", "dave", "sam"):
        assert re.search(rf"^\s+{name}\b", again.getvalue(), re.M), name
    assert DEMO_PASSWORD in again.getvalue()
    assert get_user_model().objects.filter(username="alice").count() == 1


# --- Alice's orders -----------------------------------------------------------------------------
def test_alices_seven_orders_are_paid_each_a_different_way(demo):
    says("Alice's seven orders, each paid a different way")
    methods = list(Order.objects.filter(buyer__username="alice").values_list("payment_method"))
    assert len(methods) == 7
    assert {method for (method,) in methods} == set(PaymentMethod.values)


def test_alices_orders_are_the_ones_described(demo):
    day = timedelta(days=1)
    now = timezone.now()

    says("one just paid by WebMoney (not shipped yet, so not disputable)")
    paid = alices(state=OrderState.PAID)
    assert paid.payment_method == PaymentMethod.WEBMONEY and about(paid.placed_at, timedelta(0))

    says("the two-dress order, paid by card (two lines, one can be disputed without the other)")
    dresses = alices(lines__product_name="Summer dress", lines__colour="Red")
    assert dresses.payment_method == PaymentMethod.CARD and dresses.lines.count() == 2
    assert dresses.state == OrderState.SHIPPED

    says("one a day before its protection ends, paid by bank transfer")
    ending = alices(payment_method=PaymentMethod.BANK_TRANSFER)
    assert ending.state == OrderState.SHIPPED
    assert abs(ending.protection_ends_at - (now + day)) < SLACK

    says("one completed 10 days ago (inside the 15-day post-close window), paid by Maestro")
    assert timedelta(days=15) == settings.PORTAL_POST_CLOSE_WINDOW
    recent = alices(payment_method=PaymentMethod.MAESTRO)
    assert recent.state == OrderState.COMPLETED and about(recent.completed_at, 10 * day)
    assert recent.dispute_window(now=now).is_open

    says(
        "one completed 20 days ago when protection ran out (window closed, complaints only), "
        "paid by QIWI"
    )
    closed = alices(payment_method=PaymentMethod.QIWI)
    assert closed.state == OrderState.COMPLETED and about(closed.completed_at, 20 * day)
    assert closed.completion_reason == CompletionReason.PROTECTION_EXPIRED
    assert not closed.dispute_window(now=now).is_open
    assert complaint_allowed(order=closed, now=now)

    says("one from Dave's store with a 90-day protection, paid by Western Union.")
    daves = alices(store__name="Dave's Gadgets")
    assert daves.protection_days == 90 and daves.payment_method == PaymentMethod.WESTERN_UNION


# --- Carol's ------------------------------------------------------------------------------------
def test_carols_disputes_are_the_ones_described(demo):
    day = timedelta(days=1)
    now = timezone.now()

    says("the silk blouse, opened two days ago, waits for Bob's answer")
    blouse = dispute_on("Silk blouse")
    assert blouse.state == DisputeState.OPEN and about(blouse.opened_at, 2 * day)
    assert blouse.deadline_kind == DeadlineKind.SELLER_RESPONSE
    assert blouse.store.owner.username == "bob"

    says(
        "the linen trousers, whose return Bob accepted two days ago, wait for her to ship them "
        "back (Bob's return address and a 10-day clock)"
    )
    assert 10 * day == settings.PORTAL_RETURN_SHIPMENT_WINDOW
    trousers = dispute_on("Linen trousers")
    assert trousers.state == DisputeState.AWAITING_RETURN
    assert trousers.deadline_kind == DeadlineKind.RETURN_SHIPMENT
    assert abs(trousers.next_deadline_at - (now - 2 * day + 10 * day)) < SLACK
    assert trousers.store.return_address

    says("Dave agreed three days ago to send her a replacement phone case (a 7-day clock)")
    assert 7 * day == settings.PORTAL_REPLACEMENT_SHIPMENT_WINDOW
    case = dispute_on("Phone case")
    assert case.state == DisputeState.AWAITING_REPLACEMENT and case.store.owner.username == "dave"
    assert abs(case.next_deadline_at - (now - 3 * day + 7 * day)) < SLACK

    says(
        "the ceramic mugs got a partial refund by card six days ago (8.00 of 24.00 USD: the "
        "refund tracker with its arrival window)"
    )
    mugs = dispute_on("Ceramic mug")
    assert mugs.outcome_type == OutcomeType.PARTIAL_REFUND
    refund = Refund.objects.get(dispute=mugs)
    assert refund.amount == Decimal("8.00") and refund.currency == "USD"
    assert refund.method == PaymentMethod.CARD and about(refund.sent_at, 6 * day)
    assert refund.expected_from < refund.expected_by
    assert mugs.line.amount_paid == Decimal("24.00")

    says("the straw hat ended with a coupon.")
    hat = dispute_on("Straw sun hat")
    assert hat.state == DisputeState.RESOLVED and hat.outcome_type == OutcomeType.COUPON
    assert Coupon.objects.filter(dispute=hat).exists()

    says("Three of her cases are with the arbitrators: the wool coat (escalated 3 days ago)")
    with_arbitrators = Dispute.objects.filter(
        buyer__username="carol", state__in=[DisputeState.ESCALATED, DisputeState.RULED]
    )
    assert with_arbitrators.count() == 3
    coat = dispute_on("Wool coat")
    assert coat.state == DisputeState.ESCALATED and about(coat.escalated_at, 3 * day)

    says("the leather boots (19 days: past the 15-day target)")
    assert 15 * day == settings.PORTAL_ARBITRATION_TARGET
    boots = dispute_on("Leather boots")
    assert boots.state == DisputeState.ESCALATED and about(boots.escalated_at, 19 * day)
    assert boots.arbitration_target_at < now

    says(
        "Dave's smart watch, which Sam ruled two days ago (a partial refund) and which waits "
        "for both sides' replies."
    )
    watch = dispute_on("Smart watch")
    assert watch.state == DisputeState.RULED and about(watch.ruled_at, 2 * day)
    assert watch.ruling_type == OutcomeType.PARTIAL_REFUND
    assert watch.ruled_by.username == "sam" and watch.store.owner.username == "dave"
    assert watch.buyer_reply == "" and watch.seller_reply == ""

    says("Her order of two USB-C chargers from Dave's store, paid yesterday, is not shipped yet.")
    chargers = Order.objects.get(buyer__username="carol", lines__product_name="USB-C charger")
    assert chargers.state == OrderState.PAID and chargers.store.owner.username == "dave"
    assert chargers.lines.get().quantity == 2 and about(chargers.placed_at, day)
    # Nothing else: every order of carol's is one of the above.
    described = {"Silk blouse", "Linen trousers", "Phone case", "Ceramic mug", "Straw sun hat"}
    described |= {"Wool coat", "Leather boots", "Smart watch", "USB-C charger"}
    products = set(
        Order.objects.filter(buyer__username="carol").values_list("lines__product_name", flat=True)
    )
    assert products == described


def test_carol_never_sees_alices_orders(demo, client):
    says("her own orders, never alice's")
    client.force_login(get_user_model().objects.get(username="carol"))
    html = client.get(reverse("dashboards:my_orders")).content.decode()
    for order in Order.objects.filter(buyer__username="alice"):
        assert order.number not in html
