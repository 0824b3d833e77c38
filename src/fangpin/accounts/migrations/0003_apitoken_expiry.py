"""API tokens get an expiry and a revocation time (issue 13, item 6).

A token issued before this lasts ``FANGPIN_API_TOKEN_DAYS`` (90) days from its issue, like a
new one: one older than that no longer authenticates after the upgrade. A revoked one keeps
being revoked, as of the upgrade (its revocation time was not recorded). The old flag
``revoked`` goes in 0004; backwards, a token revoked or expired by then gets the flag.
"""

import datetime as dt

from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import Now


def expiry_from_issue(apps, schema_editor):
    ApiToken = apps.get_model("accounts", "ApiToken")
    days = getattr(settings, "FANGPIN_API_TOKEN_DAYS", 90)
    ApiToken.objects.update(expires_at=models.F("created_at") + dt.timedelta(days=days))
    ApiToken.objects.filter(revoked=True).update(revoked_at=Now())


def revoked_flag_back(apps, schema_editor):
    """Backwards: a token revoked or expired by then stays unusable under the old flag."""
    ApiToken = apps.get_model("accounts", "ApiToken")
    ApiToken.objects.filter(
        models.Q(revoked_at__isnull=False) | models.Q(expires_at__lte=Now())
    ).update(revoked=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_role_helper_cadre"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True, verbose_name="expires"),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="revoked"),
        ),
        # the schema changes that follow the data are in 0004, a transaction of their own:
        # PostgreSQL alters no table with the updates' trigger events still pending
        migrations.RunPython(expiry_from_issue, revoked_flag_back),
    ]
