# Complaints moved to their own app (complaints.0001_initial), which keeps the table
# "disputes_complaint": the model leaves this app's state only, the table is not dropped.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("disputes", "0004_complaint_evidencerequest_and_more"),
        ("evidence", "0003_alter_evidence_complaint"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="Complaint",
                ),
            ],
            database_operations=[],
        ),
    ]
