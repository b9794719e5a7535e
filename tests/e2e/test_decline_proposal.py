"""Declining in Chromium: the seller offers a coupon, the buyer declines it with a reason from
the dispute page, both timelines tell it, and the buyer, once she has proposed something
herself, is never offered a counter to her own proposal."""

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from disputes.models import Dispute
from disputes.services import DisputeRequest
from disputes.states import DisputeState, EventKind, Reason, RequestedOutcome
from orders.models import Order
from tests.e2e.test_buyer_orders import login
from tests.factories import open_dispute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = "A coupon is no use to me: I will not buy from this store again."


@pytest.fixture
def shots() -> Path:
    path = Path("/tmp/shots/negotiation-words")
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_buyer_declines_a_coupon_and_is_never_offered_a_counter_to_her_own(
    live_server, page: Page, browser: Browser, shots: Path
):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    order = Order.objects.get(buyer__username="alice", lines__colour="Red")
    red = order.lines.get(colour="Red")
    dispute = open_dispute(
        line=red,
        buyer=order.buyer,
        request=DisputeRequest(
            received=True,
            reason=Reason.NOT_AS_DESCRIBED,
            description="The dress is orange, not red as in the listing photos.",
            quantity=1,
            requested_outcome=RequestedOutcome.REFUND_ONLY,
            requested_amount=Decimal("45.00"),
        ),
    )
    url = f"{live_server.url}/disputes/{dispute.pk}/"

    # The seller offers a coupon worth 10.00, in his own browser session.
    seller = browser.new_context(viewport={"width": 1280, "height": 1100}, timezone_id="UTC")
    spage = seller.new_page()
    login(spage, live_server.url, "bob")
    spage.goto(url)
    expect(spage.locator("#actions")).to_contain_text("Decline the buyer's request")
    spage.get_by_text("Propose another solution").click()
    spage.get_by_label("Coupon for a next purchase").check()
    spage.get_by_label("Amount").fill("10.00")
    spage.get_by_label("Explain").fill("A coupon for your next order, with our apologies.")
    spage.get_by_role("button", name="Send the proposal").click()
    expect(spage.get_by_text("Your proposal was sent")).to_be_visible()

    # The buyer sees it on the table, and declines it with a reason.
    page.set_viewport_size({"width": 1280, "height": 1100})
    login(page, live_server.url, "alice")
    page.goto(url)
    expect(page.locator("#proposal")).to_contain_text("Coupon for a next purchase: 10.00 USD")
    expect(page.get_by_role("button", name="Accept the seller's proposal")).to_be_visible()
    page.get_by_text("Decline the seller's proposal").click()
    page.get_by_label("Why? (optional; the other side reads it)").fill(REASON)
    page.screenshot(path=str(shots / "1-buyer-declining.png"), full_page=True)
    page.get_by_role("button", name="Decline", exact=True).click()
    expect(page.get_by_text("You declined the seller's proposal")).to_be_visible()
    expect(page.locator("#proposal")).to_contain_text("Nothing at the moment.")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Alice Martin declined the seller's proposal.")
    expect(timeline).to_contain_text(REASON)
    # Nothing left to accept; she may propose on the empty table, not "counter".
    expect(page.get_by_role("button", name="Accept the seller's proposal")).to_have_count(0)
    expect(page.get_by_text("Make a counter-proposal")).to_have_count(0)
    expect(page.locator("#actions")).to_contain_text("Propose a solution")
    page.screenshot(path=str(shots / "2-buyer-declined.png"), full_page=True)

    # The seller's timeline tells him the same, in his words.
    spage.reload()
    expect(spage.locator("#timeline")).to_contain_text("Alice Martin declined your proposal.")
    expect(spage.locator("#timeline")).to_contain_text(REASON)
    expect(spage.locator("#proposal")).to_contain_text("Nothing at the moment.")
    expect(spage.locator("#actions")).to_contain_text("Propose a solution")
    spage.screenshot(path=str(shots / "3-seller-sees-the-decline.png"), full_page=True)
    seller.close()

    # She proposes a partial refund herself: no counter to it, no decline of it, for her.
    page.get_by_text("Propose a solution").click()
    page.get_by_label("Partial refund").check()
    page.get_by_label("Amount").fill("30.00")
    page.get_by_label("Explain").fill("30.00 back and I keep the dress.")
    page.get_by_role("button", name="Send the proposal").click()
    expect(page.get_by_text("Your proposal was sent")).to_be_visible()
    expect(page.locator("#proposal")).to_contain_text("Partial refund: 30.00 USD")
    expect(page.locator("#proposal")).to_contain_text("This is your proposal")
    expect(page.get_by_text("Make a counter-proposal")).to_have_count(0)
    expect(page.get_by_text("Decline the")).to_have_count(0)
    expect(page.get_by_role("link", name="Withdraw the dispute…")).to_be_visible()
    page.screenshot(path=str(shots / "4-buyer-own-proposal.png"), full_page=True)

    dispute = Dispute.objects.get(pk=dispute.pk)
    assert dispute.state == DisputeState.SELLER_RESPONDED
    assert (dispute.proposal_by, str(dispute.proposal_amount)) == ("buyer", "30.00")
    declined = dispute.events.get(kind=EventKind.DECLINED)
    assert (declined.actor.username, declined.note) == ("alice", REASON)
