"""Every page of the buyer, the seller and the arbitration desk, in Chromium, checked by
axe-core against WCAG 2.1 AA (tags wcag2a, wcag2aa, wcag21a, wcag21aa) in English and in
Russian, 360 and 1280 pixels wide: no serious or critical violation. At 360 pixels the
buyer's and the seller's pages never scroll sideways (a table may scroll inside its own
`overflow-x: auto` wrapper only). Screenshots of key pages at 360 pixels in Russian go to
/tmp/shots/a11y/.

Then the keyboard alone: log in, Tab to the language switcher and Enter; Tab through a whole
dispute page (every control once, each showing where the focus is, and out again: no trap);
skip the menu, open the decline form, type a reason, send it. And the signals: late,
overdue, over the limit and time is up are words, not a colour alone; countdowns are timers
outside any live region; a system that prefers dark gets the same readable light pages."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import BadRequest, PermissionDenied
from django.core.management import call_command
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import Browser, BrowserContext, Page, expect

from complaints.models import Complaint
from complaints.services import complaint_open
from demo.management.commands.seed_demo import DEMO_PASSWORD
from disputes.models import Dispute
from disputes.services import DisputeRequest, dispute_propose
from disputes.states import OutcomeType, Reason, RequestedOutcome
from evidence.models import Evidence
from orders.models import Order, OrderLine
from refunds.models import Refund
from tests.factories import open_dispute, photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/shots/a11y"
LANGUAGES = ("en", "ru")
WIDTHS = (360, 1280)
HEIGHT = 800
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
BLOCKING = {"serious", "critical"}
# The page's width; what sticks out of the screen; and every box that scrolls sideways inside
# the page, allowed only for a table's own wrapper with `overflow-x: auto`.
FIT = """() => {
    const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + (typeof el.className === 'string' && el.className.trim()
            ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    const outside = [], boxes = [], tables = [];
    for (const el of document.body.querySelectorAll('*')) {
        const box = el.getBoundingClientRect();
        if (box.width && box.right > window.innerWidth + 1) outside.push(name(el));
        const style = getComputedStyle(el);
        if (el.scrollWidth > el.clientWidth + 1 && ['auto', 'scroll'].includes(style.overflowX)) {
            const wrapsTable = el.children.length === 1 && el.children[0].tagName === 'TABLE';
            (wrapsTable && style.overflowX === 'auto' ? tables : boxes).push(name(el));
        }
    }
    return {
        width: document.documentElement.scrollWidth,
        outside: outside.slice(0, 8), boxes, tables,
    };
}"""


@dataclass
class Visit:
    """A page to check: an address, or steps that end on it (a refused form, an error)."""

    name: str
    url: str = ""
    go: Callable[[Page], None] | None = None
    status: int | None = None  # the answer expected when it is not 200
    shot: bool = False  # a screenshot at 360 pixels in Russian


class Walk:
    """Visits pages in one browser context per persona and collects what axe and the width
    check find."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.axe = Axe()
        self.checks = 0
        self.pages: set[str] = set()
        self.found: list[str] = []
        self.overflows: list[str] = []

    def check(self, page: Page, visit: Visit, *, persona: str, lang: str, width: int) -> None:
        if visit.go is not None:
            visit.go(page)
        else:
            answer = page.goto(self.base + visit.url)
            assert answer is not None
            assert answer.status == (visit.status or 200), f"{visit.url}: {answer.status}"
        page.wait_for_load_state("load")
        where = f"{persona}:{visit.name} [{lang}, {width} px]"
        assert page.evaluate("document.documentElement.lang") == lang, (where, page.url)
        # What a person opens (the decline and propose forms, "It did not arrive") is checked too.
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        results = self.axe.run(page, options=AXE_OPTIONS)
        for violation in results.response["violations"]:
            if violation["impact"] in BLOCKING:
                nodes = "; ".join(
                    f"{node['target']} {node['html'][:120]}" for node in violation["nodes"][:3]
                )
                self.found.append(f"{where} {violation['id']} ({violation['impact']}): {nodes}")
        # The buyer's and the seller's pages (not Django admin's) fit a phone.
        if width == 360 and not page.url.startswith(f"{self.base}/admin/"):
            fit = page.evaluate(FIT)
            if fit["width"] > width or fit["boxes"]:
                self.overflows.append(f"{where} {fit}")
        if visit.shot and width == 360 and lang == "ru":
            os.makedirs(SHOTS, exist_ok=True)
            page.screenshot(path=f"{SHOTS}/{persona}-{visit.name}.png", full_page=True)
        self.checks += 1
        self.pages.add(f"{persona}:{visit.name}")


def switch_language(page: Page, lang: str) -> None:
    """The switcher on every page, as a person uses it."""
    page.locator(f".language-switch button[value={lang}]").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def portal_login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def admin_login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def situations() -> dict:
    """On top of the demo: a proposal on the table for alice (accept, counter, decline), a
    complaint of hers that staff answer in admin."""
    red = OrderLine.objects.get(order__buyer__username="alice", colour="Red")
    offered = open_dispute(
        line=red,
        buyer=red.order.buyer,
        request=DisputeRequest(
            received=True,
            reason=Reason.NOT_AS_DESCRIBED,
            description="The dress is orange, not red as in the listing photos.",
            quantity=1,
            requested_outcome=RequestedOutcome.REFUND_ONLY,
            requested_amount=Decimal("45.00"),
        ),
    )
    dispute_propose(
        dispute_id=offered.pk,
        user=red.order.store.owner,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("15.00"),
        note="The colour varies with the light; I can refund 15.00.",
    )
    tote = Order.objects.get(buyer__username="alice", lines__product_name="Canvas tote bag")
    complaint_open(
        order=tote,
        buyer=tote.buyer,
        body="The seller never answered my messages about the broken strap.",
        files=[photo()],
    )

    def dispute(product: str) -> int:
        return Dispute.objects.get(line__product_name=product).pk

    def order(product: str) -> str:
        return Order.objects.get(lines__product_name=product).number

    return {
        "offered": offered.pk,
        "blue": OrderLine.objects.get(order__buyer__username="alice", colour="Blue").pk,
        "blouse": dispute("Silk blouse"),
        "trousers": dispute("Linen trousers"),
        "phone_case": dispute("Phone case"),
        "mugs": dispute("Ceramic mug"),
        "hat": dispute("Straw sun hat"),
        "coat": dispute("Wool coat"),
        "boots": dispute("Leather boots"),
        "watch": dispute("Smart watch"),
        "wallet_order": order("Leather wallet"),
        "dress_order": red.order.number,
        "tote_order": tote.number,
        "shirt_order": order("Linen shirt"),
        "complaint": Complaint.objects.get().pk,
        "refund": Refund.objects.order_by("pk").first().pk,
        "evidence": Evidence.objects.order_by("pk").first().pk,
        "coat_order": Dispute.objects.get(pk=dispute("Wool coat")).order_id,
    }


def test_every_page_passes_axe_in_both_languages_at_both_widths(
    live_server, browser: Browser, monkeypatch
):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    ids = situations()
    base = live_server.url
    walk = Walk(base)
    alice = get_user_model().objects.get(username="alice")
    reset_link = (
        f"/password/reset/{urlsafe_base64_encode(force_bytes(alice.pk))}/"
        f"{default_token_generator.make_token(alice)}/"
    )

    def failed_login(page: Page) -> None:
        page.goto(f"{base}/login/")
        page.locator("input[name=username]").fill("nobody")
        page.locator("input[name=password]").fill("wrong password")
        page.locator("main form button[type=submit]").click()
        expect(page.locator("p.messages[role=alert]")).to_be_visible()

    def raising(error: Exception, status: int) -> Callable[[Page], None]:
        """The portal's error page, from a view that fails this way."""

        def go(page: Page) -> None:
            def fail(**kwargs):
                raise error

            with monkeypatch.context() as patch:
                patch.setattr("dashboards.views.buyer_order_rows", fail)
                answer = page.goto(f"{base}/orders/")
            assert answer is not None and answer.status == status

        return go

    def refused_form(page: Page) -> None:
        """A form sent after its token went away (the page was open too long)."""
        page.goto(f"{base}/orders/{ids['wallet_order']}/confirm-receipt/")
        page.context.clear_cookies(name="csrftoken")
        page.locator("main form button[type=submit]").click()
        expect(page.locator("#error-csrf")).to_be_visible()

    def out_of_date(page: Page) -> None:
        """A form sent from a page the dispute has moved on from: 409, its state now."""
        page.goto(f"{base}/disputes/{ids['offered']}/")
        page.locator("#decline-form input[name=revision]").evaluate("el => el.value = '0'")
        page.locator("#decline").evaluate("el => el.open = true")
        page.locator("#decline-form button[type=submit]").click()
        expect(page.locator("article.conflict")).to_be_visible()

    def open_with_errors(page: Page) -> None:
        """The questionnaire sent empty: every field says what is missing."""
        page.goto(f"{base}/lines/{ids['blue']}/dispute/")
        with page.expect_navigation():
            page.locator("main form").evaluate("form => form.submit()")
        expect(page.locator(".has-error").first).to_be_visible()

    def ship_with_errors(page: Page) -> None:
        page.goto(f"{base}/seller/orders/{ids['shirt_order']}/ship/")
        page.locator("main form button[type=submit]").click()
        expect(page.locator("main .error-text").first).to_be_visible()

    d = ids
    walks: dict[str, list[Visit]] = {
        "anonymous": [
            Visit("login", "/login/", shot=True),
            Visit("login-failed", go=failed_login),
            Visit("password-reset", "/password/reset/"),
            Visit("password-reset-sent", "/password/reset/sent/"),
            Visit("password-reset-confirm", reset_link),
            Visit("password-reset-bad-link", "/password/reset/MQ/bad-token/"),
            Visit("password-reset-complete", "/password/reset/done/"),
            Visit("404", "/no-such-page/", status=404),
            Visit("admin-login", "/admin/login/"),
        ],
        "alice": [
            Visit("my-orders", "/orders/", shot=True),
            Visit("my-disputes", "/disputes/"),
            Visit("dispute-proposal", f"/disputes/{d['offered']}/", shot=True),
            Visit("withdraw", f"/disputes/{d['offered']}/withdraw/"),
            Visit("dispute-conflict", go=out_of_date),
            Visit("open-dispute", f"/lines/{d['blue']}/dispute/", shot=True),
            Visit("open-dispute-errors", go=open_with_errors),
            Visit("confirm-receipt", f"/orders/{d['wallet_order']}/confirm-receipt/"),
            Visit("confirm-receipt-held", f"/orders/{d['dress_order']}/confirm-receipt/"),
            Visit("complain", f"/orders/{d['tote_order']}/complain/"),
            Visit("complaints", "/complaints/"),
            Visit("notifications", "/notifications/"),
            Visit("settings", "/settings/"),
            Visit("password-change", "/password/change/"),
            Visit("password-change-done", "/password/change/done/"),
            Visit("403", go=raising(PermissionDenied(), 403)),
            Visit("400", go=raising(BadRequest(), 400)),
            Visit("500", go=raising(RuntimeError("a crash"), 500)),
            Visit("csrf", go=refused_form),
        ],
        "carol": [
            Visit("my-orders", "/orders/"),
            Visit("my-disputes", "/disputes/", shot=True),
            Visit("dispute-open", f"/disputes/{d['blouse']}/"),
            Visit("dispute-return", f"/disputes/{d['trousers']}/", shot=True),
            Visit("dispute-replacement", f"/disputes/{d['phone_case']}/"),
            Visit("dispute-refund", f"/disputes/{d['mugs']}/", shot=True),
            Visit("dispute-coupon", f"/disputes/{d['hat']}/"),
            Visit("dispute-escalated", f"/disputes/{d['coat']}/"),
            Visit("dispute-ruled", f"/disputes/{d['watch']}/", shot=True),
        ],
        "bob": [
            Visit("seller-dashboard", "/seller/", shot=True),
            Visit("store-disputes", "/seller/disputes/", shot=True),
            Visit("store-disputes-escalated", "/seller/disputes/?state=escalated"),
            Visit("ship-order", f"/seller/orders/{d['shirt_order']}/ship/"),
            Visit("ship-order-errors", go=ship_with_errors),
            Visit("dispute-to-answer", f"/disputes/{d['blouse']}/", shot=True),
            Visit("dispute-his-proposal", f"/disputes/{d['offered']}/"),
            Visit("dispute-return", f"/disputes/{d['trousers']}/"),
            Visit("dispute-escalated", f"/disputes/{d['boots']}/"),
            Visit("notifications", "/notifications/"),
        ],
        "dave": [
            Visit("seller-dashboard", "/seller/"),
            Visit("dispute-ship-replacement", f"/disputes/{d['phone_case']}/"),
            Visit("dispute-ruled", f"/disputes/{d['watch']}/"),
        ],
        "sam": [
            Visit("admin-index", "/admin/"),
            Visit("queue", "/admin/disputes/dispute/?queue=1"),
            Visit("disputes", "/admin/disputes/dispute/"),
            Visit("case-escalated", f"/admin/disputes/dispute/{d['coat']}/change/"),
            Visit("case-late", f"/admin/disputes/dispute/{d['boots']}/change/"),
            Visit("case-ruled", f"/admin/disputes/dispute/{d['watch']}/change/"),
            Visit("case-return", f"/admin/disputes/dispute/{d['trousers']}/change/"),
            Visit("events", "/admin/disputes/disputeevent/"),
            Visit("refunds", "/admin/refunds/refund/"),
            Visit("refund", f"/admin/refunds/refund/{d['refund']}/change/"),
            Visit("complaints", "/admin/complaints/complaint/"),
            Visit("complaint", f"/admin/complaints/complaint/{d['complaint']}/change/"),
            Visit("evidence", "/admin/evidence/evidence/"),
            Visit("evidence-item", f"/admin/evidence/evidence/{d['evidence']}/change/"),
            Visit("orders", "/admin/orders/order/"),
            Visit("order", f"/admin/orders/order/{d['coat_order']}/change/"),
            Visit("dispute-page", f"/disputes/{d['coat']}/"),
            Visit("password-change", "/admin/password_change/"),
        ],
    }

    for persona, visits in walks.items():
        context: BrowserContext = browser.new_context(
            viewport={"width": WIDTHS[-1], "height": HEIGHT}, timezone_id="UTC", locale="en-GB"
        )
        page = context.new_page()
        if persona == "sam":
            admin_login(page, base, persona)
        elif persona != "anonymous":
            portal_login(page, base, persona)
        for lang in LANGUAGES:
            if persona == "sam":  # admin has no switcher: the person's saved language
                get_user_model().objects.filter(username=persona).update(language=lang)
            else:
                page.goto(f"{base}/login/" if persona == "anonymous" else f"{base}/settings/")
                if page.locator("html").get_attribute("lang") != lang:
                    switch_language(page, lang)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": HEIGHT})
                for visit in visits:
                    walk.check(page, visit, persona=persona, lang=lang, width=width)
        context.close()

    print(
        f"axe: {len(walk.pages)} pages × {len(LANGUAGES)} languages × {len(WIDTHS)} widths = "
        f"{walk.checks} checks, {len(walk.found)} serious or critical"
    )
    assert walk.checks == len(walk.pages) * len(LANGUAGES) * len(WIDTHS)
    assert walk.found == [], "\n".join(walk.found)
    assert walk.overflows == [], "\n".join(walk.overflows)


# --- the keyboard alone ---------------------------------------------------------------------
# The focused element, and whether it shows the portal's focus ring (a 3-pixel outline).
FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    if (!el.dataset.tabStop) {
        el.dataset.tabStop = String(document.querySelectorAll('[data-tab-stop]').length);
    }
    const style = getComputedStyle(el);
    return {
        stop: el.dataset.tabStop,
        tag: el.tagName.toLowerCase(),
        text: (el.innerText || el.value || el.name || '').trim().slice(0, 40),
        ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
    };
}"""


def tab_to(page: Page, selector: str, limit: int = 60) -> list[dict]:
    """Press Tab until the element is focused; every stop on the way shows its focus."""
    target = page.locator(selector)
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is not None:
            stops.append(focused)
            assert focused["ring"], f"no visible focus on {focused}"
        if target.evaluate("el => el === document.activeElement"):
            return stops
    raise AssertionError(f"Tab never reached {selector}: {stops}")


def test_keyboard_alone_switches_language_and_declines_a_proposal(live_server, page: Page):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    ids = situations()
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": HEIGHT})

    # Log in: the username has the focus, Tab to the password, Enter sends.
    page.goto(f"{base}/login/")
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("My orders")

    # Tab to the language switcher (through the menu, each stop showing its focus), Enter.
    tab_to(page, ".language-switch button[value=ru]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("h1")).to_have_text("Мои заказы")
    expect(page.locator(".language-switch button[value=ru]")).to_have_attribute(
        "aria-current", "true"
    )

    # No trap: Tab walks the whole dispute page, every control once, and leaves it.
    page.goto(f"{base}/disputes/{ids['offered']}/")
    seen: list[str] = []
    for _ in range(200):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:  # past the last control: the focus left the page
            break
        assert focused["stop"] not in seen, f"the focus came back to {focused} before the end"
        assert focused["ring"], f"no visible focus on {focused}"
        seen.append(focused["stop"])
    else:
        raise AssertionError("Tab never left the page")
    last = page.locator("main button, main a, main input, main textarea, main summary").last
    assert last.get_attribute("data-tab-stop") is not None, "the last control was never reached"

    # The first Tab offers to skip the menu; Enter, and the next Tab is in the page's content.
    # Then decline the seller's proposal: Tab to "Decline…", Enter opens it, Tab to the
    # reason, type, Tab to the button, Enter sends.
    page.goto(f"{base}/disputes/{ids['offered']}/")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    stops = tab_to(page, "#decline summary")
    assert page.locator("main").evaluate(
        "(main, stop) => main.contains(document.querySelector(`[data-tab-stop='${stop}']`))",
        stops[0]["stop"],
    ), stops[0]
    page.keyboard.press("Enter")
    expect(page.locator("#decline")).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    reason = page.locator("#decline-form textarea")
    expect(reason).to_be_focused()
    page.keyboard.type("Fifteen is too little for a dress of the wrong colour.")
    page.keyboard.press("Tab")
    expect(page.locator("#decline-form button[type=submit]")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#proposal.proposal-none")).to_be_visible()
    offered = Dispute.objects.get(pk=ids["offered"])
    assert offered.proposal_type in ("", None), offered.proposal_type
    assert offered.events.filter(kind="declined").exists()


def test_warnings_are_words_and_countdowns_stay_quiet(live_server, browser: Browser):
    """Late, overdue, over the limit, time is up: each in words, not a colour alone; every
    countdown a timer that is not a live region. And a system that prefers dark gets the
    same light, readable pages."""
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    ids = situations()
    base = live_server.url
    warnings = """() => [...document.querySelectorAll(
        '.clock-past, .case-clock-ended, .arbitration-late, .arbitration-over, .badge.overdue,'
        + ' .overdue-flag, .refund-failed, .badge.refund-failed')].map(el => el.innerText.trim())"""
    # Each countdown: its role, its aria-live, and whether a live region holds it.
    timers = """() => [...document.querySelectorAll('[data-countdown]')].map(el => [
        el.getAttribute('role'), el.getAttribute('aria-live'),
        !!el.parentElement.closest(
            '[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]'),
    ])"""

    context = browser.new_context(
        viewport={"width": 1280, "height": HEIGHT}, timezone_id="UTC", color_scheme="dark"
    )
    page = context.new_page()
    admin_login(page, base, "sam")
    page.goto(f"{base}/admin/disputes/dispute/?queue=1")
    late = page.evaluate(warnings)
    assert late and all(any(ch.isalpha() for ch in word) for word in late), late
    expect(page.locator("#result_list tbody tr", has_text="Leather boots")).to_contain_text("late")
    context.close()

    context = browser.new_context(
        viewport={"width": 360, "height": HEIGHT}, timezone_id="UTC", color_scheme="dark"
    )
    page = context.new_page()
    portal_login(page, base, "carol")
    axe = Axe()
    for url in ("/orders/", "/disputes/", f"/disputes/{ids['mugs']}/", "/notifications/"):
        page.goto(base + url)
        found = page.evaluate(warnings)
        assert all(any(ch.isalpha() for ch in word) for word in found), (url, found)
        for timer in page.evaluate(timers):
            assert timer == ["timer", "off", False], (url, timer)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(255, 255, 255)", (url, background)
        results = axe.run(page, options=AXE_OPTIONS)
        blocking = [v["id"] for v in results.response["violations"] if v["impact"] in BLOCKING]
        assert blocking == [], (url, blocking)
    context.close()
