"""Reads of the region tree."""

from __future__ import annotations

from functools import partial

import polars as pl
from django.db.models import QuerySet

from fangpin.common.bulk import filter_in
from fangpin.common.pipeline import Lookup
from fangpin.common.tabular import frame_of

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


def region_lookup(*, level: str = "", prefix: str = "region", unknown: str, outside: str) -> Lookup:
    """An import's column of region codes (``common.pipeline.Lookup``): each must be a region
    (of ``level``) within the importer's region; its ``<prefix>_id``, ``_path`` and ``_level``
    join the rows."""
    return Lookup(
        partial(regions_coded, level=level, prefix=prefix), unknown, outside, path=f"{prefix}_path"
    )


def regions_coded(codes: list[str], *, level: str = "", prefix: str = "region") -> pl.DataFrame:
    """The regions among ``codes`` (of ``level``, if given) as a frame for an import's lookup
    (``common.pipeline.Lookup``): code, ``<prefix>_id``, ``<prefix>_path``, ``<prefix>_level``."""
    qs = Region.objects.filter(level=level) if level else Region.objects.all()
    return frame_of(
        list(filter_in(qs, "code", codes).values_list("code", "id", "path", "level")),
        {
            "code": pl.String,
            f"{prefix}_id": pl.Int64,
            f"{prefix}_path": pl.String,
            f"{prefix}_level": pl.String,
        },
    )
