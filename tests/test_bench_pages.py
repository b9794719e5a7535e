"""The page benchmark's data set (benchmarks/harness/largedata.py), built small: the stories
it writes are ones the portal could have written, and every page the benchmark loads
answers its person with the page itself."""

from __future__ import annotations

import copy
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db.models import Count, Q

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

from harness import largedata  # noqa: E402
from harness.largedata import BUYER_DISPUTES, BUYER_ORDERS, Size  # noqa: E402

from tests.conftest import need  # noqa: E402

SCALE = 0.005  # the generator's minimums: 600 orders, 120 disputes, every state

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(scope="module")
def built(django_db_setup, django_db_blocker, tmp_path_factory):
    """The set, built once for the module (outside the tests' transactions) and removed
    after it, so the other tests of this process start from an empty database again."""
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings

    with django_db_blocker.unblock():
        need(
            connection.vendor == "postgresql",
            "needs PostgreSQL: set DATABASE_URL=postgres://... to run it",
        )
        log: list[str] = []
        with override_settings(
            MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ):
            largedata.build(log=log.append, scale=SCALE)
        try:
            yield largedata.personas(), log
        finally:
            call_command("flush", interactive=False, verbosity=0)


def test_the_set_has_the_people_and_sizes_the_benchmark_promises(built):
    from disputes.models import Dispute
    from orders.models import Order

    people, _log = built
    size = Size.scaled(SCALE)
    assert Order.objects.count() == size.orders
    assert Order.objects.filter(buyer_id=people.buyer_id).count() == BUYER_ORDERS
    assert Order.objects.filter(store_id=people.store_id).count() == size.big_store_orders
    assert Dispute.objects.count() == size.disputes
    # The persona's 30, and the one opened through the services.
    assert Dispute.objects.filter(buyer_id=people.buyer_id).count() == BUYER_DISPUTES + 1
    assert Dispute.objects.filter(store_id=people.store_id).count() >= size.big_store_disputes
    states = Counter(Dispute.objects.values_list("state", flat=True))
    for state in (
        "open",
        "seller_responded",
        "escalated",
        "ruled",
        "awaiting_return",
        "awaiting_replacement",
        "resolved",
        "withdrawn",
    ):
        assert states[state] > 0, state


def test_each_dispute_is_where_its_events_lead_and_each_event_was_mailed(built):
    from disputes.models import Dispute, DisputeEvent

    _people, _log = built
    last_moves: dict[int, str] = {}
    for dispute_id, to_state in (
        DisputeEvent.objects.exclude(kind="message")
        .order_by("created_at", "id")
        .values_list("dispute_id", "to_state")
    ):
        last_moves[dispute_id] = to_state
    disputes = dict(Dispute.objects.values_list("pk", "state"))
    assert last_moves == disputes
    unmailed = DisputeEvent.objects.annotate(n=Count("notifications")).filter(n=0)
    assert not unmailed.exists()


def test_running_clocks_are_ahead_and_finished_disputes_have_none(built):
    from django.utils import timezone

    from disputes.models import Dispute

    _people, _log = built
    now = timezone.now()
    running = Dispute.objects.filter(finished_at__isnull=True).exclude(state="ruled")
    assert not running.filter(Q(next_deadline_at__isnull=True) | Q(next_deadline_at__lte=now))
    finished = Dispute.objects.filter(state__in=["resolved", "withdrawn"])
    assert finished.exists()
    assert not finished.filter(next_deadline_at__isnull=False).exists()
    queue = Dispute.objects.filter(state="escalated")
    assert not queue.filter(escalated_at__isnull=True).exists()


def test_a_second_run_reuses_the_set(built):
    from orders.models import Order

    people, _log = built
    before = Order.objects.count()
    log: list[str] = []
    assert largedata.ensure_large_data(log=log.append) == people
    assert log == ["the large data set is already there: reused"]
    assert Order.objects.count() == before


def test_every_benchmarked_page_answers_its_person(built, client, settings):
    import pages as bench_pages

    people, _log = built
    settings.ROOT_URLCONF = "harness.pages_urls"
    settings.TEMPLATES = copy.deepcopy(django_settings.TEMPLATES)
    settings.TEMPLATES[0]["DIRS"] = [
        *settings.TEMPLATES[0]["DIRS"],
        BENCHMARKS / "harness" / "templates",
    ]
    keys = bench_pages.sessions(people)
    for page in bench_pages.pages(people.dispute_id):
        client.cookies[settings.SESSION_COOKIE_NAME] = keys[page.persona]
        response = client.get(page.path)
        assert not bench_pages.refused(response.status_code, response.content), page.name
        assert response.status_code == 200, page.name
    # Without the session, the same pages are refused: the check would have caught it.
    client.cookies.clear()
    response = client.get("/bench/one-query/")
    assert bench_pages.refused(response.status_code, response.content)
