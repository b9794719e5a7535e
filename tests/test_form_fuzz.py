"""Every form survives any combination of answers: random values for every field of every
form view, posted by the person the form is for, never get a server error, and the
database is never half-changed (either nothing changed, or the whole change was recorded).

Each example runs in a savepoint that is rolled back, so every one starts from the demo
data as it was loaded.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from complaints.models import Complaint
from disputes.models import Dispute, DisputeEvent, DisputeMessage, EvidenceRequest
from evidence.models import Evidence, HeldFile
from orders.models import Order, OrderLine
from refunds.models import Coupon, Payout, Refund

EXAMPLES = int(os.environ.get("FORM_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)


def _photo() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 60, 40)).save(buffer, "JPEG")
    return SimpleUploadedFile("p.jpg", buffer.getvalue(), content_type="image/jpeg")


def _not_a_photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("p.jpg", b"\x00not an image", content_type="image/jpeg")


TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(
        [
            "",
            " ",
            "The seam on the left sleeve is torn.",
            "Платье порвано по шву, верните деньги",
            "\u200b" * 20,
            "\u202eThe dress is torn\u202c",
            "x" * 5001,
            "<script>alert(1)</script>",
            "0",
            "-1",
            "1e9",
            "NaN",
        ]
    ),
)
NUMBER = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.sampled_from(["", "0", "0.001", "1", "1.5", "9999999999999", "12,50", "abc", "1e3"]),
)
FILES = st.sampled_from(["none", "photo", "junk", "two"])


def field(choices: list[str]) -> st.SearchStrategy[Any]:
    """A field's value: one of its real choices, anything else, or left out."""
    return st.one_of(st.sampled_from(choices), TEXT, NUMBER, st.none())


def files_for(kind: str) -> list[SimpleUploadedFile]:
    return {
        "none": [],
        "photo": [_photo()],
        "junk": [_not_a_photo()],
        "two": [_photo(), _not_a_photo()],
    }[kind]


@dataclass
class World:
    alice: Any
    bob: Any
    dave: Any
    sam: Any
    open: Dispute
    returning: Dispute
    replacing: Dispute
    escalated: Dispute
    ruled: Dispute
    fresh_line: OrderLine
    closed_order: Order


@pytest.fixture
def world(db) -> World:
    from django.contrib.auth import get_user_model

    CLIENTS.clear()
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    people = {user.username: user for user in get_user_model().objects.all()}

    def dispute(product: str) -> Dispute:
        return Dispute.objects.get(line__product_name=product)

    return World(
        alice=people["alice"],
        bob=people["bob"],
        dave=people["dave"],
        sam=people["sam"],
        open=dispute("Silk blouse"),
        returning=dispute("Linen trousers"),
        replacing=dispute("Phone case"),
        escalated=dispute("Wool coat"),
        ruled=dispute("Smart watch"),
        fresh_line=OrderLine.objects.get(product_name="Leather wallet"),
        closed_order=Order.objects.get(lines__product_name="Canvas tote bag"),
    )


def snapshot() -> dict[str, Any]:
    return {
        "disputes": list(
            Dispute.objects.order_by("pk").values_list(
                "pk", "state", "revision", "proposal_type", "proposal_amount", "outcome_type"
            )
        ),
        "events": DisputeEvent.objects.count(),
        "messages": DisputeMessage.objects.count(),
        "evidence": Evidence.objects.count(),
        "requests": EvidenceRequest.objects.count(),
        "complaints": Complaint.objects.count(),
        "money": (Refund.objects.count(), Coupon.objects.count(), Payout.objects.count()),
        "held": HeldFile.objects.count(),
    }


CLIENTS: dict[int, Client] = {}


def client_of(user: Any) -> Client:
    """One logged-in client per person and test (its session outlives the savepoints)."""
    if user.pk not in CLIENTS:
        CLIENTS[user.pk] = Client()
        CLIENTS[user.pk].force_login(user)
    return CLIENTS[user.pk]


def post_and_check(
    client: Any, user: Any, url: str, data: dict[str, Any], whole: Callable[[dict, dict], bool]
) -> None:
    """Post as ``user`` inside a savepoint that is rolled back afterwards."""
    data = {key: value for key, value in data.items() if value is not None}
    person = client_of(user)
    with transaction.atomic():
        before = snapshot()
        response = person.post(url, data)
        assert response.status_code < 500, (url, data, response.status_code)
        after = snapshot()
        if after != before:
            assert whole(before, after), (url, data, before, after)
        transaction.set_rollback(True)


def one_more_event(before: dict, after: dict) -> bool:
    """A dispute change is whole when it recorded its events and touched no complaint."""
    return after["events"] > before["events"] and after["complaints"] == before["complaints"]


def with_revision(dispute: Dispute) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(str(dispute.revision)), NUMBER, st.none())


# --- the buyer's questionnaire --------------------------------------------------------------
@pytest.fixture
def held(world) -> dict[str, str]:
    """A photo kept for alice's refused questionnaire, and one carol sent (a file of hers,
    even under the same form's name, is never alice's to attach or remove)."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from disputes.services.opening import dispute_hold_files, questionnaire_scope
    from evidence.services import evidence_hold

    line = world.fresh_line
    carols = evidence_hold(
        owner=get_user_model().objects.get(username="carol"),
        scope=questionnaire_scope(line),
        files=[_photo()],
        limit=10,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    mine = dispute_hold_files(line=line, buyer=world.alice, files=[_photo()])
    return {"mine": str(mine.held[0].pk), "carol's": str(carols.held[0].pk)}


@FUZZ
@given(data=st.data())
def test_the_questionnaire(client, world, held, data):
    url = reverse("disputes:open", args=[world.fresh_line.pk])
    ids = st.lists(st.one_of(st.sampled_from(list(held.values())), NUMBER), max_size=3)
    form = {
        "held": data.draw(ids),
        "remove_held": data.draw(ids),
        "received": data.draw(field(["yes", "no"])),
        "reason": data.draw(field(["not_received", "not_as_described", "damaged", "other"])),
        "description": data.draw(TEXT),
        "requested_outcome": data.draw(field(["refund_only", "return_and_refund"])),
        "quantity": data.draw(st.one_of(NUMBER, st.just("1"), st.none())),
        "amount_choice": data.draw(field(["full", "partial"])),
        "requested_amount": data.draw(st.one_of(NUMBER, st.none())),
        "evidence": files_for(data.draw(FILES)),
    }

    def whole(before: dict, after: dict) -> bool:
        opened = len(after["disputes"]) == len(before["disputes"]) + 1
        if not opened:  # refused: only files kept for the form (or taken back) may change
            return {**after, "held": 0} == {**before, "held": 0}
        # Opened: alice's kept file became evidence or was dropped; carol's is untouched.
        return after["events"] == before["events"] + 1 and after["held"] == before["held"] - 1

    post_and_check(client, world.alice, url, form, whole)
    assert HeldFile.objects.filter(pk=held["carol's"]).exists(), "carol's file stays hers"


# --- negotiation and fulfilment on the dispute page -----------------------------------------
@FUZZ
@given(data=st.data())
def test_the_proposal(client, world, data):
    who = data.draw(st.sampled_from(["seller", "buyer"]))
    dispute = world.open  # the seller answers; the buyer may not counter yet
    form = {
        "outcome": data.draw(
            field(["partial_refund", "replacement", "coupon", "rejected", "full_refund"])
        ),
        "amount": data.draw(st.one_of(NUMBER, st.none())),
        "note": data.draw(TEXT),
        "revision": data.draw(with_revision(dispute)),
    }
    user = world.bob if who == "seller" else world.alice
    post_and_check(
        client, user, reverse("disputes:propose", args=[dispute.pk]), form, one_more_event
    )


@FUZZ
@given(data=st.data())
def test_the_decline(client, world, data):
    """The seller declines the buyer's request (the buyer may not decline her own)."""
    dispute = world.open
    form = {
        "reason": data.draw(TEXT),
        "revision": data.draw(with_revision(dispute)),
    }
    user = data.draw(st.sampled_from([dispute.store.owner, dispute.buyer]))
    url = reverse("disputes:decline", args=[dispute.pk])
    post_and_check(client, user, url, form, one_more_event)


@FUZZ
@given(data=st.data())
def test_the_objection_to_a_ruling(client, world, data):
    form = {
        "reason": data.draw(TEXT),
        "revision": data.draw(with_revision(world.ruled)),
        "files": files_for(data.draw(FILES)),
    }
    user = data.draw(st.sampled_from([world.alice, world.dave]))
    url = reverse("disputes:object_ruling", args=[world.ruled.pk])
    post_and_check(client, user, url, form, one_more_event)


def _shipment(client: Any, data: Any, dispute: Dispute, user: Any, name: str) -> None:
    form = {
        "carrier": data.draw(TEXT),
        "tracking": data.draw(st.one_of(TEXT, st.just("RR123456789CN"))),
        "revision": data.draw(with_revision(dispute)),
    }
    post_and_check(client, user, reverse(name, args=[dispute.pk]), form, one_more_event)


@FUZZ
@given(data=st.data())
def test_the_return_shipment(client, world, data):
    _shipment(client, data, world.returning, world.alice, "disputes:ship_return")


@FUZZ
@given(data=st.data())
def test_the_replacement_shipment(client, world, data):
    _shipment(client, data, world.replacing, world.dave, "disputes:ship_replacement")


@FUZZ
@given(data=st.data())
def test_the_message(client, world, data):
    dispute = data.draw(st.sampled_from([world.open, world.returning, world.escalated]))
    person = dispute.buyer if data.draw(st.booleans()) else dispute.store.owner
    url = reverse("disputes:message", args=[dispute.pk])
    form = {"body": data.draw(TEXT), "files": files_for(data.draw(FILES))}
    post_and_check(client, person, url, form, one_more_event)


@FUZZ
@given(data=st.data())
def test_the_evidence_upload(client, world, data):
    dispute = data.draw(st.sampled_from([world.open, world.returning, world.escalated]))
    person = dispute.buyer if data.draw(st.booleans()) else dispute.store.owner
    url = reverse("disputes:evidence_add", args=[dispute.pk])
    post_and_check(client, person, url, {"files": files_for(data.draw(FILES))}, one_more_event)


# --- the arbitrators' desk in admin ---------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_the_ruling(client, world, data):
    dispute = world.escalated
    form = {
        "outcome": data.draw(
            field(["full_refund", "partial_refund", "return_and_refund", "rejected"])
        ),
        "amount": data.draw(st.one_of(NUMBER, st.none())),
        "reason": data.draw(TEXT),
        "revision": data.draw(with_revision(dispute)),
    }
    url = reverse("admin:disputes_dispute_rule", args=[dispute.pk])
    post_and_check(client, world.sam, url, form, one_more_event)


@FUZZ
@given(data=st.data())
def test_the_evidence_request(client, world, data):
    form = {
        "party": data.draw(field(["buyer", "seller", "staff"])),
        "note": data.draw(TEXT),
        "days": data.draw(st.one_of(NUMBER, st.none())),
    }
    url = reverse("admin:disputes_dispute_request_evidence", args=[world.escalated.pk])
    post_and_check(client, world.sam, url, form, one_more_event)


# --- the buyer's complaint ------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_the_complaint(client, world, data):
    url = reverse("complaints:open", args=[world.closed_order.number])
    form = {"body": data.draw(TEXT), "evidence": files_for(data.draw(FILES))}

    def whole(before: dict, after: dict) -> bool:
        return (
            after["complaints"] == before["complaints"] + 1 and after["events"] == before["events"]
        )

    post_and_check(client, world.alice, url, form, whole)
