"""Writes to the region tree: loading the Handan counties, adding townships and villages."""

from __future__ import annotations

from django.db import transaction

from . import handan
from .models import Level, Region


@transaction.atomic
def region_load_handan() -> Region:
    """Create (or keep) the city and its 18 county-level units. Idempotent."""
    c = handan.city()
    city, _ = Region.objects.get_or_create(
        code=c["code"], defaults={"name": c["name"], "level": Level.CITY, "kind": c["kind"]}
    )
    for row in handan.counties():
        Region.objects.get_or_create(
            code=row["code"],
            defaults={
                "name": row["name"],
                "level": Level.COUNTY,
                "parent": city,
                "kind": row["kind"],
            },
        )
    return city


def region_bulk_create_children(
    *, parent: Region, level: str, rows: list[tuple[str, str]]
) -> list[Region]:
    """Create many children (code, name) of one parent in one INSERT batch."""
    nodes = [
        Region(code=code, name=name, level=level, parent=parent, path=f"{parent.path}{code}/")
        for code, name in rows
    ]
    return Region.objects.bulk_create(nodes, batch_size=2000)
