"""Issue 12, finding 4: a person who forgot the password gets back in by mail; a logged-in
person changes it. Django's own views, in the portal's look."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "violet-harbour-1729"


def reset_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/password/reset/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_the_log_in_page_links_to_the_password_reset(client):
    page = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("password_reset")}"' in page
    assert "Forgot your password?" in page


def test_the_reset_mail_arrives_and_its_link_sets_a_new_password_that_logs_in(client, settings):
    settings.SITE_URL = "https://portal.example"
    erin = UserFactory(username="erin", email="erin@example.com", first_name="Erin")

    form = client.get(reverse("password_reset"))
    assert form.status_code == 200
    assert form.templates[0].name == "accounts/password_reset_form.html"
    sent = client.post(reverse("password_reset"), {"email": "ERIN@example.com"})
    assert sent.status_code == 302
    assert sent.url == reverse("password_reset_done")
    assert "Check your mail" in client.get(sent.url).content.decode()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["erin@example.com"]
    assert message.subject == "Reset your password for the dispute portal"
    assert "Hello Erin," in message.body
    assert "Your username: erin" in message.body
    assert "https://portal.example/password/reset/" in message.body

    # The link (Django moves the token out of the address, into the session, and back).
    landing = client.get(reset_link(message), follow=True)
    assert landing.status_code == 200
    assert landing.templates[0].name == "accounts/password_reset_confirm.html"
    assert landing.context["validlink"]
    set_password_url = landing.redirect_chain[-1][0]
    done = client.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert done.url == reverse("password_reset_complete")
    assert "Your new password is set" in client.get(done.url).content.decode()

    # The new password logs in, the old one does not, and the link is spent.
    old = client.post(reverse("login"), {"username": "erin", "password": PASSWORD})
    assert old.status_code == 200
    answer = client.post(reverse("login"), {"username": "erin", "password": NEW_PASSWORD})
    assert answer.status_code == 302
    assert client.session[SESSION_KEY] == str(erin.pk)
    client.logout()
    spent = client.get(reset_link(message), follow=True)
    assert not spent.context["validlink"]
    assert "This link does not work any more" in spent.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client):
    UserFactory(username="erin", email="erin@example.com")
    sent = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert sent.status_code == 302
    assert sent.url == reverse("password_reset_done")
    assert mail.outbox == []


def test_setting_a_new_password_by_mail_lifts_a_lock_out(client, settings):
    settings.AXES_FAILURE_LIMIT = 10
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    UserFactory(username="erin", email="erin@example.com")
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False):
        for attempt in range(11):
            client.post(reverse("login"), {"username": "erin", "password": f"wrong-{attempt}"})
        locked = client.post(reverse("login"), {"username": "erin", "password": PASSWORD})
        assert locked.status_code == 429

        client.post(reverse("password_reset"), {"email": "erin@example.com"})
        landing = client.get(reset_link(mail.outbox[0]), follow=True)
        client.post(
            landing.redirect_chain[-1][0],
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        answer = client.post(reverse("login"), {"username": "erin", "password": NEW_PASSWORD})
        assert answer.status_code == 302


def test_a_logged_in_person_changes_the_password_from_the_menu(client):
    erin = UserFactory(username="erin")
    client.force_login(erin)
    home = client.get(reverse("dashboards:my_orders")).content.decode()
    assert f'href="{reverse("password_change")}"' in home
    assert "Change password" in home

    form = client.get(reverse("password_change"))
    assert form.status_code == 200
    assert form.templates[0].name == "accounts/password_change_form.html"
    wrong = client.post(
        reverse("password_change"),
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    done = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert done.url == reverse("password_change_done")
    assert client.session[SESSION_KEY] == str(erin.pk), "this session stays logged in"
    assert "Your password is changed" in client.get(done.url).content.decode()
    erin.refresh_from_db()
    assert erin.check_password(NEW_PASSWORD)


def test_changing_the_password_needs_a_log_in(client):
    answer = client.get(reverse("password_change"))
    assert answer.status_code == 302
    assert answer.url.startswith(reverse("login"))
