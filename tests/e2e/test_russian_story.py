"""The two-dress story in Russian, in Chromium: a buyer whose browser speaks Russian and
lives in Novosibirsk (UTC+7) and a seller who chose English.

The buyer (alice) reads her orders in Russian, types a description in Cyrillic and is told
at once, under the field and in Russian, that it must be in English, with the letters named
as the server names them (then corrects it); she opens a dispute on the blue dress asking for
"30,00" typed the Russian way. The seller (bob, whose saved English wins over his browser's
Russian) proposes a partial refund of 20.00; she sees "20,00 USD" and accepts, and the
refund tracker is in Russian. Every date she reads is Novosibirsk time ("HH:MM +07"), every
amount has a decimal comma, and each step's mail is in Russian for her and in English for
him.

Screenshots go to /tmp/shots/ru-walk/ (``$RU_WALK_SHOTS`` to change it)."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone, translation
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from demo.management.commands.seed_demo import DEMO_PASSWORD
from disputes.forms import OpenDisputeForm
from disputes.models import Dispute
from disputes.states import DeadlineKind, DisputeState
from disputes.validators import validate_latin_script
from orders.models import Order
from orders.templatetags.clocks import day
from refunds.models import Refund

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZONE = ZoneInfo("Asia/Novosibirsk")
CYRILLIC = re.compile(r"[А-яЁё]")
# Typed in Russian first: refused as she types, before any file is chosen or anything sent.
RUSSIAN_TEXT = "Платье порвано по шву"
ENGLISH_TEXT = "The blue dress has a torn seam at the hem."


def ru(msgid: str) -> str:
    with translation.override("ru"):
        return translation.gettext(msgid)


def en(msgid: str) -> str:
    with translation.override("en"):
        return translation.gettext(msgid)


def novosibirsk(moment: datetime) -> str:
    """'21:00 +07': the time of day a reader in Novosibirsk is shown, with its zone."""
    return f"{moment.astimezone(ZONE):%H:%M} +07"


def script_refusal(text: str) -> str:
    """What the server says, in Russian, of a description in another script."""
    with translation.override("ru"), pytest.raises(ValidationError) as refused:
        validate_latin_script(text)
    return refused.value.messages[0]


@pytest.fixture
def shots() -> Path:
    path = Path(os.environ.get("RU_WALK_SHOTS", "/tmp/shots/ru-walk"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_in(page: Page, base: str, username: str, language: str) -> None:
    """The log-in page is in the browser's language (nobody is known yet)."""
    say = ru if language == "ru" else en
    page.goto(f"{base}/login/")
    page.get_by_label(say("Username")).fill(username)
    page.get_by_label(say("Password")).fill(DEMO_PASSWORD)
    page.get_by_role("button", name=say("Log in"), exact=True).click()


def new_mail(seen: int) -> tuple[int, dict[str, list]]:
    """The mails sent since ``seen``, by recipient."""
    by_person: dict[str, list] = {}
    for message in mail.outbox[seen:]:
        for address in message.to:
            by_person.setdefault(address, []).append(message)
    return len(mail.outbox), by_person


def assert_mail_languages(by_person: dict[str, list], step: str) -> None:
    """Alice's mail in Russian (her dates in Novosibirsk time), Bob's in English."""
    assert by_person.get("alice@example.com"), f"{step}: no mail for the buyer"
    assert by_person.get("bob@example.com"), f"{step}: no mail for the seller"
    for message in by_person["alice@example.com"]:
        html = message.alternatives[0][0]
        assert CYRILLIC.search(message.subject), f"{step}: {message.subject!r}"
        assert message.body.startswith("Здравствуйте") or CYRILLIC.search(
            message.body.splitlines()[0]
        ), f"{step}: {message.body[:200]!r}"
        assert (
            ru("See the dispute") in message.body
            or ru("See the dispute and what you can do now") in message.body
        ), f"{step}: {message.body!r}"
        assert CYRILLIC.search(html), step
        assert " UTC" not in message.body, f"{step}: a date not in her zone: {message.body!r}"
    for message in by_person["bob@example.com"]:
        html = message.alternatives[0][0]
        assert not CYRILLIC.search(message.subject + message.body), (
            f"{step}: Russian in the English seller's mail: {message.body!r}"
        )
        assert not CYRILLIC.search(html), f"{step}: Russian in the seller's HTML mail"
        assert message.body.startswith("Hello "), f"{step}: {message.body[:200]!r}"


def test_the_two_dress_story_in_russian(live_server, browser: Browser, shots: Path, tmp_path: Path):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    order = Order.objects.get(buyer__username="alice", lines__colour="Blue")
    red, blue = order.lines.order_by("id")
    bob = User.objects.get(username="bob")
    bob.language = "en"
    bob.save()
    alice = User.objects.get(username="alice")
    assert (alice.language, alice.time_zone) == ("", ""), "her browser decides"
    mail.outbox.clear()

    buyer = browser.new_context(
        locale="ru-RU", timezone_id="Asia/Novosibirsk", viewport={"width": 1280, "height": 1000}
    )
    page = buyer.new_page()

    # 1. Her orders, in Russian, her dates in Novosibirsk time.
    log_in(page, live_server.url, "alice", "ru")
    expect(page.get_by_role("heading", name=ru("My orders"))).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    alice.refresh_from_db()
    assert alice.time_zone == "Asia/Novosibirsk", "the zone her browser reported is kept"
    card = page.locator(f"#order-{order.number}")
    expect(card).to_contain_text(novosibirsk(order.placed_at))
    expect(card).to_contain_text(novosibirsk(order.protection_ends_at))
    expect(card).to_contain_text("45,00")
    expect(card).not_to_contain_text("45.00")
    expect(card).not_to_contain_text(" UTC")
    expect(card.get_by_role("button", name=ru("Open dispute"))).to_have_count(2)
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "1-buyer-orders.png"), full_page=True)

    # 2. The questionnaire: a description in Cyrillic is refused as she types.
    page.locator(f"#line-{blue.pk}").get_by_role("button", name=ru("Open dispute")).click()
    expect(page.get_by_role("heading", name=ru("Open a dispute"))).to_be_visible()
    opened_at = page.url
    page.get_by_label(ru("Yes, it arrived")).check()
    page.get_by_label(ru("What is the problem?")).select_option("not_as_described")
    description = page.get_by_label(ru("Describe the problem (in English)"))
    note = page.locator("#description-script")
    expect(note).to_have_attribute("aria-live", "polite")
    expect(note).to_be_empty()
    # The help text says the rule in her language (whatever the catalogue says for it: a
    # new string, English until its translation is merged), and the field points to it and
    # to the live message.
    with translation.override("ru"):
        help_text = str(OpenDisputeForm(line=blue).fields["description"].help_text)
    assert help_text
    expect(page.locator("#id_description_helptext")).to_have_text(help_text)
    page.evaluate(
        """() => {
            window.liveChanges = [];
            new MutationObserver(() => window.liveChanges.push(
                document.getElementById('description-script').textContent
            )).observe(document.getElementById('description-script'),
                       {childList: true, characterData: true, subtree: true});
        }"""
    )
    description.press_sequentially(RUSSIAN_TEXT, delay=20)
    expected = script_refusal(RUSSIAN_TEXT)
    assert "(Cyrillic)" in expected and "“П” “л” “а”" in expected
    expect(note).to_have_text(expected)
    expect(note).to_contain_text("Опишите проблему по-английски.")
    assert page.url == opened_at, "nothing was sent"
    assert page.evaluate("document.querySelector('input[name=evidence]').files.length") == 0
    described = description.get_attribute("aria-describedby") or ""
    assert set(described.split()) >= {"description-script", "id_description_helptext"}
    box = note.bounding_box()
    field = description.bounding_box()
    assert box and field and 0 <= box["y"] - (field["y"] + field["height"]) < 60, (
        "the message stands right under the field"
    )
    page.screenshot(path=str(shots / "2-live-english-only.png"), full_page=True)
    page.locator("fieldset.block").first.screenshot(path=str(shots / "2b-live-message.png"))
    changes = page.evaluate("window.liveChanges.length")
    # More keys that change nothing in the verdict (Latin letters, pauses longer than the
    # debounce): the live region is not written again, so nothing is announced again.
    for key in " hem":
        description.press_sequentially(key)
        page.wait_for_timeout(400)
    expect(note).to_have_text(expected)
    assert page.evaluate("window.liveChanges.length") == changes, page.evaluate(
        "window.liveChanges"
    )
    # Corrected: the message goes away.
    description.fill(ENGLISH_TEXT)
    expect(note).to_be_empty()

    # 3. The rest of the questionnaire: a partial refund typed the Russian way, a photo.
    page.get_by_label(ru("Partial refund")).check()
    page.get_by_label(ru("Amount you ask for")).fill("30,00")
    photo = tmp_path / "torn-seam.jpg"
    Image.new("RGB", (640, 480), (40, 60, 200)).save(photo, "JPEG")
    page.locator("input[name=evidence]").set_input_files([str(photo)])
    page.screenshot(path=str(shots / "3-questionnaire-filled.png"), full_page=True)
    seen = len(mail.outbox)
    page.get_by_role("button", name=ru("Open the dispute")).click()
    expect(
        page.get_by_text(ru("Your dispute is open. The seller has been told and must answer."))
    ).to_be_visible()
    expect(page.locator("#clock")).to_be_visible()
    dispute = Dispute.objects.get(line=blue)
    assert dispute.requested_amount == 30
    assert dispute.description == ENGLISH_TEXT
    assert dispute.deadline_kind == DeadlineKind.SELLER_RESPONSE
    answer_due = novosibirsk(dispute.next_deadline_at)
    expect(page.locator("#clock")).to_contain_text(answer_due)
    expect(page.locator("#clock")).to_contain_text("30,00 USD")
    expect(page.locator("main")).not_to_contain_text(" UTC")
    expect(page.locator("main")).to_contain_text(novosibirsk(dispute.opened_at))
    page.screenshot(path=str(shots / "4-buyer-dispute-opened.png"), full_page=True)
    seen, opened_mail = new_mail(seen)
    assert_mail_languages(opened_mail, "opened")
    assert answer_due in opened_mail["alice@example.com"][0].body
    assert "30,00 USD" in opened_mail["alice@example.com"][0].body
    assert "30.00 USD" in opened_mail["bob@example.com"][0].body

    # 4. The seller, in English although his browser speaks Russian (his saved choice wins),
    # proposes a partial refund of 20.00.
    seller = browser.new_context(
        locale="ru-RU", timezone_id="UTC", viewport={"width": 1280, "height": 1000}
    )
    spage = seller.new_page()
    log_in(spage, live_server.url, "bob", "ru")
    expect(spage.locator("html")).to_have_attribute("lang", "en")
    spage.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    expect(spage.locator("#clock")).to_contain_text("You have")
    expect(spage.locator("main")).to_contain_text("30.00 USD")
    expect(spage.locator("main")).not_to_contain_text("30,00")
    spage.get_by_text("Propose another solution").click()
    spage.get_by_label("Partial refund").check()
    spage.get_by_label("Amount").fill("20.00")
    spage.get_by_label("Explain").fill("Part of the price back, and you keep the dress.")
    spage.screenshot(path=str(shots / "5-seller-proposes.png"), full_page=True)
    spage.get_by_role("button", name="Send the proposal").click()
    expect(spage.get_by_text("Your proposal was sent")).to_be_visible()
    expect(spage.locator("#proposal")).to_contain_text("Partial refund: 20.00 USD")
    spage.screenshot(path=str(shots / "6-seller-proposal-sent.png"), full_page=True)
    seen, proposed_mail = new_mail(seen)
    assert_mail_languages(proposed_mail, "proposed")
    assert "20,00 USD" in proposed_mail["alice@example.com"][0].body
    assert "20.00 USD" in proposed_mail["bob@example.com"][0].body

    # 5. The buyer sees "20,00 USD" on the table, in Russian, and accepts.
    dispute.refresh_from_db()
    page.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    proposal = page.locator("#proposal")
    expect(proposal).to_contain_text(ru("On the table"))
    expect(proposal).to_contain_text("20,00 USD")
    expect(proposal).not_to_contain_text("20.00")
    expect(proposal).to_contain_text(novosibirsk(dispute.proposal_at))
    expect(page.locator("#clock")).to_contain_text(novosibirsk(dispute.next_deadline_at))
    proposal.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "7-buyer-sees-proposal.png"), full_page=True)
    page.get_by_role("button", name=ru("Accept the seller's proposal")).click()

    # 6. The refund tracker, in Russian.
    refund = Refund.objects.get(dispute=dispute)
    tracker = page.locator(f"#refund-{refund.pk}")
    expect(tracker).to_be_visible()
    expect(page.locator("ul.messages")).to_contain_text("20,00 USD")
    expect(page.locator("#refunds h2")).to_have_text(ru("Refunds"))
    expect(tracker).to_contain_text("20,00 USD")
    with translation.override("ru"), timezone.override(ZONE):
        method = refund.get_method_display()
        sent_on = day(refund.sent_at.astimezone(ZONE))  # her day, not UTC's
        window = f"{day(refund.expected_from)} по {day(refund.expected_by)}"
    assert re.fullmatch(r"\d+ [а-я]{3} \d{4}", sent_on), sent_on
    expect(tracker).to_contain_text(method)
    expect(tracker.locator("dt", has_text=ru("Sent")).locator("+ dd")).to_have_text(sent_on)
    expect(tracker.locator("dt", has_text=ru("Expected")).locator("+ dd")).to_contain_text(window)
    expect(tracker.get_by_role("button", name=ru("The money arrived"))).to_be_visible()
    expect(page.locator("#outcome")).to_contain_text("20,00 USD")
    dispute.refresh_from_db()
    expect(page.locator("#outcome")).to_contain_text(novosibirsk(dispute.decided_at))
    expect(page.locator("main")).not_to_contain_text(" UTC")
    tracker.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "8-buyer-refund-tracker.png"), full_page=True)
    tracker.screenshot(path=str(shots / "8b-tracker.png"))
    seen, accepted_mail = new_mail(seen)
    # Every mail of the story, beside the screenshots, to read.
    (shots / "mail.txt").write_text(
        "".join(f"TO {m.to} :: {m.subject}\n{m.body}\n-----\n" for m in mail.outbox)
    )
    assert_mail_languages(accepted_mail, "accepted")
    assert any("20,00 USD" in m.body for m in accepted_mail["alice@example.com"])
    assert any("20.00 USD" in m.body for m in accepted_mail["bob@example.com"])

    # The seller's page says the same, in English.
    spage.reload()
    expect(spage.locator(f"#refund-{refund.pk}")).to_contain_text("20.00 USD")
    spage.screenshot(path=str(shots / "9-seller-after-accept.png"), full_page=True)
    seller.close()

    # Her pages on a phone: the longer Russian words do not push the page sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    for url in (
        f"{live_server.url}/orders/",
        f"{live_server.url}/disputes/{dispute.pk}/",
        f"{live_server.url}/lines/{red.pk}/dispute/",
    ):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        name = url.rstrip("/").split("/")[-1] or "orders"
        page.screenshot(path=str(shots / f"10-phone-{name}.png"), full_page=True)
        assert width <= 390, f"{url} scrolls sideways on a phone ({width}px)"
    buyer.close()

    dispute.refresh_from_db()
    assert dispute.state == DisputeState.RESOLVED
    assert (dispute.outcome_amount, Dispute.objects.filter(line=red).exists()) == (20, False)
