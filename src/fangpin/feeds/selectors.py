"""Reads of the feeds app: a batch's data-quality report, as much of it as a user may see.

A report lists a batch's rejected rows with their values, ID numbers among them, so
it is personal data. The roles that own feeds download it (``feeds.import``: a city
administrator, a county officer), and what they get depends on their region:

- **city scope** (a user of the city, or a superuser with no region): the whole
  report as the import wrote it, ID numbers in full;
- **narrower** (a county officer): only the rows placed in their region, ID numbers
  masked (``mask_id_number``), under a first line that says how many rows were left
  out and why.

A row is placed by its village: the feed's own village code where the feed has one
(the roster) and it is a known village; otherwise the village the lake's roster
gives the row's ID number (the latest year the person is in the roster). The ID
number's first six digits are not used — they tell where a person was first
registered, not where they live. A row that cannot be placed (no known village
code, an ID number that is malformed or not in the roster) is left out, and counted.
Problems of the whole file (rows 0 and 1: an unreadable file, a missing column) name
nobody and are kept.

A batch with nothing in the user's region is no report (``None``; the page answers
404), and so is a batch imported before its problems were kept by row (``problems``
empty): its report cannot be cut to a region, and only the city scope gets it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

import ibis
import polars as pl
import pyarrow as pa
from django.db.models import Q

from fangpin.accounts import permissions
from fangpin.common.idnumber import mask_id_number
from fangpin.common.memtable import arrow_memtable
from fangpin.common.tabular import Problem, problems_to_xlsx
from fangpin.regions.models import Level, Region

from . import schemas as s
from .lake import lake_table
from .models import BatchStatus, FeedBatch

NOTE_SCOPED = (
    "only the problem rows of {region}: {outside:,} rows of other regions and {unplaced:,} "
    "rows whose region cannot be told (no known village code, an ID number not in the "
    "roster) are left out; ID numbers are masked "
    "(仅列本辖区的问题行：其他辖区 {outside:,} 行、无法确定辖区 {unplaced:,} 行未列出；身份证号已脱敏)"
)


@dataclass(frozen=True)
class BatchReport:
    xlsx: bytes
    rows: int  # problem rows in the report
    rows_outside: int = 0  # left out: placed in other regions
    rows_unplaced: int = 0  # left out: no region could be told
    masked: bool = False


def is_city_scope(user: Any) -> bool:
    """Whether the user sees the whole city (a user of the city node, a superuser with none)."""
    prefix = permissions.scope_path(user)
    if prefix is None:
        return False
    region = getattr(user, "region", None)
    return prefix == "" or (region is not None and region.level == Level.CITY)


def batch_report(*, batch: FeedBatch, user: Any) -> BatchReport | None:
    """The data-quality report of ``batch`` as ``user`` may see it, or ``None``."""
    prefix = permissions.scope_path(user)
    if prefix is None:
        return None
    if is_city_scope(user):
        if not batch.report_xlsx:
            return None
        return BatchReport(bytes(batch.report_xlsx), rows=batch.rows_rejected)
    if not batch.problems:
        return None
    frame = pl.read_parquet(io.BytesIO(bytes(batch.problems)))
    whole_file = frame.filter(pl.col("row") <= 1)
    placed = rows_placed(frame.filter(pl.col("row") > 1))
    inside = pl.col("path").str.starts_with(prefix).fill_null(False)
    kept = placed.filter(inside)
    outside = placed.filter(pl.col("path").is_not_null() & ~inside)["row"].n_unique()
    unplaced = placed.filter(pl.col("path").is_null())["row"].n_unique()
    if kept.is_empty() and whole_file.is_empty():
        return None
    id_fields = {c.field for c in s.SCHEMAS[batch.kind].columns if c.type == s.ID_NUMBER}
    columns = ["row", "column", "value", "message", "field"]
    rows = pl.concat([whole_file.select(columns), kept.select(columns)])
    note = NOTE_SCOPED.format(region=user.region, outside=outside, unplaced=unplaced)
    problems = [Problem(0, "", note)] + [
        Problem(
            r["row"],
            r["column"],
            r["message"],
            mask_id_number(r["value"]) if r["field"] in id_fields and r["value"] else r["value"],
        )
        for r in rows.sort("row", "column", "message").iter_rows(named=True)
    ]
    return BatchReport(
        problems_to_xlsx(problems, source=batch.source_name),
        rows=kept["row"].n_unique(),
        rows_outside=outside,
        rows_unplaced=unplaced,
        masked=True,
    )


def _village_paths(codes: list[str]) -> dict[str, str]:
    if not codes:
        return {}
    found = Region.objects.filter(level=Level.VILLAGE, code__in=codes).values_list("code", "path")
    return dict(found)


def _roster_villages(id_numbers: list[str]) -> pl.DataFrame:
    """Each ID number's village in the lake's roster, of the latest year it is there."""
    empty = pl.DataFrame(schema={"id_number": pl.String, "roster_village": pl.String})
    if not id_numbers:
        return empty
    con = ibis.duckdb.connect()
    roster = lake_table(con, "roster")
    wanted = arrow_memtable(pa.table({"id_number": pa.array(id_numbers, type=pa.string())}))
    hit = roster.join(wanted, "id_number")
    latest = hit.group_by("id_number").aggregate(roster_village=hit.village_code.argmax(hit.year))
    found = pl.from_arrow(con.to_pyarrow(latest))
    return found if isinstance(found, pl.DataFrame) and found.height else empty


def rows_placed(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (with ``id_number`` and ``village_code``, either may be null) with ``path``: the
    region path of the village each row is placed in, or null."""
    paths = _village_paths(rows["village_code"].drop_nulls().unique().to_list())
    own = pl.col("village_code").is_in(list(paths))
    unknown = rows.filter(~own.fill_null(False))["id_number"].drop_nulls().unique().to_list()
    roster = _roster_villages(unknown)
    paths |= _village_paths(sorted(set(roster["roster_village"].drop_nulls()) - set(paths)))
    return rows.join(roster, on="id_number", how="left").with_columns(
        pl.when(own.fill_null(False))
        .then(pl.col("village_code"))
        .otherwise(pl.col("roster_village"))
        .replace_strict(paths, default=None, return_dtype=pl.String)
        .alias("path")
    )


def feed_rows(
    *, kind: str, field: str, values: Sequence[str], years: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    """The lake's rows of ``kind`` whose ``field`` is one of ``values`` (in the partitions
    of ``years``), ordered by ``field`` and source row, as dicts of the lake's columns
    (money in integer fen) plus ``batch_id``: the accepted batch the row came in.

    For a few rows (a warning's feed rows: at most 50 values), not for batch work.
    """
    values = sorted({str(v) for v in values if v})
    if not values:
        return []
    con = ibis.duckdb.connect()
    t = lake_table(con, kind, years=years)
    hit = t.filter(t[field].isin(values)).order_by([field, "source_row"])
    rows = con.to_pyarrow(hit).to_pylist()
    tags = sorted({r["batch"] for r in rows if r.get("batch")})
    batches: dict[str, int] = {}
    if tags:
        # a lake file names its batch by the first 16 hex digits of the file's checksum
        accepted = FeedBatch.objects.filter(kind=kind, status=BatchStatus.ACCEPTED)
        wanted = reduce(or_, (Q(checksum__startswith=tag) for tag in tags))
        for pk, checksum in accepted.filter(wanted).values_list("pk", "checksum"):
            batches[checksum[:16]] = pk
    return [{**r, "batch_id": batches.get(r.get("batch") or "")} for r in rows]
