"""Warning triage: the states new → checking → confirmed / dismissed (and excluded), who is
checking a warning, why it was dismissed, and since when it is in its state.

The data: open → new, case_opened → confirmed; a warning dismissed before the reasons
had a list gets "other" (its text stays in ``reason``).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FORWARD = {"open": "new", "case_opened": "confirmed"}


def _checks_now(schema_editor):
    """On PostgreSQL, check the deferred foreign keys statement by statement: a row updated
    twice in this transaction would otherwise leave trigger events pending, and the
    ALTER TABLE that follows would be refused."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def states_rename(apps, schema_editor):
    _checks_now(schema_editor)
    Warning = apps.get_model("screening", "Warning")
    for old, new in FORWARD.items():
        Warning.objects.filter(status=old).update(status=new)
    Warning.objects.filter(status="dismissed", dismiss_reason="").update(dismiss_reason="other")


def states_back(apps, schema_editor):
    _checks_now(schema_editor)
    Warning = apps.get_model("screening", "Warning")
    for old, new in FORWARD.items():
        Warning.objects.filter(status=new).update(status=old)
    Warning.objects.filter(status="checking").update(status="open")
    Warning.objects.update(dismiss_reason="")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_member_name_no_index"),
        ("screening", "0003_warning_excluded"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="warning",
            name="warning_status_valid",
        ),
        migrations.AddField(
            model_name="warning",
            name="assigned_to",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="checked by",
            ),
        ),
        migrations.AddField(
            model_name="warning",
            name="dismiss_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("income_above", "Income above the monitoring line"),
                    ("costs_covered", "Costs covered by insurance, assistance or others"),
                    ("below_start", "Self-paid costs below the start line after checking"),
                    ("already_helped", "Already helped for this hardship"),
                    ("data_wrong", "The department's data is wrong"),
                    ("not_resident", "Not living here or not registered here"),
                    ("other", "Other"),
                ],
                db_default="",
                default="",
                max_length=16,
                verbose_name="reason for dismissing",
            ),
        ),
        migrations.AddField(
            model_name="warning",
            name="state_since",
            field=models.DateTimeField(blank=True, null=True, verbose_name="in this status since"),
        ),
        migrations.AlterField(
            model_name="warning",
            name="status",
            field=models.CharField(
                choices=[
                    ("new", "New"),
                    ("checking", "Checking"),
                    ("confirmed", "Confirmed: case opened"),
                    ("dismissed", "Dismissed"),
                    ("excluded", "Excluded by data comparison"),
                ],
                default="new",
                max_length=12,
                verbose_name="status 状态",
            ),
        ),
        migrations.RunPython(states_rename, states_back),
        migrations.AddConstraint(
            model_name="warning",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["new", "checking", "confirmed", "dismissed", "excluded"])
                ),
                name="warning_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="warning",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "checking"), _negated=True),
                    ("assigned_to__isnull", False),
                    _connector="OR",
                ),
                name="warning_checking_assigned",
            ),
        ),
        migrations.AddConstraint(
            model_name="warning",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        (
                            "dismiss_reason__in",
                            [
                                "income_above",
                                "costs_covered",
                                "below_start",
                                "already_helped",
                                "data_wrong",
                                "not_resident",
                                "other",
                            ],
                        ),
                        ("status", "dismissed"),
                    ),
                    models.Q(
                        models.Q(("status", "dismissed"), _negated=True), ("dismiss_reason", "")
                    ),
                    _connector="OR",
                ),
                name="warning_dismiss_reason",
            ),
        ),
    ]
