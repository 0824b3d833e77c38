"""Load the real Handan tree at county level (the city and its 18 county-level units)."""

import csv
from importlib import resources

from django.db import migrations


def load(apps, schema_editor):
    Region = apps.get_model("regions", "Region")
    text = (
        resources.files("fangpin.regions").joinpath("data/handan-counties.csv").read_text("utf-8")
    )
    rows = list(csv.DictReader(text.splitlines()))
    city_row = next(r for r in rows if r["kind"] == "city")
    city, _ = Region.objects.get_or_create(
        code=city_row["code"],
        defaults={
            "name": city_row["name"],
            "level": "city",
            "kind": "city",
            "path": city_row["code"] + "/",
        },
    )
    for r in rows:
        if r["kind"] == "city":
            continue
        Region.objects.get_or_create(
            code=r["code"],
            defaults={
                "name": r["name"],
                "level": "county",
                "kind": r["kind"],
                "parent": city,
                "path": f"{city.path}{r['code']}/",
            },
        )


class Migration(migrations.Migration):
    dependencies = [("regions", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
