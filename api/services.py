"""What a marketplace does through the API, each step through the services the pages use.

Orders arrive by the marketplace's own ids: the buyer, the store and its seller are
created on first sight and found again after. Sending the same order twice changes
nothing; an unshipped order may be corrected; once shipped, its money and lines are
fixed."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from api.models import (
    ExternalOrder,
    ExternalPerson,
    ExternalStore,
    Integration,
    SignInLink,
    WebhookEndpoint,
)
from orders.models import Order, Store
from orders.services import (
    LineSpec,
    OrderError,
    OrderSpec,
    order_cancel,
    order_confirm_receipt,
    order_mark_shipped,
    order_replace_lines,
    orders_create_bulk,
)

User = get_user_model()
INGEST_ATTEMPTS = 3


class ApiRefusal(Exception):
    """A refused request, with its problem type and a sentence for the developer."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Person:
    id: str
    email: str
    name: str


@dataclass(frozen=True)
class StoreIn:
    id: str
    name: str
    seller: Person


@dataclass(frozen=True)
class OrderIn:
    id: str
    buyer: Person
    store: StoreIn
    lines: Sequence[LineSpec]
    currency: str
    payment_method: str
    amount_paid: Decimal
    paid_at: datetime
    protection_days: int
    # ISO 3166-1 alpha-2, or blank: not part of the money digest (it may be corrected until
    # the order ships, without the order counting as changed).
    destination_country: str = ""

    def money_digest(self) -> str:
        """What may not change after shipment: money, lines, currency and payment."""
        # Normalised, so that "45.0" and "45.00", or "Z" and "+00:00", are the same order.
        cents = Decimal("0.01")
        canonical = {
            "currency": self.currency,
            "payment_method": self.payment_method,
            "amount_paid": str(self.amount_paid.quantize(cents)),
            "paid_at": self.paid_at.astimezone(UTC).isoformat(),
            "protection_days": self.protection_days,
            "lines": [
                [
                    line.product_name,
                    line.colour,
                    line.size,
                    line.quantity,
                    str(Decimal(line.unit_price).quantize(cents)),
                ]
                for line in self.lines
            ],
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@dataclass
class Ingested:
    order: Order
    status: str  # created | updated | unchanged


@dataclass
class BatchResult:
    results: list[Ingested | ApiRefusal] = field(default_factory=list)


# --- people and stores --------------------------------------------------------------------
def _split(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first[:150], last[:150]


def _username(integration: Integration, external_id: str) -> str:
    base = slugify(f"{integration.pk}-{external_id}")[:120] or "person"
    return f"m{base}-{secrets.token_hex(3)}"


def _people(integration: Integration, people: Sequence[Person]) -> dict[str, Any]:
    """The users for these external ids, created on first sight (a few queries for any
    number). A known person's name and e-mail follow what the marketplace sends."""
    wanted = {person.id: person for person in people}
    known = {
        row.external_id: row.user
        for row in ExternalPerson.objects.filter(
            integration=integration, external_id__in=list(wanted)
        ).select_related("user")
    }
    changed = []
    for external_id, user in known.items():
        person = wanted[external_id]
        first, last = _split(person.name)
        if (user.email, user.first_name, user.last_name) != (person.email, first, last):
            user.email, user.first_name, user.last_name = person.email, first, last
            changed.append(user)
    if changed:
        User.objects.bulk_update(changed, ["email", "first_name", "last_name"])
    missing = [person for external_id, person in wanted.items() if external_id not in known]
    if missing:
        users = []
        for person in missing:
            first, last = _split(person.name)
            user = User(
                username=_username(integration, person.id),
                email=person.email,
                first_name=first,
                last_name=last,
            )
            user.set_unusable_password()  # they arrive by sign-in links
            users.append(user)
        users = User.objects.bulk_create(users)
        ExternalPerson.objects.bulk_create(
            ExternalPerson(integration=integration, external_id=person.id, user=user)
            for person, user in zip(missing, users, strict=True)
        )
        known.update({person.id: user for person, user in zip(missing, users, strict=True)})
    return known


def _stores(
    integration: Integration, stores: Sequence[StoreIn]
) -> tuple[dict[str, Store], dict[str, ApiRefusal]]:
    """The stores for these external ids, made on first sight, and the ids refused (a known
    store whose seller changed; a new store whose seller already has one): those orders are
    refused, the others go on."""
    wanted = {store.id: store for store in stores}
    known = {
        row.external_id: row.store
        for row in ExternalStore.objects.filter(
            integration=integration, external_id__in=list(wanted)
        ).select_related("store")
    }
    sellers = _people(integration, [store.seller for store in wanted.values()])
    refused: dict[str, ApiRefusal] = {}
    for external_id, store in list(known.items()):
        if store.owner_id != sellers[wanted[external_id].seller.id].pk:
            refused[external_id] = ApiRefusal(
                "conflict",
                f"Store {external_id!r} belongs to another seller; a store's seller cannot change.",
            )
            del known[external_id]
            continue
        if store.name != wanted[external_id].name[:120]:
            store.name = wanted[external_id].name[:120]
            store.save(update_fields=["name"])
    missing = [
        store
        for external_id, store in wanted.items()
        if external_id not in known and external_id not in refused
    ]
    if missing:
        taken = set(
            Store.objects.filter(
                owner__in=[sellers[store.seller.id] for store in missing]
            ).values_list("owner_id", flat=True)
        )
        fresh, owners_now = [], set()
        for store in missing:
            owner = sellers[store.seller.id]
            if owner.pk in taken or owner.pk in owners_now:
                refused[store.id] = ApiRefusal(
                    "conflict",
                    f"Store {store.id!r}: its seller already owns another store; each seller "
                    "owns one store.",
                )
                continue
            owners_now.add(owner.pk)
            fresh.append((store, owner))
        created = Store.objects.bulk_create(
            Store(
                name=store.name[:120],
                slug=f"{slugify(store.name)[:40] or 'store'}-{secrets.token_hex(4)}",
                owner=owner,
            )
            for store, owner in fresh
        )
        ExternalStore.objects.bulk_create(
            ExternalStore(integration=integration, external_id=store.id, store=row)
            for (store, _owner), row in zip(fresh, created, strict=True)
        )
        known.update({store.id: row for (store, _owner), row in zip(fresh, created, strict=True)})
    return known, refused


# --- orders in ----------------------------------------------------------------------------
def _check_money(order: OrderIn) -> None:
    total = sum((line.unit_price * line.quantity for line in order.lines), Decimal("0"))
    if total != order.amount_paid:
        raise ApiRefusal(
            "validation",
            f"amount_paid {order.amount_paid} is not the sum of the lines ({total}).",
        )


def _spec(order: OrderIn, buyer: Any, store: Store) -> OrderSpec:
    return OrderSpec(
        buyer_id=buyer.pk,
        store_id=store.pk,
        lines=order.lines,
        payment_method=order.payment_method,
        currency=order.currency,
        placed_at=order.paid_at,
        protection_days=order.protection_days,
    )


def orders_ingest(*, integration: Integration, orders: Sequence[OrderIn]) -> BatchResult:
    """Create or update orders by the marketplace's ids, in one transaction per call.

    New orders are written in bulk (a handful of queries for up to 500); a known order sent
    again unchanged is left alone; a changed one is corrected if it has not shipped and
    refused ("order-locked") if it has. Each order gets its own result; a refused order
    does not stop the others."""
    result = BatchResult()
    slots: list[Ingested | ApiRefusal | None] = [None] * len(orders)
    seen: set[str] = set()
    valid: list[int] = []
    for index, order in enumerate(orders):
        if order.id in seen:
            slots[index] = ApiRefusal("validation", f"Order {order.id!r} appears twice.")
            continue
        seen.add(order.id)
        try:
            _check_money(order)
        except ApiRefusal as refusal:
            slots[index] = refusal
            continue
        valid.append(index)
    if valid:
        # Two requests may bring the same new person, store or order at once: the second
        # then meets the first's rows at commit (a unique constraint) and simply runs again,
        # finding them. A clash of generated order numbers is retried the same way.
        for attempt in range(INGEST_ATTEMPTS):
            try:
                _ingest_valid(integration, orders, valid, slots)
                break
            except IntegrityError:
                if attempt == INGEST_ATTEMPTS - 1:
                    raise
    result.results = [slot for slot in slots if slot is not None]
    return result


def _ingest_valid(integration, orders, valid, slots) -> None:
    """Ingest the valid orders in one transaction, filling their result slots."""
    with transaction.atomic():
        known = {
            row.external_id: row
            for row in ExternalOrder.objects.filter(
                integration=integration, external_id__in=[orders[i].id for i in valid]
            ).select_related("order")
        }
        fresh = [i for i in valid if orders[i].id not in known]
        again = [i for i in valid if orders[i].id in known]
        buyers = _people(integration, [orders[i].buyer for i in valid])
        stores, refused = _stores(integration, [orders[i].store for i in valid])
        for i in [i for i in valid if orders[i].store.id in refused]:
            slots[i] = refused[orders[i].store.id]
        fresh = [i for i in fresh if orders[i].store.id not in refused]
        again = [i for i in again if orders[i].store.id not in refused]
        if fresh:
            created = orders_create_bulk(
                specs=[
                    _spec(orders[i], buyers[orders[i].buyer.id], stores[orders[i].store.id])
                    for i in fresh
                ]
            )
            ExternalOrder.objects.bulk_create(
                ExternalOrder(
                    integration=integration,
                    external_id=orders[i].id,
                    order=row,
                    digest=orders[i].money_digest(),
                )
                for i, row in zip(fresh, created, strict=True)
            )
            for i, row in zip(fresh, created, strict=True):
                slots[i] = Ingested(order=row, status="created")
        for i in again:
            slots[i] = _update(integration, orders[i], known[orders[i].id], buyers, stores)
        _set_countries(orders, slots, valid)


def _set_countries(orders, slots, valid) -> None:
    """Record each order's destination country (one update per country): given or corrected
    until the order ships, never after (an incident may already count it)."""
    by_country: dict[str, list[int]] = {}
    for i in valid:
        slot, country = slots[i], orders[i].destination_country.upper()
        order = slot.order if isinstance(slot, Ingested) else None
        if (
            order is not None
            and order.shipped_at is None
            and country
            and order.destination_country != country
        ):
            by_country.setdefault(country, []).append(order.pk)
            order.destination_country = country
    for country, ids in by_country.items():
        Order.objects.filter(pk__in=ids, shipped_at__isnull=True).update(
            destination_country=country
        )


def _update(integration, order: OrderIn, row: ExternalOrder, buyers, stores):
    current = row.order
    if current.buyer_id != buyers[order.buyer.id].pk or (
        current.store_id != stores[order.store.id].pk
    ):
        return ApiRefusal("conflict", "An order's buyer and store cannot change.")
    digest = order.money_digest()
    if digest == row.digest:
        return Ingested(order=current, status="unchanged")
    try:
        with transaction.atomic():
            updated = order_replace_lines(
                order=current, spec=_spec(order, buyers[order.buyer.id], stores[order.store.id])
            )
            row.digest = digest
            row.updated_at = timezone.now()
            row.save(update_fields=["digest", "updated_at"])
    except OrderError as exc:
        return ApiRefusal("order-locked", str(exc))
    return Ingested(order=updated, status="updated")


def order_for(integration: Integration, external_id: str) -> Order:
    row = (
        ExternalOrder.objects.filter(integration=integration, external_id=external_id)
        .select_related("order__store", "order__buyer")
        .first()
    )
    if row is None:
        raise ApiRefusal("not-found", f"No order {external_id!r} for this integration.")
    return row.order


def _acting(call, **kwargs) -> Order:
    try:
        return call(**kwargs)
    except OrderError as exc:
        raise ApiRefusal("refused", str(exc)) from exc


def order_ship(
    *, integration: Integration, external_id: str, carrier: str, tracking: str, shipped_at=None
) -> Order:
    """The marketplace reports the shipment: the protection clock starts at ``shipped_at``."""
    order = order_for(integration, external_id)
    now = timezone.now()
    shipped_at = shipped_at or now
    if shipped_at > now + timedelta(minutes=5):
        raise ApiRefusal("validation", "shipped_at is in the future.")
    # The buyer's protection runs from shipped_at: a date before payment, or reported long
    # after the fact, would shorten it (or end it at once and pay the seller).
    if shipped_at < order.placed_at:
        raise ApiRefusal("validation", "shipped_at is before the order was paid.")
    if shipped_at < now - settings.PORTAL_API_SHIPMENT_MAX_AGE:
        raise ApiRefusal(
            "validation",
            f"shipped_at is more than {settings.PORTAL_API_SHIPMENT_MAX_AGE.days} days ago; "
            "report shipments as they happen.",
        )
    if order.shipped_at is not None and (order.carrier, order.tracking_number) == (
        carrier.strip(),
        tracking.strip(),
    ):
        return order  # the same shipment reported again
    return _acting(
        order_mark_shipped,
        order=order,
        seller=order.store.owner,
        carrier=carrier,
        tracking_number=tracking,
        now=shipped_at,
    )


def order_receive(*, integration: Integration, external_id: str) -> Order:
    """The buyer confirmed receipt on the marketplace."""
    order = order_for(integration, external_id)
    return _acting(order_confirm_receipt, order=order, buyer=order.buyer)


def order_cancel_external(*, integration: Integration, external_id: str) -> Order:
    order = order_for(integration, external_id)
    return _acting(order_cancel, order=order, by=order.store.owner)


# --- sign-in links --------------------------------------------------------------------------
def sign_in_link_create(
    *, integration: Integration, person_id: str, next_path: str
) -> tuple[SignInLink, str]:
    """A one-time link for one of the marketplace's people; returns the row and its token
    (only the digest is kept)."""
    row = (
        ExternalPerson.objects.filter(integration=integration, external_id=person_id)
        .select_related("user")
        .first()
    )
    if row is None:
        raise ApiRefusal("not-found", f"No person {person_id!r} for this integration.")
    token = secrets.token_urlsafe(32)
    link = SignInLink.objects.create(
        integration=integration,
        digest=hashlib.sha256(token.encode()).hexdigest(),
        user=row.user,
        next_path=next_path,
        expires_at=timezone.now() + settings.PORTAL_SIGN_IN_LINK_TTL,
    )
    return link, token


def sign_in_link_use(*, token: str) -> SignInLink | None:
    """Spend a link: the person it is for, once, while it is fresh; otherwise None."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    now = timezone.now()
    with transaction.atomic():
        used = SignInLink.objects.filter(
            digest=digest, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if used != 1:
            return None
        return SignInLink.objects.select_related("user").get(digest=digest)


# --- webhook endpoints ------------------------------------------------------------------------
def webhook_endpoint_create(
    *, integration: Integration, url: str, event_types: Sequence[str] = ()
) -> WebhookEndpoint:
    from api.webhooks import check_destination, new_secret

    check_destination(url)
    try:
        return WebhookEndpoint.objects.create(
            integration=integration, url=url, event_types=list(event_types), secret=new_secret()
        )
    except IntegrityError as exc:  # pragma: no cover - no unique constraint today
        raise ApiRefusal("conflict", str(exc)) from exc
