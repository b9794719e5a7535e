"""A marketplace's worth of data for the page benchmarks (issue 16), built once per database.

50,000 orders (about 100,000 lines) over a year, 10,000 disputes in every state a dispute
lives in (waiting for the seller, negotiating, with an arbitrator, ruled, a return or a
replacement under way, resolved, withdrawn) with their events, messages and notifications,
complaints, and the people the benchmark logs in as:

- ``bench-buyer``: 200 orders (one of them disputed through the portal's own services,
  with a photo, a proposal and messages: the dispute page the benchmark loads);
- ``bench-seller``: owner of ``bench-big``, a store with 5,000 orders and 1,000 disputes;
- ``bench-arbitrator``: staff in the Arbitrators group; about 1,500 cases wait in the
  arbitration queue.

The people come from ``tests.factories`` (the personas as they are, the crowd as plain
instances with one password hash shared, since hashing 6,000 passwords would take most
of an hour); orders, disputes and their records are plain model instances written with
``bulk_create`` in batches, with dates and clocks from ``disputes.deadlines`` as the
services would have set them. Built in about a minute; a marker group says the set is
complete (and was made by this version of this file), so a second run reuses it
(``BENCH_PAGES_REBUILD=1`` builds it again).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# The set is complete when this group exists; its name changes with this file, so a changed
# generator builds the set again.
MARKER = "bench:pages-data-" + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
ORDERS = 50_000
BIG_STORE_ORDERS = 5_000
BUYER_ORDERS = 200
DISPUTES = 10_000
BIG_STORE_DISPUTES = 1_000
BUYER_DISPUTES = 30
BUYERS = 6_000
STORES = 200
COMPLAINTS = 3_000
BUYER_COMPLAINTS = 25
BATCH = 2_000
SHOWCASE_DESCRIPTION = "The dress arrived with a torn seam along the left side"

# Each recipe: a dispute's story up to a state, and its share of the disputes.
RECIPES = (
    ("open", 0.20),
    ("negotiating", 0.20),
    ("escalated", 0.15),
    ("ruled", 0.03),
    ("awaiting_return", 0.04),
    ("awaiting_replacement", 0.02),
    ("resolved", 0.31),
    ("withdrawn", 0.05),
)
PRODUCTS = (
    ("Summer dress", ("Red", "Blue", "Green"), ("S", "M", "L")),
    ("Canvas bag", ("Natural", "Black"), ("",)),
    ("Phone case", ("Clear", "Black", "Pink"), ("",)),
    ("Running shoes", ("White", "Grey"), ("40", "41", "42", "43")),
    ("Desk lamp", ("Black", "Silver"), ("",)),
    ("Wool scarf", ("Grey", "Navy"), ("",)),
    ("Wireless earbuds", ("White", "Black"), ("",)),
    ("Kitchen scale", ("",), ("",)),
)
CARRIERS = ("China Post", "DHL", "UPS", "Cainiao", "PostNL")


@dataclass(frozen=True)
class Personas:
    buyer_id: int
    seller_id: int
    arbitrator_id: int
    store_id: int
    dispute_id: int


@dataclass(frozen=True)
class Size:
    orders: int = ORDERS
    big_store_orders: int = BIG_STORE_ORDERS
    disputes: int = DISPUTES
    big_store_disputes: int = BIG_STORE_DISPUTES
    buyers: int = BUYERS
    stores: int = STORES
    complaints: int = COMPLAINTS

    @classmethod
    def scaled(cls, scale: float) -> Size:
        full = cls()
        return cls(
            orders=max(round(full.orders * scale), BUYER_ORDERS * 3),
            big_store_orders=max(round(full.big_store_orders * scale), 100),
            disputes=max(round(full.disputes * scale), 120),
            big_store_disputes=max(round(full.big_store_disputes * scale), 40),
            buyers=max(round(full.buyers * scale), 20),
            stores=max(round(full.stores * scale), 3),
            complaints=max(round(full.complaints * scale), 10),
        )


@dataclass
class _Story:
    """A dispute being written: its fields and its events, in order."""

    fields: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)


def _log(message: str) -> None:
    print(f"  [largedata] {message}", flush=True)


def ensure_large_data(*, log: Callable[[str], None] = _log) -> Personas:
    """The data set in the current database: reused when complete, else built from empty."""
    from django.contrib.auth.models import Group

    if Group.objects.filter(name=MARKER).exists() and not os.environ.get("BENCH_PAGES_REBUILD"):
        log("the large data set is already there: reused")
        return personas()
    started = time.monotonic()
    build(log=log)
    log(f"built in {time.monotonic() - started:.0f} s")
    return personas()


def personas() -> Personas:
    from django.contrib.auth import get_user_model

    from disputes.models import Dispute
    from orders.models import Store

    users = dict(
        get_user_model()
        .objects.filter(username__in=["bench-buyer", "bench-seller", "bench-arbitrator"])
        .values_list("username", "pk")
    )
    store = Store.objects.get(slug="bench-big")
    dispute = Dispute.objects.filter(
        buyer_id=users["bench-buyer"], description__startswith=SHOWCASE_DESCRIPTION
    ).get()
    return Personas(
        buyer_id=users["bench-buyer"],
        seller_id=users["bench-seller"],
        arbitrator_id=users["bench-arbitrator"],
        store_id=store.pk,
        dispute_id=dispute.pk,
    )


def build(*, log: Callable[[str], None] = _log, seed: int = 16, scale: float = 1.0) -> None:
    """Empty the database and write the whole set, then VACUUM ANALYZE and set the marker.
    ``scale`` shrinks the crowd, the orders and the disputes (not the persona buyer's 200
    orders and 30 disputes) for a test of the generator itself."""
    from django.core.management import call_command

    import disputes.notifications as notifications
    from portal.celery import app

    call_command("flush", interactive=False, verbosity=0)
    # The outbox rows are written; nothing is mailed (as in benchmarks/sweep.py). Tasks the
    # services queue (the photo's thumbnail) run here and now: no message is left for a
    # worker of another database. Both as they were afterwards.
    queue_delivery, eager = notifications.queue_delivery, app.conf.task_always_eager
    notifications.queue_delivery = lambda ids: None
    app.conf.task_always_eager = True
    try:
        _write_all(log=log, rng=random.Random(seed), size=Size.scaled(scale))
    finally:
        notifications.queue_delivery, app.conf.task_always_eager = queue_delivery, eager


def _write_all(*, log: Callable[[str], None], rng: random.Random, size: Size) -> None:
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.utils import timezone

    now = timezone.now().replace(microsecond=0)
    step = time.monotonic()

    def done(what: str) -> None:
        nonlocal step
        log(f"{what} ({time.monotonic() - step:.1f} s)")
        step = time.monotonic()

    people = _people(rng, size)
    done(f"{len(people['buyers']) + 1} buyers, {len(people['stores'])} stores, 4 arbitrators")
    orders, lines_of = _orders(rng, people, now, size)
    stories = _disputes(rng, people, orders, lines_of, now, size)
    _settle_money(orders, lines_of, stories)
    _write_orders(orders, lines_of)
    done(f"{len(orders)} orders, {sum(len(v) for v in lines_of.values())} lines")
    counts = _write_disputes(stories, people, now, rng)
    done(
        f"{len(stories)} disputes, {counts['events']} events, {counts['messages']} messages,"
        f" {counts['notifications']} notifications"
    )
    complaints = _complaints(rng, people, orders, now, size)
    done(f"{complaints} complaints")
    _showcase(people, now)
    done("the buyer's dispute through the portal's services")
    with connection.cursor() as cursor:
        # VACUUM as autovacuum would on a live database: it sets the visibility map, so
        # counts can be index-only scans, as they are in production.
        cursor.execute("VACUUM ANALYZE")
    Group.objects.create(name=MARKER)
    done("VACUUM ANALYZE")


# --- people and stores ------------------------------------------------------------------------
def _people(rng: random.Random, size: Size) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from orders.models import Store
    from tests.factories import PASSWORD, StoreFactory, UserFactory, make_arbitrator

    User = get_user_model()
    buyer = UserFactory(username="bench-buyer", first_name="Bella", last_name="Buyer")
    seller = UserFactory(username="bench-seller", first_name="Sid", last_name="Seller")
    arbitrator = make_arbitrator("bench-arbitrator")
    others = [make_arbitrator(f"bench-arbitrator-{n}") for n in (2, 3, 4)]
    big = StoreFactory(owner=seller, name="Bench Big Store", slug="bench-big")
    hashed = make_password(PASSWORD)
    crowd = User.objects.bulk_create(
        (
            User(
                username=f"buyer{n:05d}",
                email=f"buyer{n:05d}@example.com",
                first_name=rng.choice(("Ann", "Boris", "Chen", "Dara", "Eve", "Farid")),
                last_name=f"Buyer {n}",
                password=hashed,
            )
            for n in range(size.buyers)
        ),
        batch_size=BATCH,
    )
    owners = User.objects.bulk_create(
        (
            User(username=f"seller{n:03d}", email=f"seller{n:03d}@example.com", password=hashed)
            for n in range(size.stores - 1)
        ),
        batch_size=BATCH,
    )
    stores = Store.objects.bulk_create(
        StoreFactory.build(owner=owner, name=f"Store {n:03d}", slug=f"store-{n:03d}")
        for n, owner in enumerate(owners)
    )
    stores.insert(0, big)
    return {
        "buyer": buyer,
        "seller": seller,
        "arbitrator": arbitrator,
        "arbitrators": [arbitrator, *others],
        "big": big,
        "stores": stores,
        "owner_of": {store.pk: store.owner_id for store in stores},
        "buyers": [user.pk for user in crowd],
    }


# --- orders -------------------------------------------------------------------------------------
def _orders(
    rng: random.Random, people: dict[str, Any], now: datetime, size: Size
) -> tuple[list[Any], dict[int, list[Any]]]:
    """Orders over the last year (oldest first, as ids would run), their lines by index."""
    from disputes import deadlines
    from orders.models import Order, OrderLine
    from orders.states import CompletionReason, OrderState

    big, buyer = people["big"], people["buyer"]
    others = people["stores"][1:]
    specs: list[tuple[int, int]] = []  # (buyer_id, store_id)
    specs += [(rng.choice(people["buyers"]), big.pk) for _ in range(size.big_store_orders - 20)]
    # The persona buyer: 199 here and one more through the services (_showcase).
    specs += [(buyer.pk, big.pk)] * 19
    specs += [(buyer.pk, rng.choice(others).pk) for _ in range(BUYER_ORDERS - 20)]
    specs += [
        (rng.choice(people["buyers"]), rng.choice(others).pk)
        for _ in range(size.orders - len(specs) - 1)
    ]
    placed = sorted(now - timedelta(seconds=rng.uniform(3600, 365 * 86400)) for _ in specs)
    rng.shuffle(specs)
    orders, lines_of = [], {}
    for index, ((buyer_id, store_id), placed_at) in enumerate(zip(specs, placed, strict=True)):
        lines = []
        for _ in range(rng.choice((1, 1, 2, 2, 2, 3))):
            name, colours, sizes = rng.choice(PRODUCTS)
            lines.append(
                OrderLine(
                    product_name=name,
                    colour=rng.choice(colours),
                    size=rng.choice(sizes),
                    quantity=rng.choice((1, 1, 1, 2)),
                    unit_price=Decimal(rng.randrange(300, 12000)) / 100,
                )
            )
        fields: dict[str, Any] = {
            "number": f"BP-{index:08d}",
            "buyer_id": buyer_id,
            "store_id": store_id,
            "total_paid": sum((line.amount_paid for line in lines), Decimal("0")),
            "payment_method": rng.choice(("card", "card", "card", "paypal")),
            "placed_at": placed_at,
            "protection_days": 60,
            "currency": "USD",
        }
        shipped = placed_at + timedelta(hours=rng.uniform(6, 72))
        if rng.random() < 0.04 and now - placed_at > timedelta(days=1):
            fields.update(state=OrderState.CANCELLED, cancelled_at=placed_at + timedelta(hours=5))
        elif shipped > now:
            fields.update(state=OrderState.PAID)
        else:
            ends = deadlines.protection_ends_at(shipped_at=shipped, protection_days=60)
            fields.update(
                state=OrderState.SHIPPED,
                shipped_at=shipped,
                protection_ends_at=ends,
                carrier=rng.choice(CARRIERS),
                tracking_number=f"RR{rng.randrange(10**8, 10**9)}CN",
            )
            confirmed = shipped + timedelta(days=rng.uniform(7, 25))
            completed = None
            if rng.random() < 0.45 and confirmed < now:
                completed, reason = confirmed, CompletionReason.BUYER_CONFIRMED
            elif ends < now:
                completed, reason = ends, CompletionReason.PROTECTION_EXPIRED
            if completed is not None:
                fields.update(
                    state=OrderState.COMPLETED,
                    completed_at=completed,
                    completion_reason=reason,
                    dispute_window_ends_at=deadlines.post_close_ends_at(completed_at=completed),
                )
        orders.append(Order(**fields))
        lines_of[index] = lines
    return orders, lines_of


# --- disputes -----------------------------------------------------------------------------------
class _Picker:
    """Lines of shipped orders, found by when the order shipped: a dispute opened at ``t``
    goes to an order shipped in the two months before ``t``; each line is disputed once."""

    def __init__(self, orders: list[Any], indexes: list[int], lines_of: dict[int, list[Any]]):
        shipped = sorted(
            (orders[i].shipped_at, i) for i in indexes if orders[i].shipped_at is not None
        )
        self.times = [t for t, _ in shipped]
        self.indexes = [i for _, i in shipped]
        self.lines_of = lines_of
        self.used: set[int] = set()

    def pick(self, rng: random.Random, opened_at: datetime) -> tuple[int, Any] | None:
        lo = bisect.bisect_left(self.times, opened_at - timedelta(days=58))
        hi = bisect.bisect_left(self.times, opened_at - timedelta(hours=12))
        if hi <= lo:
            lo, hi = 0, max(hi, 1)
        for _ in range(40):
            index = self.indexes[rng.randrange(lo, hi)]
            free = [line for line in self.lines_of[index] if id(line) not in self.used]
            if free:
                line = rng.choice(free)
                self.used.add(id(line))
                return index, line
        return None


def _disputes(
    rng: random.Random,
    people: dict[str, Any],
    orders: list[Any],
    lines_of: dict[int, list[Any]],
    now: datetime,
    size: Size,
) -> list[_Story]:
    big, buyer = people["big"].pk, people["buyer"].pk
    pools = {"big": [], "buyer": [], "rest": []}
    for index, order in enumerate(orders):
        if order.buyer_id == buyer:
            pools["buyer"].append(index)
        elif order.store_id == big:
            pools["big"].append(index)
        else:
            pools["rest"].append(index)
    # The persona's first (some land at the big store), then the big store's to make its
    # number (the one opened through the services, _showcase, counts too), then the rest.
    stories: list[_Story] = []
    mine = _pool_stories(rng, people, orders, lines_of, now, pools["buyer"], BUYER_DISPUTES)
    at_big = sum(1 for story in mine if story.fields["store_id"] == big)
    big_count = size.big_store_disputes - 1 - at_big
    stories += mine
    stories += _pool_stories(rng, people, orders, lines_of, now, pools["big"], big_count)
    rest = size.disputes - 1 - len(stories)
    stories += _pool_stories(rng, people, orders, lines_of, now, pools["rest"], rest)
    return stories


def _pool_stories(
    rng: random.Random,
    people: dict[str, Any],
    orders: list[Any],
    lines_of: dict[int, list[Any]],
    now: datetime,
    pool: list[int],
    count: int,
) -> list[_Story]:
    """``count`` disputes on lines of these orders, in the recipes' proportions."""
    picker = _Picker(orders, pool, lines_of)
    kinds = [kind for kind, share in RECIPES for _ in range(round(share * count))]
    kinds = (kinds + ["resolved"] * count)[:count]
    stories = []
    for kind in kinds:
        for _attempt in range(20):
            story = _story(kind, rng, now, people)
            picked = picker.pick(rng, story.fields["opened_at"])
            if picked is not None:
                index, line = picked
                _fill(story, orders[index], index, line, people, rng)
                stories.append(story)
                break
    return stories


def _at(base: datetime, rng: random.Random, low_days: float, high_days: float) -> datetime:
    return base + timedelta(seconds=rng.uniform(low_days, high_days) * 86400)


def _story(kind: str, rng: random.Random, now: datetime, people: dict[str, Any]) -> _Story:
    """The times of a dispute's story, latest first from ``now`` back to its opening."""
    from disputes import deadlines

    t: dict[str, Any] = {"kind": kind}
    # Escalation comes when the negotiation clock runs out, the ruling's effect when the
    # reply clock does.
    negotiation = deadlines.negotiation_ends_at(first_answer_at=now) - now
    reply = deadlines.ruling_reply_due_at(ruled_at=now) - now
    if kind == "open":
        t["opened_at"] = _at(now, rng, -4.5, -0.01)
    elif kind == "negotiating":
        t["answered_at"] = _at(now, rng, -6.5, -0.01)
        t["opened_at"] = _at(t["answered_at"], rng, -4.5, -0.05)
    elif kind in ("escalated", "ruled"):
        if kind == "ruled":
            t["ruled_at"] = _at(now, rng, -4.5, -0.01)
            t["escalated_at"] = _at(t["ruled_at"], rng, -14, -0.5)
        else:
            t["escalated_at"] = _at(now, rng, -55, -0.01)
        t["answered_at"] = t["escalated_at"] - negotiation
        t["opened_at"] = _at(t["answered_at"], rng, -4.5, -0.05)
    elif kind in ("awaiting_return", "awaiting_replacement"):
        t["agreed_at"] = _at(now, rng, -6.5 if kind == "awaiting_replacement" else -9.5, -0.01)
        t["answered_at"] = _at(t["agreed_at"], rng, -2, -0.01)
        t["opened_at"] = _at(t["answered_at"], rng, -4, -0.05)
    elif kind == "resolved":
        t["finished_at"] = _at(now, rng, -300, -0.5)
        t["arbitrated"] = rng.random() < 0.3
        if t["arbitrated"]:
            t["ruled_at"] = t["finished_at"] - reply
            t["escalated_at"] = _at(t["ruled_at"], rng, -14, -0.5)
            t["answered_at"] = t["escalated_at"] - negotiation
            t["opened_at"] = _at(t["answered_at"], rng, -4.5, -0.05)
        else:
            t["opened_at"] = _at(t["finished_at"], rng, -4.5, -0.05)
    elif kind == "withdrawn":
        t["finished_at"] = _at(now, rng, -300, -0.5)
        t["opened_at"] = _at(t["finished_at"], rng, -4, -0.05)
    return _Story(fields={"opened_at": t["opened_at"]}, events=[t])


def _fill(
    story: _Story,
    order: Any,
    index: int,
    line: Any,
    people: dict[str, Any],
    rng: random.Random,
) -> None:
    """The dispute's fields and events, as the transitions and services would write them."""
    from disputes import deadlines
    from disputes.states import (
        Closing,
        DeadlineKind,
        DisputeState,
        EventKind,
        OutcomeType,
        Party,
        Reason,
        ReminderKind,
        RequestedOutcome,
    )

    t = story.events.pop()
    kind = t["kind"]
    buyer, seller = order.buyer_id, people["owner_of"][order.store_id]
    cap = line.amount_paid
    reason = rng.choice([r for r in Reason.values if r != Reason.OTHER])
    received = reason != Reason.NOT_RECEIVED
    wants_return = kind == "awaiting_return" or (
        received and kind not in ("resolved",) and rng.random() < 0.2
    )
    requested_outcome = (
        RequestedOutcome.RETURN_AND_REFUND if wants_return else RequestedOutcome.REFUND_ONLY
    )
    requested = cap if rng.random() < 0.7 or cap < 2 else (cap / 2).quantize(Decimal("0.01"))
    if wants_return:
        original = OutcomeType.RETURN_AND_REFUND
    else:
        original = OutcomeType.FULL_REFUND if requested == cap else OutcomeType.PARTIAL_REFUND
    opened = t["opened_at"]
    f = story.fields
    f.update(
        order_index=index,
        line=line,
        buyer_id=buyer,
        store_id=order.store_id,
        received=received,
        reason=reason,
        description=rng.choice(
            (
                "The item does not match the photos on the listing.",
                "Parcel never arrived, tracking stuck for weeks.",
                "Broken on arrival, photos attached.",
                "Two of the three parts are missing from the box.",
            )
        ),
        quantity=line.quantity,
        requested_outcome=requested_outcome,
        requested_amount=requested,
        amount_cap=cap,
        currency="USD",
        state=DisputeState.OPEN,
        proposal_type=original,
        proposal_amount=requested,
        proposal_by=Party.BUYER,
        proposal_at=opened,
    )
    events = story.events

    def event(kind_, at, party, actor, before, after, **data: Any) -> None:
        events.append(
            {
                "kind": kind_,
                "created_at": at,
                "actor_party": party,
                "actor_id": actor,
                "from_state": before,
                "to_state": after,
                "data": data,
            }
        )

    def clock(kind_: str, due: datetime) -> None:
        f.update(next_deadline_at=due, deadline_kind=kind_)

    def decide(outcome: str, amount: Decimal | None, party: str, at: datetime) -> None:
        f.update(
            outcome_type=outcome,
            outcome_amount=amount,
            decided_by=party,
            decided_at=at,
            next_deadline_at=None,
            deadline_kind="",
            reminder_at=None,
            reminder_kind="",
        )

    event(
        EventKind.OPENED,
        opened,
        Party.BUYER,
        buyer,
        "",
        DisputeState.OPEN,
        reason=reason,
        received=received,
        quantity=line.quantity,
        requested_outcome=requested_outcome,
        amount=str(requested),
    )
    due = deadlines.seller_response_due_at(opened_at=opened)
    clock(DeadlineKind.SELLER_RESPONSE, due)
    f.update(
        reminder_at=deadlines.reminder_at(kind=ReminderKind.SELLER_RESPONSE, due=due),
        reminder_kind=ReminderKind.SELLER_RESPONSE,
    )
    if kind == "open":
        return
    if kind == "withdrawn":
        at = t["finished_at"]
        f["state"] = DisputeState.WITHDRAWN
        decide(OutcomeType.WITHDRAWN, None, Party.BUYER, at)
        f.update(closing=Closing.WITHDRAWN, finished_at=at)
        event(EventKind.WITHDRAWN, at, Party.BUYER, buyer, DisputeState.OPEN, f["state"])
        return
    answered = t.get("answered_at") or t.get("finished_at")
    f["first_answer_at"] = answered
    f.update(reminder_at=None, reminder_kind="")
    if kind == "resolved" and not t["arbitrated"]:
        at = t["finished_at"]
        f["first_answer_at"] = at
        decide(original, requested, Party.SELLER, at)
        f.update(state=DisputeState.RESOLVED, closing=Closing.REFUNDED, finished_at=at)
        line.refunded_total = requested
        event(EventKind.ACCEPTED, at, Party.SELLER, seller, DisputeState.OPEN, DisputeState.AGREED)
        event(
            EventKind.RESOLVED, at, Party.PLATFORM, None, DisputeState.AGREED, f["state"],
            closing=Closing.REFUNDED,
        )  # fmt: skip
        return
    if kind in ("awaiting_return", "awaiting_replacement"):
        agreed = t["agreed_at"]
        if kind == "awaiting_return":
            decide(OutcomeType.RETURN_AND_REFUND, requested, Party.SELLER, agreed)
            f["first_answer_at"] = agreed
            event(
                EventKind.ACCEPTED, agreed, Party.SELLER, seller, DisputeState.OPEN,
                DisputeState.AGREED, outcome=OutcomeType.RETURN_AND_REFUND,
                amount=str(requested), decided_by=Party.SELLER,
            )  # fmt: skip
            event(
                EventKind.RETURN_STARTED, agreed, Party.PLATFORM, None, DisputeState.AGREED,
                DisputeState.AWAITING_RETURN,
            )  # fmt: skip
            f["state"] = DisputeState.AWAITING_RETURN
            due = deadlines.return_shipment_due_at(agreed_at=agreed)
            clock(DeadlineKind.RETURN_SHIPMENT, due)
            f.update(
                reminder_at=deadlines.reminder_at(kind=ReminderKind.RETURN_SHIPMENT, due=due),
                reminder_kind=ReminderKind.RETURN_SHIPMENT,
            )
            if rng.random() < 0.5:
                shipped = _at(agreed, rng, 0.01, 0.4)
                f.update(
                    return_carrier=rng.choice(CARRIERS),
                    return_tracking=f"RT{rng.randrange(10**8, 10**9)}",
                    return_shipped_at=shipped,
                    reminder_at=None,
                    reminder_kind="",
                )
                clock(
                    DeadlineKind.RETURN_RECEIPT,
                    deadlines.return_receipt_due_at(shipped_at=shipped),
                )
                event(
                    EventKind.RETURN_SHIPPED, shipped, Party.BUYER, buyer, f["state"], f["state"],
                    carrier=f["return_carrier"], tracking=f["return_tracking"],
                )  # fmt: skip
            return
        proposed = t["answered_at"]
        f.update(
            proposal_type=OutcomeType.REPLACEMENT,
            proposal_amount=None,
            proposal_by=Party.SELLER,
            proposal_at=proposed,
        )
        event(
            EventKind.PROPOSED, proposed, Party.SELLER, seller, DisputeState.OPEN,
            DisputeState.SELLER_RESPONDED, outcome=OutcomeType.REPLACEMENT, amount=None,
        )  # fmt: skip
        decide(OutcomeType.REPLACEMENT, None, Party.BUYER, agreed)
        event(
            EventKind.ACCEPTED, agreed, Party.BUYER, buyer, DisputeState.SELLER_RESPONDED,
            DisputeState.AGREED, outcome=OutcomeType.REPLACEMENT, amount=None,
            decided_by=Party.BUYER,
        )  # fmt: skip
        event(
            EventKind.REPLACEMENT_STARTED, agreed, Party.PLATFORM, None, DisputeState.AGREED,
            DisputeState.AWAITING_REPLACEMENT,
        )  # fmt: skip
        f["state"] = DisputeState.AWAITING_REPLACEMENT
        clock(
            DeadlineKind.REPLACEMENT_SHIPMENT,
            deadlines.replacement_shipment_due_at(agreed_at=agreed),
        )
        return
    # The seller answers with a partial refund; then negotiation, maybe arbitration.
    offer = (cap / 2).quantize(Decimal("0.01"))
    f.update(
        state=DisputeState.SELLER_RESPONDED,
        proposal_type=OutcomeType.PARTIAL_REFUND,
        proposal_amount=offer,
        proposal_by=Party.SELLER,
        proposal_note="Half back and you keep the item?",
        proposal_at=answered,
    )
    event(
        EventKind.PROPOSED, answered, Party.SELLER, seller, DisputeState.OPEN,
        DisputeState.SELLER_RESPONDED, outcome=OutcomeType.PARTIAL_REFUND, amount=str(offer),
    )  # fmt: skip
    clock(DeadlineKind.NEGOTIATION, deadlines.negotiation_ends_at(first_answer_at=answered))
    if kind == "negotiating":
        return
    escalated = t["escalated_at"]
    target = deadlines.arbitration_target_at(escalated_at=escalated)
    limit = deadlines.arbitration_limit_at(escalated_at=escalated)
    f.update(
        state=DisputeState.ESCALATED,
        escalated_at=escalated,
        arbitration_target_at=target,
        arbitration_limit_at=limit,
    )
    clock(DeadlineKind.ARBITRATION_LIMIT, limit)
    reminder = deadlines.reminder_at(kind=ReminderKind.ARBITRATION_TARGET, due=target)
    if reminder > escalated:
        f.update(reminder_at=reminder, reminder_kind=ReminderKind.ARBITRATION_TARGET)
    event(
        EventKind.ESCALATED, escalated, Party.DEADLINE, None, DisputeState.SELLER_RESPONDED,
        DisputeState.ESCALATED,
    )  # fmt: skip
    assigned = kind != "escalated" or rng.random() < 0.4
    if not assigned:
        return
    arbitrator = (
        people["arbitrator"] if rng.random() < 0.5 else rng.choice(people["arbitrators"][1:])
    )
    assigned_at = _at(escalated, rng, 0.01, 0.5)
    f["assignee_id"] = arbitrator.pk
    event(
        EventKind.ASSIGNED, assigned_at, Party.STAFF, arbitrator.pk, DisputeState.ESCALATED,
        DisputeState.ESCALATED, assignee=arbitrator.pk,
    )  # fmt: skip
    if kind == "escalated":
        return
    ruled = t["ruled_at"]
    ruling = OutcomeType.REJECTED if rng.random() < 0.4 else OutcomeType.FULL_REFUND
    amount = None if ruling == OutcomeType.REJECTED else cap
    f.update(
        state=DisputeState.RULED,
        ruling_round=1,
        ruling_type=ruling,
        ruling_amount=amount,
        ruling_reason="The photos show the defect the buyer describes."
        if amount
        else "The tracking shows delivery and the photos show no defect.",
        ruled_at=ruled,
        ruled_by_id=arbitrator.pk,
        reminder_at=None,
        reminder_kind="",
    )
    clock(DeadlineKind.RULING_REPLY, deadlines.ruling_reply_due_at(ruled_at=ruled))
    event(
        EventKind.RULED, ruled, Party.STAFF, arbitrator.pk, DisputeState.ESCALATED,
        DisputeState.RULED, outcome=ruling, amount=str(amount) if amount else None,
    )  # fmt: skip
    if kind == "ruled":
        return
    # resolved after arbitration: the reply clock ran out, the ruling took effect.
    at = t["finished_at"]
    decide(ruling, amount, Party.STAFF, at)
    closing = Closing.REJECTED if amount is None else Closing.REFUNDED
    if amount:
        line.refunded_total = amount
    f.update(state=DisputeState.RESOLVED, closing=closing, finished_at=at)
    event(
        EventKind.DEADLINE_PASSED, at, Party.DEADLINE, None, DisputeState.RULED,
        DisputeState.AGREED,
    )  # fmt: skip
    event(
        EventKind.RESOLVED, at, Party.PLATFORM, None, DisputeState.AGREED, DisputeState.RESOLVED,
        closing=closing,
    )  # fmt: skip


def _settle_money(orders: list[Any], lines_of: dict[int, list[Any]], stories: list[_Story]):
    """Refunds are on the lines already; a completed order paid the seller for every line
    not still in an unfinished dispute."""
    from orders.states import OrderState

    held = {id(s.fields["line"]) for s in stories if not s.fields.get("finished_at")}
    for index, order in enumerate(orders):
        refunded = paid_out = Decimal("0")
        for line in lines_of[index]:
            if order.state == OrderState.COMPLETED and id(line) not in held:
                line.paid_out_total = line.amount_paid - line.refunded_total
            refunded += line.refunded_total or 0
            paid_out += line.paid_out_total or 0
        order.refunded_total, order.paid_out_total = refunded, paid_out


def _write_orders(orders: list[Any], lines_of: dict[int, list[Any]]) -> None:
    from orders.models import Order, OrderLine

    Order.objects.bulk_create(orders, batch_size=BATCH)
    for index, order in enumerate(orders):
        for line in lines_of[index]:
            line.order = order
    OrderLine.objects.bulk_create(
        (line for index in range(len(orders)) for line in lines_of[index]), batch_size=BATCH
    )


def _write_disputes(
    stories: list[_Story], people: dict[str, Any], now: datetime, rng: random.Random
) -> dict[str, int]:
    from disputes.models import Dispute, DisputeEvent, DisputeMessage, Notification
    from disputes.states import EventKind, Party

    stories.sort(key=lambda s: s.fields["opened_at"])
    disputes = []
    for story in stories:
        values = {k: v for k, v in story.fields.items() if k != "order_index"}
        values["order_id"] = values["line"].order_id
        values["revision"] = len(story.events)
        disputes.append(Dispute(**values))
    Dispute.objects.bulk_create(disputes, batch_size=BATCH)

    # A quarter of the disputes that got past the opening have a message or two.
    messages, message_events = [], []
    for dispute, story in zip(disputes, stories, strict=True):
        if len(story.events) < 2 or rng.random() > 0.25:
            continue
        seller = people["owner_of"][dispute.store_id]
        for n in range(rng.choice((1, 2))):
            buyer_writes = n % 2 == 0
            at = story.events[0]["created_at"] + timedelta(hours=2 + n)
            message = DisputeMessage(
                dispute=dispute,
                author_id=dispute.buyer_id if buyer_writes else seller,
                author_party=Party.BUYER if buyer_writes else Party.SELLER,
                body="Could you look at the photos again, please?"
                if buyer_writes
                else "We checked the batch; let us find a solution.",
                created_at=at,
            )
            messages.append(message)
            state = story.events[0]["to_state"]
            message_events.append(
                (
                    dispute,
                    {
                        "kind": EventKind.MESSAGE,
                        "created_at": at,
                        "actor_party": message.author_party,
                        "actor_id": message.author_id,
                        "from_state": state,
                        "to_state": state,
                        "data": {},
                        "message": message,
                    },
                )
            )
    DisputeMessage.objects.bulk_create(messages, batch_size=BATCH)

    rows = [(dispute, e) for dispute, story in zip(disputes, stories, strict=True)
            for e in story.events] + message_events  # fmt: skip
    events = [
        DisputeEvent(dispute=dispute, processed_at=e["created_at"], note="", **e)
        for dispute, e in rows
    ]
    DisputeEvent.objects.bulk_create(events, batch_size=BATCH)

    notifications = []
    for event in events:
        dispute = event.dispute
        seller = people["owner_of"][dispute.store_id]
        if event.kind == EventKind.ASSIGNED:
            recipients = [event.data["assignee"]]
        elif event.kind == EventKind.MESSAGE:
            recipients = [pk for pk in (dispute.buyer_id, seller) if pk != event.actor_id]
        else:
            recipients = [dispute.buyer_id, seller]
        age = now - event.created_at
        for recipient in recipients:
            notifications.append(
                Notification(
                    recipient_id=recipient,
                    event=event,
                    created_at=event.created_at,
                    sent_at=event.created_at + timedelta(minutes=1)
                    if age > timedelta(minutes=10)
                    else None,
                    attempts=1 if age > timedelta(minutes=10) else 0,
                    read_at=event.created_at + timedelta(hours=rng.uniform(1, 48))
                    if rng.random() < (0.8 if age > timedelta(days=3) else 0.3)
                    and event.created_at + timedelta(hours=48) < now
                    else None,
                )
            )
    Notification.objects.bulk_create(notifications, batch_size=BATCH)
    return {"events": len(events), "messages": len(messages), "notifications": len(notifications)}


def _complaints(
    rng: random.Random, people: dict[str, Any], orders: list[Any], now: datetime, size: Size
) -> int:
    """Complaints on orders whose dispute windows have closed; most answered by staff."""
    from complaints.models import Complaint, ComplaintState

    closed = [
        o for o in orders if o.dispute_window_ends_at is not None and o.dispute_window_ends_at < now
    ]
    mine = [o for o in closed if o.buyer_id == people["buyer"].pk][:BUYER_COMPLAINTS]
    others = [o for o in closed if o.buyer_id != people["buyer"].pk]
    others = rng.sample(others, min(size.complaints, len(others)))
    rows = []
    for order in mine + others:
        sent = _at(order.dispute_window_ends_at, rng, 0.1, 20)
        sent = min(sent, now - timedelta(hours=1))
        answered = rng.random() < 0.6
        rows.append(
            Complaint(
                buyer_id=order.buyer_id,
                order=order,
                store_id=order.store_id,
                body="The seller stopped answering after the dispute window closed.",
                created_at=sent,
                state=ComplaintState.ANSWERED if answered else ComplaintState.OPEN,
                answer="We have warned the seller; thank you for telling us." if answered else "",
                answered_by=rng.choice(people["arbitrators"]) if answered else None,
                answered_at=sent + timedelta(hours=5) if answered else None,
            )
        )
    Complaint.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)


def _showcase(people: dict[str, Any], now: datetime) -> None:
    """The buyer's dispute at the big store, through the portal's own services: a photo,
    the seller's proposal, the buyer's decline and a conversation."""
    from disputes.services import (
        DisputeRequest,
        dispute_decline,
        dispute_post_message,
        dispute_propose,
    )
    from disputes.states import OutcomeType, Reason, RequestedOutcome
    from tests.factories import DRESS_LINES, make_order, open_dispute

    buyer, seller, big = people["buyer"], people["seller"], people["big"]
    shipped = now - timedelta(days=9)
    order = make_order(buyer=buyer, store=big, lines=DRESS_LINES, shipped_at=shipped)
    line = order.lines.order_by("pk").first()
    dispute = open_dispute(
        line=line,
        buyer=buyer,
        request=DisputeRequest(
            received=True,
            reason=Reason.DAMAGED,
            description=f"{SHOWCASE_DESCRIPTION}; it opened further after one wash.",
            quantity=1,
            requested_outcome=RequestedOutcome.REFUND_ONLY,
            requested_amount=Decimal("45.00"),
        ),
        now=now - timedelta(days=3),
    )
    dispute_propose(
        dispute_id=dispute.pk,
        user=seller,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("15.00"),
        note="A seam can be mended; we offer a third back.",
        now=now - timedelta(days=2, hours=20),
    )
    for n, (author, body) in enumerate(
        [
            (buyer, "A tailor asked 30 for the repair. Please look at the photo again."),
            (seller, "We see it. Could you send a photo of the label too?"),
            (buyer, "The label is cut out, as it came. I can send the dress back instead."),
            (seller, "Let us wait for the rest of the batch before we decide."),
        ]
    ):
        dispute_post_message(
            dispute_id=dispute.pk,
            user=author,
            body=body,
            now=now - timedelta(days=2, hours=12 - 3 * n),
        )
    dispute_decline(dispute_id=dispute.pk, user=buyer, now=now - timedelta(days=1))
