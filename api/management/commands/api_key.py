"""Make an API key for an integration (created if new) and print it, once."""

from django.core.management.base import BaseCommand

from api.keys import api_key_create
from api.models import Integration


class Command(BaseCommand):
    help = "Make an API key for a marketplace integration and print it (it is not shown again)."

    def add_arguments(self, parser):
        parser.add_argument("integration", help="the integration's name, e.g. 'Demo marketplace'")
        parser.add_argument("--contact", default="", help="its contact e-mail (when created)")
        parser.add_argument("--name", default="made with manage.py api_key")

    def handle(self, *args, integration: str, contact: str, name: str, **options):
        row, created = Integration.objects.get_or_create(
            name=integration, defaults={"contact_email": contact or "ops@example.com"}
        )
        _key, raw = api_key_create(integration=row, name=name)
        if created:
            self.stderr.write(f"Created the integration {row.name!r}.")
        self.stdout.write(raw)
