"""Staff make integrations, keys (shown once) and endpoints in admin, and see and replay
deliveries; the API's docs and schema are served from the project."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from api.models import ApiKey, Integration, WebhookDelivery, WebhookEndpoint
from api.webhooks import new_secret
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def test_a_key_made_in_admin_is_shown_once_and_works(client, admin_user, integration):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:api_integration_changelist"),
        {"action": "make_key", "_selected_action": [integration.pk]},
        follow=True,
    )
    page = response.content.decode()
    (raw,) = re.findall(r"<code>(dpk_[^<]+)</code>", page)
    key = ApiKey.objects.get()
    assert raw not in (key.digest, key.prefix) and key.prefix in raw
    # It works, and admin then shows when it was last used, never the key.
    client.logout()
    assert client.get("/api/v1/disputes", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    client.force_login(admin_user)
    listing = client.get(reverse("admin:api_apikey_changelist")).content.decode()
    assert raw not in listing
    key.refresh_from_db()
    assert key.last_used_at is not None
    # Revoked through admin: refused.
    client.post(
        reverse("admin:api_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    client.logout()
    assert client.get("/api/v1/disputes", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_an_endpoint_added_in_admin_shows_its_secret_once(
    client, admin_user, integration, settings
):
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = False
    client.force_login(admin_user)
    refused = client.post(
        reverse("admin:api_webhookendpoint_add"),
        {"integration": integration.pk, "url": "https://127.0.0.1/x", "event_types": "[]"},
    )
    assert "private or loopback" in refused.content.decode()
    assert not WebhookEndpoint.objects.exists()
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = True
    response = client.post(
        reverse("admin:api_webhookendpoint_add"),
        {"integration": integration.pk, "url": "https://hooks.example.com/x", "event_types": "[]"},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in response.content.decode()
    change = client.get(reverse("admin:api_webhookendpoint_change", args=[endpoint.pk]))
    assert endpoint.secret not in change.content.decode()


def test_deliveries_show_status_time_and_excerpt_and_can_be_replayed(
    client, admin_user, integration
):
    endpoint = WebhookEndpoint.objects.create(
        integration=integration, url="https://hooks.example.com/x", secret=new_secret()
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        message_id="msg_1",
        event_type="dispute.opened",
        subject="dispute:1",
        payload={"id": "msg_1"},
        attempts=3,
        last_status=502,
        last_duration_ms=812,
        last_response="Bad gateway from upstream",
    )
    client.force_login(admin_user)
    listing = client.get(reverse("admin:api_webhookdelivery_changelist")).content.decode()
    assert "502" in listing and "812" in listing
    detail = client.get(reverse("admin:api_webhookdelivery_change", args=[delivery.pk]))
    assert "Bad gateway from upstream" in detail.content.decode()
    client.post(
        reverse("admin:api_webhookdelivery_changelist"),
        {"action": "replay", "_selected_action": [delivery.pk]},
    )
    assert WebhookDelivery.objects.count() == 2
    replay = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert replay.payload == delivery.payload and replay.delivered_at is None


def test_staff_without_permission_see_no_integration(client, integration):
    clerk = UserFactory(username="clerk", is_staff=True)
    client.force_login(clerk)
    assert client.get(reverse("admin:api_integration_changelist")).status_code == 403


def test_the_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/orders/batch" in paths
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "cdn" not in page.lower()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert Integration.objects.count() == 0


def test_the_api_key_command_prints_a_working_key(client):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("api_key", "Demo marketplace", stdout=out, stderr=StringIO())
    raw = out.getvalue().strip()
    assert raw.startswith("dpk_")
    assert client.get("/api/v1/disputes", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert Integration.objects.get().name == "Demo marketplace"
