"""Each person's language and time zone: saved on the Settings page or by the switcher,
guessed from the browser first; pages and mail in the reader's, deadlines in UTC."""

from __future__ import annotations

import html as html_lib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from disputes.services import DisputeRequest, dispute_propose
from disputes.states import OutcomeType
from orders.templatetags.clocks import absolute
from tests.factories import DRESS_LINES, make_order, open_dispute

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html_lib.unescape(response.content.decode())


def test_the_browser_language_is_used_until_the_person_chooses(client, alice):
    client.force_login(alice)
    page = text(client.get(reverse("dashboards:my_orders"), HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9"))
    assert "Мои заказы" in page and '<html lang="ru">' in page
    client.post(reverse("language_switch"), {"language": "en", "next": "/orders/"})
    alice.refresh_from_db()
    assert alice.language == "en"
    page = text(client.get(reverse("dashboards:my_orders"), HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9"))
    assert "My orders" in page and "Мои заказы" not in page


def test_the_switcher_works_for_anonymous_visitors_and_refuses_other_sites(client):
    response = client.post(reverse("language_switch"), {"language": "ru", "next": "/login/"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert "Войти" in text(client.get("/login/")) or "Вход" in text(client.get("/login/"))
    away = client.post(
        reverse("language_switch"), {"language": "ru", "next": "https://evil.example/"}
    )
    assert away["Location"] == "/"


def test_settings_save_language_and_zone(client, alice):
    client.force_login(alice)
    page = text(client.get(reverse("settings")))
    assert "Europe/Berlin" in page
    response = client.post(
        reverse("settings"), {"language": "ru", "time_zone": "Asia/Novosibirsk"}, follow=True
    )
    alice.refresh_from_db()
    assert (alice.language, alice.time_zone) == ("ru", "Asia/Novosibirsk")
    assert "Настройки сохранены." in text(response)
    refused = client.post(reverse("settings"), {"language": "ru", "time_zone": "Mars/Olympus"})
    assert refused.status_code == 200
    alice.refresh_from_db()
    assert alice.time_zone == "Asia/Novosibirsk"


def test_the_browser_zone_is_remembered_on_the_first_visit(client, alice):
    client.force_login(alice)
    client.cookies["tz"] = "Asia/Novosibirsk"
    client.get(reverse("dashboards:my_orders"))
    alice.refresh_from_db()
    assert alice.time_zone == "Asia/Novosibirsk"
    client.cookies["tz"] = "Europe/Paris"  # a later guess does not override a saved zone
    client.get(reverse("dashboards:my_orders"))
    alice.refresh_from_db()
    assert alice.time_zone == "Asia/Novosibirsk"
    client.cookies["tz"] = "Not/AZone"
    client.logout()
    assert client.get("/login/").status_code == 200


def test_a_deadline_is_shown_in_the_readers_zone_and_kept_in_utc(client, alice, bobs_store, now):
    alice.time_zone = "Asia/Novosibirsk"
    alice.save()
    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now)
    dispute = open_dispute(line=order.lines.first(), buyer=alice, request=claim(), now=now)
    due = dispute.next_deadline_at
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)
    client.force_login(alice)
    page = text(client.get(reverse("disputes:detail", args=[dispute.pk])))
    local = due.astimezone(ZoneInfo("Asia/Novosibirsk"))
    assert f"{local:%H:%M} +07" in page
    assert f"{due:%H:%M} UTC" not in page


def test_across_a_daylight_saving_change_the_wall_clock_moves_not_the_deadline():
    """Berlin leaves winter time on 28 March 2027 at 02:00: a deadline five days after
    25 March 12:00 UTC is 30 March 12:00 UTC, shown 14:00 CEST (it was 13:00 CET at the
    start)."""
    opened = datetime(2027, 3, 25, 12, 0, tzinfo=UTC)
    due = opened + timedelta(days=5)
    assert due == datetime(2027, 3, 30, 12, 0, tzinfo=UTC)
    with timezone.override(ZoneInfo("Europe/Berlin")), translation.override("en"):
        assert absolute(opened) == "25 Mar 2027, 13:00 CET"
        assert absolute(due) == "30 Mar 2027, 14:00 CEST"
    assert (due - opened) == timedelta(days=5)  # stored and computed in UTC


def claim():
    return DisputeRequest(
        received=True,
        reason="not_as_described",
        description="The dress is orange, not red as pictured.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal("45.00"),
    )


def test_mail_goes_out_in_the_recipients_language_and_zone(
    alice, bob, bobs_store, now, mailoutbox, django_capture_on_commit_callbacks
):
    alice.language, alice.time_zone = "ru", "Asia/Novosibirsk"
    alice.save()
    bob.language, bob.time_zone = "en", "Europe/Berlin"
    bob.save()
    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now)
    dispute = open_dispute(line=order.lines.first(), buyer=alice, request=claim(), now=now)
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        dispute_propose(
            dispute_id=dispute.pk,
            user=bob,
            outcome=OutcomeType.PARTIAL_REFUND,
            amount=Decimal("20.50"),
            now=now + timedelta(hours=1),
        )
    to_alice = next(m for m in mailoutbox if m.to == [alice.email])
    to_bob = next(m for m in mailoutbox if m.to == [bob.email])
    assert "Спор" in to_alice.subject
    assert "20,50" in to_alice.body  # a decimal comma
    assert "+07" in to_alice.body
    assert "Dispute" in to_bob.subject and "20.50" in to_bob.body
    assert "CET" in to_bob.body or "CEST" in to_bob.body


def test_amounts_typed_with_a_decimal_comma_are_accepted(client, alice, bob, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now)
    dispute = open_dispute(line=order.lines.first(), buyer=alice, request=claim())
    bob.language = "ru"
    bob.save()
    client.force_login(bob)
    page = text(client.get(reverse("disputes:detail", args=[dispute.pk])))
    import re

    revision = re.search(r'name="revision" value="(\d+)"', page).group(1)
    response = client.post(
        reverse("disputes:propose", args=[dispute.pk]),
        {"revision": revision, "outcome": "partial_refund", "amount": "12,50", "note": "Половина."},
    )
    assert response.status_code == 302, text(response)[:500]
    dispute.refresh_from_db()
    assert dispute.proposal_amount == Decimal("12.50")


def test_in_english_a_decimal_comma_is_refused_not_read_as_thousands(
    client, alice, bob, bobs_store, now
):
    import re

    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now)
    dispute = open_dispute(line=order.lines.first(), buyer=alice, request=claim())
    client.force_login(bob)
    page = text(client.get(reverse("disputes:detail", args=[dispute.pk])))
    revision = re.search(r'name="revision" value="(\d+)"', page).group(1)
    response = client.post(
        reverse("disputes:propose", args=[dispute.pk]),
        {"revision": revision, "outcome": "partial_refund", "amount": "12,50", "note": "Half."},
    )
    assert response.status_code == 400
    assert "Enter a number" in text(response)
    dispute.refresh_from_db()
    assert dispute.proposal_amount == Decimal("45.00")  # the request still on the table
