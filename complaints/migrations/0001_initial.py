# Complaints moved out of the disputes app into their own. The table stays where it is
# ("disputes_complaint", see Complaint.Meta.db_table): this migration only tells Django's
# state that the model now lives here, and moves its content type so that the permission
# rows (and the groups holding them) and admin log entries follow the model.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import IntegrityError, migrations, models, transaction


def _move_content_type(apps, schema_editor, old_label, new_label):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    try:
        content_type = ContentType.objects.db_manager(db).get_by_natural_key(
            old_label, "complaint"
        )
    except ContentType.DoesNotExist:
        # A fresh database: post_migrate makes the content type under the new label.
        return
    content_type.app_label = new_label
    try:
        with transaction.atomic(using=db):
            content_type.save(using=db, update_fields={"app_label"})
    except IntegrityError:
        # The new label already has one (as Django's RenameContentType does, leave it to
        # remove_stale_contenttypes).
        return
    ContentType.objects.clear_cache()


def content_type_to_complaints(apps, schema_editor):
    _move_content_type(apps, schema_editor, "disputes", "complaints")


def content_type_to_disputes(apps, schema_editor):
    _move_content_type(apps, schema_editor, "complaints", "disputes")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("disputes", "0004_complaint_evidencerequest_and_more"),
        ("orders", "0005_money_checks_exact_in_cents"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Complaint",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("body", models.TextField(verbose_name="complaint")),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="sent at")),
                        ("state", models.CharField(choices=[("open", "Waiting for staff"), ("answered", "Answered by staff")], default="open", max_length=16, verbose_name="state")),
                        ("answer", models.TextField(blank=True, verbose_name="staff answer")),
                        ("answered_at", models.DateTimeField(blank=True, null=True, verbose_name="answered at")),
                        ("answered_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="answered by")),
                        ("buyer", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="complaints", to=settings.AUTH_USER_MODEL, verbose_name="buyer")),
                        ("order", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="complaints", to="orders.order", verbose_name="order")),
                        ("store", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="complaints", to="orders.store", verbose_name="store")),
                    ],
                    options={
                        "verbose_name": "complaint",
                        "verbose_name_plural": "complaints",
                        "db_table": "disputes_complaint",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [models.Index(fields=["state", "created_at"], name="complaint_queue")],
                        "constraints": [models.CheckConstraint(condition=models.Q(("state", "open"), models.Q(("answer", ""), _negated=True), _connector="OR"), name="complaint_answered_has_answer")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_to_complaints, content_type_to_disputes),
    ]
