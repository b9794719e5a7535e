"""Demo data: the people of the portal and orders in every interesting situation.

Loads once: run again, it only prints the logins.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.roles import ARBITRATORS, ensure_role_groups
from disputes.services import (
    DisputeRequest,
    dispute_accept,
    dispute_assign,
    dispute_open,
    dispute_propose,
    dispute_rule,
    disputes_sweep_due,
)
from disputes.states import OutcomeType, Reason, RequestedOutcome
from orders.models import Order, Store
from orders.payment import PaymentMethod
from orders.services import (
    LineSpec,
    order_confirm_receipt,
    order_create,
    order_mark_shipped,
    orders_complete_expired,
)
from refunds.models import Refund
from refunds.services import refund_send

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - printed for the demo on purpose

PEOPLE = [
    ("alice", "Alice", "Martin", "buyer"),
    ("carol", "Carol", "Nguyen", "another buyer"),
    ("bob", "Bob", "Chen", "seller, owns Bob's Boutique"),
    ("dave", "Dave", "Okafor", "another seller, owns Dave's Gadgets"),
    ("sam", "Sam", "Rivera", "staff arbitrator (Django admin at /admin/)"),
]


def _demo_photo(name: str) -> SimpleUploadedFile:
    """A drawn stand-in for a buyer's photo of the problem."""
    image = Image.new("RGB", (640, 480), (238, 232, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((120, 80, 520, 420), fill=(250, 246, 236), outline=(120, 110, 100), width=4)
    draw.line((300, 80, 360, 260), fill=(90, 20, 20), width=6)  # the tear
    draw.ellipse((380, 300, 450, 350), fill=(170, 150, 110))  # the stain
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def _claim(line, buyer, *, description, amount, wants_return=False, at):
    return dispute_open(
        line=line,
        buyer=buyer,
        request=DisputeRequest(
            received=True,
            reason=Reason.NOT_AS_DESCRIBED,
            description=description,
            quantity=1,
            requested_outcome=(
                RequestedOutcome.RETURN_AND_REFUND if wants_return else RequestedOutcome.REFUND_ONLY
            ),
            requested_amount=amount,
        ),
        files=[_demo_photo("what-arrived.jpg")],
        now=at,
    ).dispute


class Command(BaseCommand):
    help = "Create the demo buyers, sellers, arbitrator and orders (once), then print the logins."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(username="alice").exists():
            self.stdout.write("Demo data is already loaded.")
        else:
            with transaction.atomic():
                self._load()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, _first, _last, role in PEOPLE:
            self.stdout.write(f"  {username:<6} {role}")

    def _load(self) -> None:
        User = get_user_model()
        people = {}
        for username, first, last, _role in PEOPLE:
            user = User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@example.com",
            )
            user.set_password(DEMO_PASSWORD)
            if username == "sam":
                user.is_staff = True
            user.save()
            people[username] = user
        ensure_role_groups()
        people["sam"].groups.add(Group.objects.get(name=ARBITRATORS))

        boutique = Store.objects.create(
            name="Bob's Boutique",
            slug="bobs-boutique",
            owner=people["bob"],
            return_address="Bob's Boutique returns\nUnit 4, 88 Harbour Road\nShenzhen, China",
        )
        gadgets = Store.objects.create(
            name="Dave's Gadgets",
            slug="daves-gadgets",
            owner=people["dave"],
            return_address="Dave's Gadgets\n12 Market Street\nGuangzhou 510000, China",
        )
        now = timezone.now()
        alice, carol, bob, dave = (people[k] for k in ("alice", "carol", "bob", "dave"))

        def make(buyer, store, lines, method, *, placed_days_ago, protection_days=60):
            return order_create(
                buyer=buyer,
                store=store,
                lines=lines,
                payment_method=method,
                protection_days=protection_days,
                placed_at=now - timedelta(days=placed_days_ago),
            )

        def ship(order, seller, days_ago, tracking):
            return order_mark_shipped(
                order=order,
                seller=seller,
                carrier="China Post",
                tracking_number=tracking,
                now=now - timedelta(days=days_ago),
            )

        # Alice's seven orders are paid in each of the seven ways (orders/payment.py).
        # Just paid: waiting for the seller to ship.
        make(
            alice,
            boutique,
            [LineSpec("Linen shirt", 1, Decimal("34.90"), colour="White", size="L")],
            PaymentMethod.WEBMONEY,
            placed_days_ago=0,
        )
        # Shipped yesterday, paid from her marketplace account balance: protection has 59 days
        # and change to run, and a refund would be back on the balance the same day.
        ship(
            make(
                alice,
                boutique,
                [LineSpec("Leather wallet", 1, Decimal("28.00"), colour="Brown")],
                PaymentMethod.ACCOUNT_BALANCE,
                placed_days_ago=3,
            ),
            bob,
            1,
            "RR100000001CN",
        )
        # The two dresses: dispute one, keep the other (two lines).
        ship(
            make(
                alice,
                boutique,
                [
                    LineSpec("Summer dress", 1, Decimal("45.00"), colour="Red", size="M"),
                    LineSpec("Summer dress", 1, Decimal("45.00"), colour="Blue", size="S"),
                ],
                PaymentMethod.CARD,
                placed_days_ago=12,
            ),
            bob,
            8,
            "RR100000002CN",
        )
        # A day before protection ends.
        ship(
            make(
                alice,
                boutique,
                [LineSpec("Rain jacket", 1, Decimal("59.00"), colour="Yellow", size="M")],
                PaymentMethod.BANK_TRANSFER,
                placed_days_ago=62,
            ),
            bob,
            59,
            "RR100000003CN",
        )
        # Completed 10 days ago by the buyer: inside the post-close window.
        completed_recent = ship(
            make(
                alice,
                boutique,
                [LineSpec("Wool scarf", 2, Decimal("12.50"), colour="Grey")],
                PaymentMethod.MAESTRO,
                placed_days_ago=40,
            ),
            bob,
            35,
            "RR100000004CN",
        )
        order_confirm_receipt(order=completed_recent, buyer=alice, now=now - timedelta(days=10))
        # Completed 20 days ago when protection ran out: outside the window.
        ship(
            make(
                alice,
                boutique,
                [LineSpec("Canvas tote bag", 1, Decimal("15.00"), colour="Natural")],
                PaymentMethod.QIWI,
                placed_days_ago=85,
            ),
            bob,
            80,
            "RR100000005CN",
        )
        # From the other seller, with a 90-day protection.
        ship(
            make(
                alice,
                gadgets,
                [LineSpec("Bluetooth speaker", 1, Decimal("39.99"), colour="Black")],
                PaymentMethod.WESTERN_UNION,
                placed_days_ago=9,
                protection_days=90,
            ),
            dave,
            6,
            "LX200000001CN",
        )
        # The other buyer's orders, which alice must never see.
        blouse = ship(
            make(
                carol,
                boutique,
                [LineSpec("Silk blouse", 1, Decimal("52.00"), colour="Ivory", size="S")],
                PaymentMethod.CARD,
                placed_days_ago=7,
            ),
            bob,
            4,
            "RR100000006CN",
        )
        # Carol's dispute, opened two days ago: Bob has three days left to answer.
        dispute_open(
            line=blouse.lines.get(),
            buyer=carol,
            request=DisputeRequest(
                received=True,
                reason=Reason.DAMAGED,
                description="The seam on the left sleeve is torn and there is a stain.",
                quantity=1,
                requested_outcome=RequestedOutcome.REFUND_ONLY,
                requested_amount=Decimal("52.00"),
            ),
            files=[_demo_photo("torn-sleeve.jpg")],
            now=now - timedelta(days=2),
        )
        self._money_situations(carol, bob, dave, boutique, gadgets, make, ship, now)
        self._arbitration_situations(
            carol, bob, dave, people["sam"], boutique, gadgets, make, ship, now
        )
        make(
            carol,
            gadgets,
            [LineSpec("USB-C charger", 2, Decimal("18.00"))],
            PaymentMethod.CARD,
            placed_days_ago=1,
        )
        # Where the parcels go: incident mode picks a carrier's orders to one country.
        Order.objects.filter(buyer=alice).update(destination_country="DE")
        Order.objects.filter(buyer=carol).update(destination_country="FR")
        orders_complete_expired(now=now)

    def _money_situations(self, carol, bob, dave, boutique, gadgets, make, ship, now) -> None:
        """Carol's disputes in each money situation of the refunds issue."""
        day = timedelta(days=1)
        # A return agreed two days ago: Carol has eight days to ship it back.
        trousers = ship(
            make(
                carol,
                boutique,
                [LineSpec("Linen trousers", 1, Decimal("38.00"), colour="Sand", size="M")],
                PaymentMethod.CARD,
                placed_days_ago=14,
            ),
            bob,
            10,
            "RR100000007CN",
        )
        dispute = _claim(
            trousers.lines.get(),
            carol,
            description="The trousers are two sizes smaller than the label says.",
            amount=Decimal("38.00"),
            wants_return=True,
            at=now - 6 * day,
        )
        dispute_accept(dispute_id=dispute.pk, user=bob, now=now - 2 * day)
        # A replacement agreed three days ago: Dave has four days left to ship it.
        case = ship(
            make(
                carol,
                gadgets,
                [LineSpec("Phone case", 1, Decimal("14.00"), colour="Clear")],
                PaymentMethod.MAESTRO,
                placed_days_ago=12,
            ),
            dave,
            9,
            "LX200000002CN",
        )
        dispute = _claim(
            case.lines.get(),
            carol,
            description="The case is for a different phone model and does not fit.",
            amount=Decimal("14.00"),
            at=now - 5 * day,
        )
        dispute_propose(
            dispute_id=dispute.pk,
            user=dave,
            outcome=OutcomeType.REPLACEMENT,
            note="Sorry, wrong model picked. I will send the right one.",
            now=now - 4 * day,
        )
        dispute_accept(dispute_id=dispute.pk, user=carol, now=now - 3 * day)
        # A partial refund agreed six days ago and sent by card: the tracker has dates.
        mugs = ship(
            make(
                carol,
                boutique,
                [LineSpec("Ceramic mug", 2, Decimal("12.00"), colour="Teal")],
                PaymentMethod.CARD,
                placed_days_ago=16,
            ),
            bob,
            12,
            "RR100000008CN",
        )
        dispute = _claim(
            mugs.lines.get(),
            carol,
            description="One of the two mugs has a chipped rim.",
            amount=Decimal("12.00"),
            at=now - 8 * day,
        )
        dispute_propose(
            dispute_id=dispute.pk,
            user=bob,
            outcome=OutcomeType.PARTIAL_REFUND,
            amount=Decimal("8.00"),
            note="The chip is small; I can refund 8.00.",
            now=now - 7 * day,
        )
        dispute_accept(dispute_id=dispute.pk, user=carol, now=now - 6 * day)
        for refund in Refund.objects.filter(dispute=dispute):
            refund_send(refund_id=refund.pk, now=now - 6 * day)
        # A coupon accepted four days ago.
        hat = ship(
            make(
                carol,
                boutique,
                [LineSpec("Straw sun hat", 1, Decimal("19.00"), colour="Natural")],
                PaymentMethod.CARD,
                placed_days_ago=11,
            ),
            bob,
            8,
            "RR100000009CN",
        )
        dispute = _claim(
            hat.lines.get(),
            carol,
            description="The ribbon on the hat is a different colour from the photo.",
            amount=Decimal("6.00"),
            at=now - 6 * day,
        )
        dispute_propose(
            dispute_id=dispute.pk,
            user=bob,
            outcome=OutcomeType.COUPON,
            amount=Decimal("6.00"),
            note="A coupon for your next order, with my apologies.",
            now=now - 5 * day,
        )
        dispute_accept(dispute_id=dispute.pk, user=carol, now=now - 4 * day)

    def _arbitration_situations(
        self, carol, bob, dave, sam, boutique, gadgets, make, ship, now
    ) -> None:
        """Escalated cases for the arbitrators' queue: one fresh, one past its
        target, and one ruled two days ago that waits for the parties' replies."""
        day = timedelta(days=1)

        def escalated(store, seller, product, price, *, escalated_days_ago, note):
            order = ship(
                make(
                    carol,
                    store,
                    [LineSpec(product, 1, price)],
                    PaymentMethod.CARD,
                    placed_days_ago=escalated_days_ago + 30,
                ),
                seller,
                escalated_days_ago + 28,
                f"RR9{escalated_days_ago:08d}CN",
            )
            # Answered a day after opening; escalated when the negotiation clock ran out.
            opened = now - escalated_days_ago * day - settings.PORTAL_NEGOTIATION_WINDOW - day
            dispute = _claim(
                order.lines.get(),
                carol,
                description=f"The {product.lower()} is not what the listing showed.",
                amount=price,
                at=opened,
            )
            dispute_propose(
                dispute_id=dispute.pk,
                user=seller,
                outcome=OutcomeType.REJECTED,
                note=note,
                now=opened + day,
            )
            disputes_sweep_due(now=now - escalated_days_ago * day)
            return dispute

        escalated(
            boutique,
            bob,
            "Wool coat",
            Decimal("120.00"),
            escalated_days_ago=3,
            note="The coat is exactly as photographed.",
        )
        escalated(
            boutique,
            bob,
            "Leather boots",
            Decimal("85.00"),
            escalated_days_ago=19,
            note="The boots were checked before shipping.",
        )
        watch = escalated(
            gadgets,
            dave,
            "Smart watch",
            Decimal("64.00"),
            escalated_days_ago=10,
            note="The watch works; the buyer has not charged it.",
        )
        dispute_assign(dispute_id=watch.pk, user=sam, assignee=sam, now=now - 9 * day)
        dispute_rule(
            dispute_id=watch.pk,
            user=sam,
            outcome=OutcomeType.PARTIAL_REFUND,
            amount=Decimal("30.00"),
            reason=(
                "The video shows the screen flickering after a full charge; the watch is "
                "usable, so about half the price is refunded and the buyer keeps it."
            ),
            now=now - 2 * day,
        )
