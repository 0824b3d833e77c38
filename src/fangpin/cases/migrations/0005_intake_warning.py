"""An intake names the screening warning it comes from (until now only its ``reference``
held the warning's id as text): the link the hit rates read. Filled for the intakes
from warnings, in one UPDATE."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import CharField, IntegerField
from django.db.models.functions import Cast


def warnings_link(apps, schema_editor):
    Intake = apps.get_model("cases", "Intake")
    Warning = apps.get_model("screening", "Warning")
    ids = Warning.objects.annotate(text=Cast("pk", CharField())).values("text")
    Intake.objects.filter(source="warning", reference__in=ids).update(
        warning_id=Cast("reference", IntegerField())
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0004_claim_keys_duties"),
        ("screening", "0004_warning_triage"),
    ]

    operations = [
        migrations.AddField(
            model_name="intake",
            name="warning",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="intakes",
                to="screening.warning",
                verbose_name="screening warning",
            ),
        ),
        migrations.RunPython(warnings_link, migrations.RunPython.noop),
    ]
