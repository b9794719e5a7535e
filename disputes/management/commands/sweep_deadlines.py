"""Run every deadline sweep once: for operators, cron users, and when the broker is down."""

from django.core.management.base import BaseCommand

from disputes.notifications import notifications_deliver
from disputes.sweeps import disputes_sweep_due
from orders.services import orders_complete_expired


class Command(BaseCommand):
    help = (
        "Apply every clock that has run out (protection periods, seller answers, "
        "negotiations) once, and mail pending notifications with --deliver."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--deliver",
            action="store_true",
            help="also mail the pending notifications from this process (no broker needed)",
        )

    def handle(self, *args, **options) -> None:
        orders = orders_complete_expired()
        disputes = disputes_sweep_due()
        self.stdout.write(
            f"orders completed: {orders}; disputes moved: {disputes.moved}, "
            f"pushed aside: {disputes.failed}, batches: {disputes.batches}"
        )
        if options["deliver"]:
            self.stdout.write(f"notifications mailed: {notifications_deliver(limit=10_000)}")
