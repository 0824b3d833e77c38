"""Exclusions checked by data comparison (信息比对, POLICY.md "Exclusions"), as rules over the
department feeds: which feed shows each exclusion, which of its rows exclude the person
they name in a year, and what names such a row. Policy, not screening: the screening
(``fangpin.screening.expression``) and a case's data comparison
(``fangpin.cases.comparison``) both use these rules.

Ibis expressions over feed tables (their columns by name); no Django.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import polars as pl

from .batch import _P, parameter_frame
from .loader import CITY, ParameterSet

# A registered business excludes a household above this registered capital: the policy
# parameter (POLICY.md, "Exclusions", source A until a county's document replaces it).
BUSINESS_THRESHOLD_PATH = "exclusions.business.capital_threshold"


def business_threshold_fen(params: ParameterSet, *, county_code: str, on: dt.date) -> int:
    """The business-capital exclusion threshold in force, in fen (the county's, else the city's)."""
    entry = params.resolve(
        BUSINESS_THRESHOLD_PATH, params.county_key(county_code) if county_code else CITY, on
    )
    if entry is None:
        raise ValueError(f"{BUSINESS_THRESHOLD_PATH} has no value on {on.isoformat()}")
    return int(Decimal(entry.value) * 100)


# Each exclusion (信息比对, ``spec.EXCLUSIONS``) and the feed that shows it. The rules are
# ``exclusion_rows``; the screening (``exclusion_flags``) and a case's data comparison
# (``fangpin.cases.comparison``) both use them.
EXCLUSION_FEEDS = {
    "commercial_housing": "property",
    "vehicle": "vehicle",
    "business": "business",
    "public_payroll": "payroll",
}


def exclusion_rows(
    feeds: dict[str, ir.Table], *, year_end: dt.date, threshold_fen: int
) -> dict[str, ir.Table]:
    """Per exclusion, the feed rows that exclude the person they name in the year ending
    ``year_end``: commercial housing in a town registered by then, a private (non-working)
    vehicle registered by then, a business registered by then with registered capital above
    ``threshold_fen``, and the public payroll of that year (POLICY.md, "Exclusions")."""
    prop = feeds[EXCLUSION_FEEDS["commercial_housing"]]
    veh = feeds[EXCLUSION_FEEDS["vehicle"]]
    biz = feeds[EXCLUSION_FEEDS["business"]]
    pay = feeds[EXCLUSION_FEEDS["public_payroll"]]
    return {
        "commercial_housing": prop.filter(prop.commercial & (prop.registered <= year_end)),
        "vehicle": veh.filter((veh.use == "private") & (veh.registered <= year_end)),
        "business": biz.filter((biz.capital > threshold_fen) & (biz.registered <= year_end)),
        "public_payroll": pay.filter(pay.year == year_end.year),
    }


def exclusion_flags(
    feeds: dict[str, ir.Table], persons: ir.Table, *, year_end: dt.date, threshold_fen: int
) -> ir.Table:
    """``persons`` (with an ``id_number`` column) and one boolean column per exclusion."""
    rows = exclusion_rows(feeds, year_end=year_end, threshold_fen=threshold_fen)
    return persons.mutate(**{name: persons.id_number.isin(t.id_number) for name, t in rows.items()})


def exclusions_in_force(parameters: ParameterSet, *, on: dt.date) -> dict[str, list[str]]:
    """Per exclusion, the counties whose parameters in force on ``on`` apply it (sorted)."""
    frame = pl.from_arrow(parameter_frame(parameters, on=on))
    return {
        name: sorted(set(frame.filter(pl.col(f"{_P}x_{name}"))[f"{_P}county"].to_list()))
        for name in EXCLUSION_FEEDS
    }


# What names a matching row of each exclusion's feed (besides its batch and row number).
EXCLUSION_REFERENCE = {
    "property": ("certificate_no", "location"),
    "vehicle": ("plate", "use"),
    "business": ("credit_code", "capital"),
    "payroll": ("employer", "year"),
}
MATCH_COLUMNS = (
    "household_no",
    "exclusion",
    "feed",
    "id_number",
    "reference",
    "detail",
    "batch",
    "source_row",
)


def exclusion_matches(
    feeds: dict[str, ir.Table], persons: ir.Table, *, year_end: dt.date, threshold_fen: int
) -> ir.Table:
    """Every feed row that excludes one of ``persons`` (``id_number, household_no``) in the
    year ending ``year_end``: ``MATCH_COLUMNS`` — the exclusion, the feed, the person, the
    row's reference (certificate, plate, credit code, employer) and detail, its batch and
    row number, so that an officer can see why a household was excluded."""
    parts = []
    persons = persons.select("id_number", "household_no")
    rules = exclusion_rows(feeds, year_end=year_end, threshold_fen=threshold_fen)
    for exclusion, rows in rules.items():
        kind = EXCLUSION_FEEDS[exclusion]
        key, detail = EXCLUSION_REFERENCE[kind]
        hit = rows.join(persons, "id_number")
        parts.append(
            hit.select(
                household_no=hit.household_no,
                exclusion=ibis.literal(exclusion),
                feed=ibis.literal(kind),
                id_number=hit.id_number,
                reference=hit[key].cast("string"),
                detail=hit[detail].cast("string"),
                batch=hit.batch.cast("string"),
                source_row=hit.source_row.cast("int64"),
            )
        )
    return ibis.union(*parts, distinct=False)
