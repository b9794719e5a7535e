"""The API's request and response bodies (pydantic, through django-ninja)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from django.conf import settings
from ninja import Field, Schema
from pydantic import StringConstraints, field_validator

from orders.payment import PaymentMethod

# Row ids as PostgreSQL's bigint holds them: a larger number is a 422, not a database error.
MAX_ID = 2**63 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Short = Annotated[str, StringConstraints(max_length=60, strip_whitespace=True)]
Email = Annotated[
    str,
    StringConstraints(max_length=254, strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Money = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]


class PersonIn(Schema):
    id: Id = Field(description="The marketplace's own id for this person.")
    email: Email
    name: Text


class StoreIn(Schema):
    id: Id = Field(description="The marketplace's own id for this store.")
    name: Text
    seller: PersonIn


class VariantIn(Schema):
    colour: Short = ""
    size: Annotated[str, StringConstraints(max_length=30, strip_whitespace=True)] = ""


class LineIn(Schema):
    product: Text
    variant: VariantIn = VariantIn()
    quantity: int = Field(ge=1, le=10_000)
    unit_price: Money


class OrderIn(Schema):
    id: Id = Field(description="The marketplace's own order id: sending it again updates it.")
    buyer: PersonIn
    store: StoreIn
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    payment_method: PaymentMethod
    amount_paid: Money = Field(description="Must equal the sum of quantity * unit_price.")
    paid_at: datetime
    protection_days: int = Field(ge=1, le=365)
    destination_country: Annotated[
        str, StringConstraints(pattern=r"^([A-Za-z]{2})?$", strip_whitespace=True)
    ] = Field(
        default="",
        description="Where the parcel goes: ISO 3166-1 alpha-2 (DE, FR). Optional; set until "
        "the order ships (incident mode picks a carrier's orders to one country).",
    )

    @field_validator("paid_at")
    @classmethod
    def aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("paid_at needs a time zone (e.g. 2026-11-27T10:00:00Z)")
        return value


class OrderBatchIn(Schema):
    orders: list[OrderIn] = Field(min_length=1, max_length=settings.PORTAL_API_BATCH_MAX)


class OrderOut(Schema):
    id: str
    number: str
    state: str
    status: Literal["created", "updated", "unchanged"] = Field(
        description="What this request did to the order."
    )
    amount_paid: str
    currency: str
    shipped_at: datetime | None
    protection_ends_at: datetime | None
    completed_at: datetime | None
    dispute_window_ends_at: datetime | None


class ProblemOut(Schema):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict] | None = None


class BatchItemOut(Schema):
    id: str
    status: Literal["created", "updated", "unchanged", "refused"]
    order: OrderOut | None = None
    problem: ProblemOut | None = None


class BatchOut(Schema):
    results: list[BatchItemOut]


class ShipmentIn(Schema):
    carrier: Text
    tracking_number: Text
    shipped_at: datetime | None = None


class RefundReportIn(Schema):
    outcome: Literal["arrived", "failed"]
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class RefundOut(Schema):
    id: int
    order_id: str | None
    dispute_id: int | None
    amount: str
    currency: str
    method: str
    state: str
    reference: str | None
    created_at: datetime


class ClockOut(Schema):
    clock: str
    due_at: datetime


class DisputeSummaryOut(Schema):
    id: int
    order_id: str | None
    store_id: str | None
    line: dict
    state: str
    currency: str
    opened_at: datetime
    finished_at: datetime | None
    next_deadline: ClockOut | None


class DisputeListOut(Schema):
    items: list[DisputeSummaryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class DisputeOut(DisputeSummaryOut):
    clocks: list[ClockOut]
    claim: dict
    proposal: dict | None
    outcome: dict | None
    refunds: list[RefundOut]
    coupon: dict | None
    payouts: list[dict]


class EventOut(Schema):
    event_id: int
    dispute_id: int
    order_id: str | None
    kind: str
    from_state: str | None
    to_state: str
    by: str
    at: datetime
    processed_at: datetime
    details: dict


class EventFeedOut(Schema):
    items: list[EventOut]
    next_cursor: int = Field(description="Pass as ?after= to read on; the same when empty.")


class SignInLinkIn(Schema):
    person_id: Id
    page: Literal["orders", "open_dispute", "dispute", "seller_dashboard"]
    order_id: Id | None = Field(None, description="For open_dispute: the order.")
    line: int | None = Field(
        None, ge=1, le=10_000, description="For open_dispute: the line's position, 1-based."
    )
    dispute_id: RowId | None = Field(None, description="For dispute: the dispute.")


class SignInLinkOut(Schema):
    url: str
    expires_at: datetime


class WebhookEndpointIn(Schema):
    url: Annotated[str, StringConstraints(min_length=8, max_length=500)]
    event_types: list[str] = Field(default_factory=list, description="Empty: every type.")


class WebhookEndpointOut(Schema):
    id: int
    url: str
    event_types: list[str]
    created_at: datetime
    disabled_at: datetime | None
    secret: str | None = Field(None, description="Shown once, when the endpoint is made.")
