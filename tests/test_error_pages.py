"""Walk-through item 13: the portal's own error pages, with DEBUG on (as `make run` runs) and off.

A wrong address, a page a person may not see, a step that is not theirs, a form sent from a
page left open too long, a request Django refuses and a view that crashes each get the portal's
page, in its look (its menu, its stylesheet, its Content-Security-Policy), with the right
status code, and never Django's list of URL patterns, a traceback or the settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disputes.services import DisputeRequest
from tests.factories import DRESS_LINES, make_order, open_dispute

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent

# What Django's technical pages (DEBUG on) and its plain defaults show, and the portal's never.
TECHNICAL = (
    "Using the URLconf defined in",
    "match any of these",
    "Django tried these URL patterns",
    "Raised by:",
    "seeing this error because you have",
    "Traceback",
    "Request Method:",
    "ALLOWED_HOSTS",
    "SECRET_KEY",
    "The requested resource was not found on this server",
    "CSRF verification failed",
    "admin/",
)


def _debug() -> bool:
    from django.conf import settings

    return settings.DEBUG


@pytest.fixture(params=[True, False], ids=["debug-on", "debug-off"])
def debug(request, settings):
    settings.DEBUG = request.param
    settings.PORTAL_TECHNICAL_ERROR_PAGES = False
    return request.param


@pytest.fixture
def dispute(alice, bobs_store):
    order = make_order(
        buyer=alice,
        store=bobs_store,
        lines=DRESS_LINES,
        shipped_at=timezone.now() - timedelta(days=3),
    )
    return open_dispute(
        line=order.lines.first(),
        buyer=alice,
        request=DisputeRequest(
            received=True,
            reason="not_as_described",
            description="The dress is orange, not red as pictured.",
            quantity=1,
            requested_outcome="refund_only",
            requested_amount=Decimal("45.00"),
        ),
    )


def portal_page(response, status: int, page_id: str) -> str:
    """The portal's own page: its status, its look, nothing technical."""
    html = response.content.decode()
    assert response.status_code == status, html[:500]
    assert response["Content-Type"].startswith("text/html")
    assert f'id="{page_id}"' in html
    assert "/static/css/portal.css" in html
    assert "Buyer protection" in html
    # django-csp leaves a 404 or 500 without its header while DEBUG is on (for Django's
    # technical pages); every other answer carries it.
    if not (_debug() and status in (404, 500)):
        assert "default-src 'self'" in response["Content-Security-Policy"]
    for text in TECHNICAL:
        assert text not in html, text
    return html


# --- 404 ------------------------------------------------------------------------------------------
def test_a_wrong_address_gets_the_portals_404(debug, client):
    html = portal_page(client.get("/no-such-page/"), 404, "error-404")
    assert "There is no page here" in html
    assert "Log in" in html  # the menu of a visitor


def test_a_wrong_address_keeps_the_persons_menu(debug, client_for):
    html = portal_page(client_for("alice").get("/orders/no/such/page/"), 404, "error-404")
    assert "My orders" in html and "Log out Alice" in html


def test_a_dispute_one_may_not_see_is_the_same_404(debug, client_for, dispute):
    client = client_for("carol")
    html = portal_page(client.get(reverse("disputes:detail", args=[dispute.pk])), 404, "error-404")
    assert "There is no page here" in html
    assert dispute.description not in html


def test_a_missing_slash_still_redirects(debug, client_for):
    response = client_for("alice").get("/orders")
    assert response.status_code == 301 and response.url == "/orders/"


def test_a_missing_static_file_gets_the_portals_404(debug, client):
    portal_page(client.get("/static/css/no-such-file.css"), 404, "error-404")


def test_make_runs_web_server_leaves_static_files_to_whitenoise():
    """runserver's own static handler answers a missing file with Django's technical 404
    (DEBUG on): `make run` serves them through WhiteNoise, like a deployment."""
    from honcho.environ import parse_procfile

    web = parse_procfile((ROOT / "Procfile.dev").read_text()).processes["web"]
    assert "runserver" in web and "--nostatic" in web.split()


# --- 403 ------------------------------------------------------------------------------------------
def test_a_step_that_is_the_other_sides_gets_the_portals_403(debug, client_for, dispute):
    response = client_for("bob").post(
        reverse("disputes:ship_return", args=[dispute.pk]),
        {"carrier": "DHL", "tracking_number": "JD0001", "revision": dispute.revision},
    )
    html = portal_page(response, 403, "error-403")
    assert "You may not do this" in html
    assert "Log out Bob" in html


# --- CSRF failure ---------------------------------------------------------------------------------
def test_a_form_from_a_page_left_open_too_long_gets_the_portals_page(debug, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    page = reverse("dashboards:my_orders")
    response = client.post(
        reverse("logout"),
        HTTP_REFERER=f"http://testserver{page}",
        HTTP_HOST="testserver",
    )
    html = portal_page(response, 403, "error-csrf")
    assert "The page was open too long" in html
    assert "reload the page and send it again" in html
    assert f'href="http://testserver{page}"' in html  # back to the page it came from


def test_the_csrf_page_never_links_to_another_site(debug, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("logout"), HTTP_REFERER="https://evil.example/phish")
    html = portal_page(response, 403, "error-csrf")
    assert "evil.example" not in html


# --- 400 ------------------------------------------------------------------------------------------
def test_a_request_django_refuses_gets_the_portals_400(debug, client):
    response = client.get(reverse("login"), HTTP_HOST="evil.example")
    html = portal_page(response, 400, "error-400")
    assert "could not read this request" in html
    assert "evil.example" not in html


# --- 500 ------------------------------------------------------------------------------------------
@pytest.fixture
def crashing_page(monkeypatch):
    """The buyer's orders page crashes (a bug, a database gone)."""

    def crash(**kwargs):
        raise RuntimeError("the secret detail of a crash")

    monkeypatch.setattr("dashboards.views.buyer_order_rows", crash)
    return reverse("dashboards:my_orders")


def test_a_view_that_raises_gets_the_portals_500(debug, alice, crashing_page, caplog):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    html = portal_page(client.get(crashing_page), 500, "error-500")
    assert "Something went wrong on our side" in html
    assert "the secret detail of a crash" not in html and "RuntimeError" not in html
    # The traceback is for the log, not the page.
    assert any(
        record.exc_info and "the secret detail of a crash" in str(record.exc_info[1])
        for record in caplog.records
    )


def test_a_crash_asked_for_as_text_has_no_traceback_either(debug, alice, crashing_page):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.get(crashing_page, HTTP_ACCEPT="application/json")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Traceback" not in body and "the secret detail of a crash" not in body
    assert "RuntimeError" not in body and "SECRET_KEY" not in body


# --- the developer's switch -----------------------------------------------------------------------
def test_a_developer_can_ask_for_djangos_technical_pages(settings, client):
    settings.DEBUG = True
    settings.PORTAL_TECHNICAL_ERROR_PAGES = True
    html = client.get("/no-such-page/").content.decode()
    assert "Django tried these URL patterns" in html


def test_the_switch_does_nothing_without_debug():
    """TECHNICAL_ERROR_PAGES=1 without DEBUG (a deployment) changes nothing."""
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEBUG, settings.PORTAL_TECHNICAL_ERROR_PAGES)"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "TECHNICAL_ERROR_PAGES": "1",
    }
    with_debug = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DEBUG": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert with_debug.stdout.split()[-2:] == ["True", "True"]
    without = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DEBUG": "0", "SECRET_KEY": "x" * 60},
        capture_output=True,
        text=True,
        check=True,
    )
    assert without.stdout.split()[-2:] == ["False", "False"]
