"""What a clock did is dated at its due time; when it was processed is kept beside it.

Before: ``created_at`` was when the sweep ran and ``deadline_due_at`` (clock events only)
when the clock was due. After: ``created_at`` is when it happened (the due time, for a
clock) and ``processed_at`` when the portal wrote it, for every event.
"""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def forwards(apps, schema_editor):
    DisputeEvent = apps.get_model("disputes", "DisputeEvent")
    DisputeEvent.objects.update(processed_at=F("created_at"))
    DisputeEvent.objects.filter(deadline_due_at__isnull=False).update(
        created_at=F("deadline_due_at")
    )


def backwards(apps, schema_editor):
    DisputeEvent = apps.get_model("disputes", "DisputeEvent")
    DisputeEvent.objects.exclude(processed_at=F("created_at")).update(
        deadline_due_at=F("created_at"), created_at=F("processed_at")
    )


class Migration(migrations.Migration):
    dependencies = [("disputes", "0006_finished_exactly_when_finished_at")]

    operations = [
        migrations.AddField(
            model_name="disputeevent",
            name="processed_at",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="processed"),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="disputeevent", name="deadline_due_at"),
    ]
