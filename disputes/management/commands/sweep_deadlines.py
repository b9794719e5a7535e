"""Run every deadline sweep once: for operators, cron users, and when the broker is down."""

from django.core.management.base import BaseCommand

from disputes.notifications import notifications_deliver
from disputes.services import disputes_send_reminders, disputes_sweep_due
from orders.services import orders_complete_expired
from refunds.services import refunds_send_due


class Command(BaseCommand):
    help = (
        "Apply every clock that has run out (protection periods, seller answers, "
        "negotiations, returns, replacements) once; with --deliver, also send due refunds and "
        "mail pending notifications."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--deliver",
            action="store_true",
            help=(
                "also mail the pending notifications and send the refunds that are due "
                "from this process (no broker needed)"
            ),
        )

    def handle(self, *args, **options) -> None:
        orders = orders_complete_expired()
        disputes = disputes_sweep_due()
        reminders = disputes_send_reminders()
        self.stdout.write(
            f"orders completed: {orders}; disputes moved: {disputes.moved}, "
            f"pushed aside: {disputes.failed}, batches: {disputes.batches}; "
            f"reminders: {reminders}"
        )
        if options["deliver"]:
            refunds = refunds_send_due(limit=10_000)
            self.stdout.write(
                f"refunds sent: {refunds['sent']}, failed: {refunds['failed']}; "
                f"notifications mailed: {notifications_deliver(limit=10_000)}"
            )
