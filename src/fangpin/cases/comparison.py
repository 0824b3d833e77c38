"""Data comparison (信息比对) of one case against the department feeds in the lake.

The household's members' ID numbers (an ``ibis.memtable``) are joined, in one Ibis
expression run on DuckDB, to the feed rows that exclude a person in the case's year —
the screening's own rules (``fangpin.policy.exclusions.exclusion_rows``: commercial
housing, a private vehicle, a business above the capital threshold of the policy
parameters, all registered by the end of the year; the public payroll of the year).

The result names every matching feed row (feed, batch, row, its key) so that the case
page can show why an exclusion was found, and a county officer can override it with a
reason when the feed is wrong. A feed with no rows for the year in the lake is reported
as *no data* — the exclusion was not checked — never as "nothing found".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from fangpin.common.money import Money
from fangpin.feeds.lake import lake_manifest, lake_table
from fangpin.policy import spec
from fangpin.policy.exclusions import (
    EXCLUSION_FEEDS,
    EXCLUSION_REFERENCE,
    business_threshold_fen,
    exclusion_rows,
)
from fangpin.policy.loader import ParameterSet, parameters_default
from fangpin.screening.expression import feed_years


@dataclass(frozen=True)
class Comparison:
    year: int
    threshold_fen: int | None  # the business-capital threshold at the end of the year
    rows: dict[str, int]  # exclusion -> feed rows of the year in the lake (0: no data)
    matches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def found(self) -> list[str]:
        return sorted({m["exclusion"] for m in self.matches})

    @property
    def no_data(self) -> list[str]:
        """Exclusions that could not be checked: their feed has nothing for the year."""
        return [x for x in spec.EXCLUSIONS if not self.rows.get(x)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "threshold_fen": self.threshold_fen,
            "rows": dict(self.rows),
            "found": self.found,
            "no_data": self.no_data,
            "matches": list(self.matches),
        }


def _text(column: ir.Value) -> ir.StringValue:
    return column.cast("string")


def _matches(rules: dict[str, ir.Table], people: ir.Table) -> ir.Table:
    """Every feed row that excludes one of ``people``, in one shape for all feeds."""
    parts = []
    for exclusion, t in rules.items():
        kind = EXCLUSION_FEEDS[exclusion]
        key, detail = EXCLUSION_REFERENCE[kind]
        hit = t.join(people, "id_number")
        parts.append(
            hit.select(
                exclusion=ibis.literal(exclusion),
                feed=ibis.literal(kind),
                id_number=hit.id_number,
                reference=_text(hit[key]),
                detail=_text(hit[detail]),
                registered=_text(hit.registered)
                if "registered" in hit.columns
                else _text(hit.year),
                batch=hit.batch,
                source_row=hit.source_row.cast("int64"),
            )
        )
    return ibis.union(*parts, distinct=False)


def _coverage(feeds: dict[str, ir.Table]) -> ir.Table:
    """Rows of each exclusion's feed (already cut to the partitions that speak for the year)."""
    parts = [
        feeds[kind].aggregate(rows=feeds[kind].count()).mutate(exclusion=ibis.literal(exclusion))
        for exclusion, kind in EXCLUSION_FEEDS.items()
    ]
    return ibis.union(*parts, distinct=False)


def exclusions_compare(
    *,
    id_numbers: Sequence[str],
    year: int,
    county_code: str = "",
    parameters: ParameterSet | None = None,
    root: Path | None = None,
) -> Comparison:
    """The exclusions the lake shows for these people in ``year``, with the rows that show them."""
    year_end = dt.date(year, 12, 31)
    try:
        threshold: int | None = business_threshold_fen(
            parameters or parameters_default(), county_code=county_code, on=year_end
        )
    except ValueError:  # a year before the parameter's first value: that rule cannot run
        threshold = None
    con = ibis.duckdb.connect()
    # the partitions the screening of the year reads: a register's years up to it, else its own
    manifest = lake_manifest(EXCLUSION_FEEDS.values())  # one query, every feed as of one moment
    feeds = {
        kind: lake_table(con, kind, root=root, years=feed_years(kind, year), manifest=manifest)
        for kind in EXCLUSION_FEEDS.values()
    }
    coverage = con.to_pyarrow(_coverage(feeds)).to_pylist()
    rows = {r["exclusion"]: int(r["rows"]) for r in coverage}
    people = ibis.memtable(
        pa.table({"id_number": pa.array(sorted(set(id_numbers)), type=pa.string())})
    )
    rules = exclusion_rows(feeds, year_end=year_end, threshold_fen=threshold or 0)
    if threshold is None:
        del rules["business"]
        rows["business"] = 0  # not checked, said so as "no data"
    found = con.to_pyarrow(_matches(rules, people)).to_pylist()
    for m in found:
        if m["feed"] == "business":  # registered capital, stored in fen: shown in yuan
            m["detail"] = str(Money.from_fen(int(m["detail"])))
    found.sort(key=lambda m: (m["exclusion"], m["id_number"], m["batch"], m["source_row"]))
    return Comparison(year=year, threshold_fen=threshold, rows=rows, matches=found)
