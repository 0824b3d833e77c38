"""Reads of the region tree."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Level, Region


def region_subtree(*, root: Region, level: str | None = None) -> QuerySet[Region]:
    qs = Region.objects.filter(path__startswith=root.path)
    if level:
        qs = qs.filter(level=level)
    return qs


def region_by_code(code: str) -> Region | None:
    return Region.objects.filter(code=str(code).strip()).first()


def counties() -> QuerySet[Region]:
    return Region.objects.filter(level=Level.COUNTY)


def county_code_of(path: str) -> str:
    """The county's code in the path of a county or a node below it (city/county/…): the
    path's second code; "" for the city's own path."""
    codes = path.strip("/").split("/")
    return codes[1] if len(codes) > 1 else ""
