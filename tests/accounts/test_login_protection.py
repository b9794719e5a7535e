"""Issue 12, finding 4: wrong passwords lock the account on both log-in pages (django-axes).

A person gets AXES_FAILURE_LIMIT (LOGIN_FAILURE_LIMIT, 10) wrong passwords per account and
address: the tenth is answered with the lock-out page, the eleventh (and the right password) is
refused until LOGIN_LOCKOUT_MINUTES have passed from the failure that locked, or staff unlock.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import RequestFactory
from django.urls import reverse

from accounts.lockout import client_ip
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
LOCKED_UNTIL_TEXT = "23 Nov 2026, 12:30 UTC"


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.AXES_FAILURE_LIMIT = 10
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)


def try_login(client, path, username, password, address="203.0.113.7"):
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=address, follow=False
    )


def logged_in_as(client, user) -> bool:
    return client.session.get(SESSION_KEY) == str(user.pk)


@pytest.mark.parametrize(
    ("path", "wrong_text"),
    [
        ("/login/", "Please enter a correct username and password"),
        ("/admin/login/", "Please enter the correct username and password for a staff account"),
    ],
)
def test_eleven_wrong_passwords_lock_the_account_for_the_configured_time(client, path, wrong_text):
    person = UserFactory(username="erin", is_staff=True)
    with time_machine.travel(START, tick=False) as clock:
        for attempt in range(1, 10):
            answer = try_login(client, path, "erin", f"wrong-{attempt}")
            assert answer.status_code == 200, attempt
            assert wrong_text in answer.content.decode()

        tenth = try_login(client, path, "erin", "wrong-10")
        assert tenth.status_code == 429
        page = tenth.content.decode()
        assert "Too many wrong passwords" in page
        assert LOCKED_UNTIL_TEXT in page
        assert "in 30\xa0minutes" in page
        assert wrong_text not in page

        clock.shift(timedelta(minutes=5))
        eleventh = try_login(client, path, "erin", "wrong-11")
        assert eleventh.status_code == 429
        assert LOCKED_UNTIL_TEXT in eleventh.content.decode(), "a refused try extends nothing"

        right = try_login(client, path, "erin", PASSWORD)
        assert right.status_code == 429
        assert LOCKED_UNTIL_TEXT in right.content.decode()
        assert not logged_in_as(client, person)

        clock.move_to(START + timedelta(minutes=29, seconds=59))
        assert try_login(client, path, "erin", PASSWORD).status_code == 429
        assert not logged_in_as(client, person)

        clock.move_to(START + timedelta(minutes=30, seconds=1))
        answer = try_login(client, path, "erin", PASSWORD)
        assert answer.status_code == 302
        assert logged_in_as(client, person)


def test_the_lockout_page_is_the_portal_log_in_page_with_the_form(client):
    UserFactory(username="erin")
    with time_machine.travel(START, tick=False):
        for attempt in range(10):
            answer = try_login(client, "/login/", "erin", f"wrong-{attempt}")
    page = answer.content.decode()
    assert answer.status_code == 429
    assert 'id="lockout"' in page and 'role="alert"' in page
    assert 'name="username" value="erin"' in page, "the form stays, filled in"
    assert reverse("password_reset") in page, "the way out: reset the password by mail"
    assert answer.templates[0].name == "accounts/login.html"


def test_admin_lockout_page_is_the_admin_log_in_page(client):
    UserFactory(username="sam", is_staff=True)
    with time_machine.travel(START, tick=False):
        for attempt in range(10):
            answer = try_login(client, "/admin/login/", "sam", f"wrong-{attempt}")
    assert answer.status_code == 429
    assert answer.templates[0].name == "admin/login.html"
    page = answer.content.decode()
    assert '<p class="errornote">' in page
    assert LOCKED_UNTIL_TEXT in page


def test_the_lock_is_per_account_and_address(client):
    erin = UserFactory(username="erin")
    frank = UserFactory(username="frank")
    with time_machine.travel(START, tick=False):
        for attempt in range(10):
            try_login(client, "/login/", "erin", f"wrong-{attempt}")
        assert try_login(client, "/login/", "erin", PASSWORD).status_code == 429

        # The same account from another address, and another account from this one, log in.
        elsewhere = try_login(client, "/login/", "erin", PASSWORD, address="198.51.100.2")
        assert elsewhere.status_code == 302
        assert logged_in_as(client, erin)
        client.logout()
        assert try_login(client, "/login/", "frank", PASSWORD).status_code == 302
        assert logged_in_as(client, frank)


def test_a_success_before_the_limit_starts_the_count_again(client):
    erin = UserFactory(username="erin")
    with time_machine.travel(START, tick=False):
        for attempt in range(9):
            try_login(client, "/login/", "erin", f"wrong-{attempt}")
        assert try_login(client, "/login/", "erin", PASSWORD).status_code == 302
        client.logout()
        for attempt in range(9):
            assert try_login(client, "/login/", "erin", f"again-{attempt}").status_code == 200
        assert try_login(client, "/login/", "erin", PASSWORD).status_code == 302
        assert logged_in_as(client, erin)


def test_the_limit_and_the_lock_time_are_settings(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=5)
    UserFactory(username="erin")
    with time_machine.travel(START, tick=False) as clock:
        assert try_login(client, "/login/", "erin", "wrong-1").status_code == 200
        assert try_login(client, "/login/", "erin", "wrong-2").status_code == 200
        third = try_login(client, "/login/", "erin", "wrong-3")
        assert third.status_code == 429
        assert "23 Nov 2026, 12:05 UTC" in third.content.decode()
        clock.shift(timedelta(minutes=5, seconds=1))
        assert try_login(client, "/login/", "erin", PASSWORD).status_code == 302


def test_staff_unlock_the_account_in_admin(client):
    erin = UserFactory(username="erin")
    with time_machine.travel(START, tick=False):
        for attempt in range(11):
            try_login(client, "/login/", "erin", f"wrong-{attempt}")
        assert try_login(client, "/login/", "erin", PASSWORD).status_code == 429

        # Staff see the lock in admin and delete it (axes' own admin).
        boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
        client.force_login(boss)
        listing = client.get(reverse("admin:axes_accessattempt_changelist"))
        assert listing.status_code == 200
        assert "erin" in listing.content.decode()
        attempt = AccessAttempt.objects.get(username="erin")
        assert attempt.failures_since_start == 10
        delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 302
        assert not AccessAttempt.objects.filter(username="erin").exists()
        client.logout()

        assert try_login(client, "/login/", "erin", PASSWORD).status_code == 302
        assert logged_in_as(client, erin)


def test_behind_the_tls_proxy_the_client_is_the_last_forwarded_address(settings):
    request = RequestFactory().post(
        "/login/",
        REMOTE_ADDR="172.17.0.1",
        HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7",
    )
    settings.LOGIN_TRUST_X_FORWARDED_FOR = False
    assert client_ip(request) == "172.17.0.1"
    settings.LOGIN_TRUST_X_FORWARDED_FOR = True
    assert client_ip(request) == "203.0.113.7", "what the client wrote itself is not believed"
    request.META.pop("HTTP_X_FORWARDED_FOR")
    assert client_ip(request) == "172.17.0.1"
