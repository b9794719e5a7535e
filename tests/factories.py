"""Test data built through the same services the product uses."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.roles import ARBITRATORS, ensure_role_groups
from orders.models import Order, Store
from orders.payment import PaymentMethod
from orders.services import LineSpec, order_confirm_receipt, order_create, order_mark_shipped

PASSWORD = "test-pass-1234"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    name = factory.Sequence(lambda n: f"Store {n}")
    slug = factory.Sequence(lambda n: f"store-{n}")
    owner = factory.SubFactory(UserFactory)
    return_address = "1 Return Road, Shenzhen"


def make_arbitrator(username: str = "sam"):
    user = UserFactory(username=username, is_staff=True)
    ensure_role_groups()
    user.groups.add(Group.objects.get(name=ARBITRATORS))
    return user


DRESS_LINES = (
    LineSpec("Summer dress", 1, Decimal("45.00"), colour="Red", size="M"),
    LineSpec("Summer dress", 1, Decimal("45.00"), colour="Blue", size="S"),
)


def make_order(
    *,
    buyer,
    store: Store,
    lines=None,
    payment_method: str = PaymentMethod.CARD,
    protection_days: int = 60,
    shipped_at: datetime | None = None,
    confirmed_at: datetime | None = None,
    carrier: str = "China Post",
    destination_country: str = "",
) -> Order:
    """An order, shipped at ``shipped_at`` and confirmed at ``confirmed_at`` if given."""
    placed = (shipped_at or timezone.now()) - timedelta(days=1)
    order = order_create(
        buyer=buyer,
        store=store,
        lines=list(lines or [LineSpec("Canvas bag", 2, Decimal("10.00"), colour="Natural")]),
        payment_method=payment_method,
        protection_days=protection_days,
        placed_at=placed,
    )
    if shipped_at is not None:
        order = order_mark_shipped(
            order=order,
            seller=store.owner,
            carrier=carrier,
            tracking_number="RR123456789CN",
            now=shipped_at,
        )
    if confirmed_at is not None:
        order = order_confirm_receipt(order=order, buyer=buyer, now=confirmed_at)
    if destination_country:
        Order.objects.filter(pk=order.pk).update(destination_country=destination_country)
    return Order.objects.get(pk=order.pk)


def photo(name: str = "parcel.jpg", size: tuple[int, int] = (64, 48), exif: bytes = b""):
    """A small real JPEG, as a browser would upload it."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 60, 40)).save(buffer, "JPEG", exif=exif)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def open_dispute(**kwargs):
    """``dispute_open`` with a photo attached, as most reasons require."""
    from disputes.services import dispute_open

    kwargs.setdefault("files", [photo()])
    return dispute_open(**kwargs).dispute
