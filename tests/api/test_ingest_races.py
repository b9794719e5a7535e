"""Two batches bringing the same new buyer and store at the same moment: both succeed, and
the person and the store exist once."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection

from api.models import ExternalPerson, ExternalStore
from orders.models import Order
from tests.api.conftest import order_body

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_concurrent_first_sight_of_the_same_people(require_postgres, api, client):
    from django.test import Client

    barrier = threading.Barrier(2)
    answers: list[int] = []

    def push(prefix: str) -> None:
        own = Client()
        try:
            barrier.wait(5)
            body = {"orders": [order_body(f"{prefix}-{n}", buyer="same-buyer") for n in range(50)]}
            response = own.post(
                "/api/v1/orders/batch",
                data=json.dumps(body),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {api.key}",
            )
            answers.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=push, args=(p,)) for p in ("R", "S")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [200, 200]
    assert Order.objects.count() == 100
    assert ExternalPerson.objects.filter(external_id="same-buyer").count() == 1
    assert ExternalStore.objects.count() == 1
