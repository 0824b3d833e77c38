"""The outcome the city reports (返贫 and 新致贫): households that fell below the income line.

For year Y, from the annual income records: per-capita income (the latest income
record of Y ÷ the household's members) below the income line of Y, while at or above
the line of Y−1 the year before (both records needed); 返贫 for a registered
out-of-poverty household (type ``unstable``, 脱贫不稳定户), 新致贫 for any other type.
The line of a year is the one in force on 31 December of that year for the household's
county (``rules.IncomeLines``). The comparison is exact: income in fen against line ×
members, no rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from django.db.models import BigIntegerField, Count, Max, OuterRef, Subquery
from django.db.models.functions import Cast

from fangpin.accounts import permissions
from fangpin.common.money import Money
from fangpin.regions.models import Region
from fangpin.registry.models import HEAD_RELATIONS, IncomeRecord, Member
from fangpin.registry.selectors import household_scope

from .rules import IncomeLines
from .selectors import group_lookup

RETURNED = "returned"  # 返贫: an out-of-poverty household (unstable) fell below the line
NEW = "new"  # 新致贫: any other household fell below the line


@dataclass(frozen=True)
class OutcomeRow:
    household_no: str
    household_type: str
    village: str
    township: str
    head_name: str
    members: int
    kind: str  # RETURNED or NEW
    per_capita_before: Money
    line_before: Money
    per_capita: Money
    line: Money


@dataclass(frozen=True)
class OutcomeGroup:
    code: str
    name: str
    returned: int
    new: int


@dataclass
class OutcomeReport:
    year: int
    returned: int = 0
    new: int = 0
    evaluated: int = 0  # households with an income record in both years and members
    rows: list[OutcomeRow] = field(default_factory=list)
    groups: list[OutcomeGroup] = field(default_factory=list)
    no_line: bool = False  # the policy has no line for the year or the year before


def income_years(*, user: Any) -> list[int]:
    """The years with income records in scope, newest first."""
    return list(
        permissions.scope_filter(user, IncomeRecord.objects.all(), "household__village__path")
        .order_by("-year")
        .values_list("year", flat=True)
        .distinct()
    )


def outcome_latest_year(*, user: Any, until: int) -> int | None:
    """The year whose outcome a page shows first: the latest with income records in scope,
    no later than ``until`` (the current year) — a record dated ahead, a typo or a plan,
    does not move the pages into the future."""
    return (
        permissions.scope_filter(user, IncomeRecord.objects.all(), "household__village__path")
        .filter(year__lte=until)
        .aggregate(y=Max("year"))
        .get("y")
    )


def outcome_report(*, user: Any, year: int, with_rows: bool = True) -> OutcomeReport:
    """返贫 and 新致贫 of ``year`` in the user's region, counted and listed by name.

    Set-based: one read over the scope — each household with its member count and its
    income of ``year`` and ``year - 1``, looked up by index — then one polars
    computation. Counts are grouped one level below the user's region (townships for a
    county).
    """
    report = OutcomeReport(year=year)

    def latest_fen(of_year: int) -> Subquery:
        # the latest record of the household and year is the figure in force
        records = IncomeRecord.objects.filter(household=OuterRef("pk"), year=of_year)
        latest = records.order_by("-recorded_at", "-id").annotate(
            fen=Cast("annual_income", BigIntegerField())
        )
        return Subquery(latest.values("fen")[:1])

    member_count = (
        Member.objects.filter(household=OuterRef("pk"))
        .order_by()
        .values("household")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = list(
        household_scope(user=user)
        .order_by()  # the rows are sorted below; the households' default order costs a sort
        .annotate(
            member_count=Subquery(member_count),
            fen_now=latest_fen(year),
            fen_before=latest_fen(year - 1),
        )
        .values_list(
            "pk",
            "household_no",
            "household_type",
            "village__path",
            "village__name",
            "member_count",
            "fen_now",
            "fen_before",
        )
    )
    if not rows:
        return report
    frame = pl.DataFrame(
        rows,
        schema={
            "hh": pl.Int64,
            "household_no": pl.String,
            "household_type": pl.String,
            "path": pl.String,
            "village": pl.String,
            "members": pl.Int64,
            "fen_now": pl.Int64,
            "fen_before": pl.Int64,
        },
        orient="row",
    ).with_columns(
        pl.col("path").str.split("/").list.get(1, null_on_oob=True).alias("county"),
        pl.col("path").str.split("/").list.get(2, null_on_oob=True).alias("township_code"),
    )

    lines = IncomeLines()
    counties = frame["county"].drop_nulls().unique().to_list()
    line_rows = []
    for code in counties:
        now_line, before_line = lines.line(code, year), lines.line(code, year - 1)
        if now_line is None or before_line is None:
            report.no_line = True
            continue
        line_rows.append((code, int(now_line * 100), int(before_line * 100)))
    line_frame = pl.DataFrame(
        line_rows,
        schema={"county": pl.String, "line_now": pl.Int64, "line_before": pl.Int64},
        orient="row",
    )
    # households with members and an income record in both years are evaluated
    frame = frame.filter(
        (pl.col("members") > 0)
        & pl.col("fen_now").is_not_null()
        & pl.col("fen_before").is_not_null()
    ).join(line_frame, on="county", how="inner")
    report.evaluated = frame.height
    # below the line this year, at or above it last year — compared exactly in fen × members
    fell = frame.filter(
        (pl.col("fen_now") < pl.col("line_now") * pl.col("members"))
        & (pl.col("fen_before") >= pl.col("line_before") * pl.col("members"))
    ).with_columns(
        pl.when(pl.col("household_type") == "unstable")
        .then(pl.lit(RETURNED))
        .otherwise(pl.lit(NEW))
        .alias("kind")
    )
    report.returned = fell.filter(pl.col("kind") == RETURNED).height
    report.new = fell.filter(pl.col("kind") == NEW).height

    group = group_lookup(user)
    position = {"village__parent__parent": 1, "village__parent": 2, "village": 3}[group]
    fell = fell.with_columns(
        pl.col("path").str.split("/").list.get(position, null_on_oob=True).alias("group")
    )
    counted = (
        fell.group_by("group")
        .agg(
            (pl.col("kind") == RETURNED).sum().alias("returned"),
            (pl.col("kind") == NEW).sum().alias("new"),
        )
        .sort("group")
    )
    names = dict(
        Region.objects.filter(code__in=counted["group"].drop_nulls().to_list()).values_list(
            "code", "name"
        )
    )
    report.groups = [
        OutcomeGroup(r["group"], names.get(r["group"], r["group"]), r["returned"], r["new"])
        for r in counted.iter_rows(named=True)
    ]
    if with_rows and fell.height:
        ids = fell["hh"].to_list()
        heads = dict(
            Member.objects.filter(household_id__in=ids, relation__in=HEAD_RELATIONS)
            .order_by("-id")
            .values_list("household_id", "name")
        )
        townships = dict(
            Region.objects.filter(
                code__in=fell["township_code"].drop_nulls().unique().to_list()
            ).values_list("code", "name")
        )
        for r in fell.sort("kind", "path", "household_no").iter_rows(named=True):
            n = r["members"]
            report.rows.append(
                OutcomeRow(
                    household_no=r["household_no"],
                    household_type=r["household_type"],
                    village=r["village"],
                    township=townships.get(r["township_code"], ""),
                    head_name=heads.get(r["hh"], ""),
                    members=n,
                    kind=r["kind"],
                    per_capita_before=Money(Decimal(r["fen_before"]) / 100 / n),
                    line_before=Money.from_fen(r["line_before"]),
                    per_capita=Money(Decimal(r["fen_now"]) / 100 / n),
                    line=Money.from_fen(r["line_now"]),
                )
            )
    return report
