# Complaints moved to their own app; the column and its foreign key are unchanged (the
# table keeps its name), so only Django's state changes.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("complaints", "0001_initial"),
        ("evidence", "0002_evidence_complaint_alter_evidence_dispute_and_more"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="evidence",
                    name="complaint",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="evidence", to="complaints.complaint", verbose_name="complaint"),
                ),
            ],
            database_operations=[],
        ),
    ]
