"""Running the screening (``screening_run``) and working its warnings (``warning_dismiss``).

``screening_run`` takes a snapshot of the registry (managed households: type,
members, income) at the start, passes it to the one Ibis expression of
``expression.py`` as an in-memory table, runs it on DuckDB over the lake, and
writes in one transaction: the households not yet in the registry that were
warned (as ``ordinary``, with their roster members), and the warnings that are
new — the unique key household × circumstance × year makes a re-run add only
what is new.
"""

from __future__ import annotations

import time
from typing import Any

import ibis
import polars as pl
import pyarrow as pa
from django.db import transaction
from django.db.models import BigIntegerField, Count
from django.db.models.functions import Cast
from django.utils import timezone

from fangpin.common.audit import audit_record
from fangpin.common.money import Money
from fangpin.common.tabular import chunks, frame_of
from fangpin.feeds.lake import lake_table
from fangpin.policy.loader import ParameterSet
from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household, IncomeRecord, Member
from fangpin.registry.services import household_bulk_load

from .expression import FEED_KINDS, REGISTRY_SNAPSHOT_COLUMNS, screening_expression
from .models import ScreeningRun, Warning, WarningStatus

ERR_NO_ROSTER = (
    "the lake holds no roster for {year}; import one first (fangpin import feed roster FILE) "
    "(数据湖中没有该年度户籍数据)"
)
ERR_REASON = "give a reason of at least 4 characters (请填写排除理由)"
ERR_NOT_OPEN = "this warning is no longer open (该预警已处理)"
ERR_YEAR = "year must be from 2017 to this year (年度无效)"


class ScreeningError(Exception):
    pass


def registry_snapshot(*, year: int, county_code: str = "") -> pa.Table:
    """Managed households as they stand now: type, members, income for ``year``.

    The income is the latest record of ``year``, else of the latest earlier year.
    """
    households = Household.objects.all()
    if county_code:
        households = households.filter(village__code__startswith=county_code)
    base = frame_of(
        list(
            households.annotate(n=Count("members")).values_list(
                "household_no", "household_type", "n"
            )
        ),
        {"household_no": pl.String, "household_type": pl.String, "members": pl.Int64},
    )
    incomes = IncomeRecord.objects.filter(year__lte=year)
    if county_code:
        incomes = incomes.filter(household__village__code__startswith=county_code)
    income = frame_of(
        list(
            incomes.annotate(fen=Cast("annual_income", BigIntegerField())).values_list(
                "household__household_no", "year", "fen", "recorded_at", "id"
            )
        ),
        {
            "household_no": pl.String,
            "year": pl.Int64,
            "income_fen": pl.Int64,
            "at": pl.Datetime("us", "UTC"),
            "pk": pl.Int64,
        },
    )
    latest = (
        income.sort(["year", "at", "pk"]).group_by("household_no").agg(pl.col("income_fen").last())
    )
    snapshot = base.join(latest, on="household_no", how="left")
    return snapshot.select(list(REGISTRY_SNAPSHOT_COLUMNS)).to_arrow()


def screening_compute(
    *,
    year: int,
    county_code: str = "",
    parameters: ParameterSet | None = None,
    registry: pa.Table | None = None,
) -> pl.DataFrame:
    """The warnings the lake and the registry imply for ``year`` (nothing written)."""
    con = ibis.duckdb.connect()
    feeds = {kind: lake_table(con, kind) for kind in FEED_KINDS}
    if feeds["roster"].filter(feeds["roster"].period_year == year).count().execute() == 0:
        raise ScreeningError(ERR_NO_ROSTER.format(year=year))
    snapshot = (
        registry if registry is not None else registry_snapshot(year=year, county_code=county_code)
    )
    expr = screening_expression(
        feeds,
        ibis.memtable(snapshot),
        year=year,
        county_code=county_code,
        parameters=parameters,
    )
    return pl.from_arrow(con.to_pyarrow(expr))  # type: ignore[return-value]


def screening_run(
    *,
    year: int,
    county_code: str = "",
    actor: Any = None,
    parameters: ParameterSet | None = None,
) -> ScreeningRun:
    """Screen ``year`` (one county or all) and record the new warnings; idempotent."""
    if year < 2017 or year > timezone.localdate().year:
        raise ScreeningError(ERR_YEAR)
    started = time.perf_counter()
    found = screening_compute(year=year, county_code=county_code, parameters=parameters)
    run = _record(found=found, year=year, county_code=county_code, actor=actor)
    run.seconds = time.perf_counter() - started
    run.save(update_fields=["seconds"])
    return run


@transaction.atomic
def _record(*, found: pl.DataFrame, year: int, county_code: str, actor: Any) -> ScreeningRun:
    actor_id = getattr(actor, "pk", None)
    run = ScreeningRun.objects.create(
        year=year, county_code=county_code, warnings_found=found.height, run_by_id=actor_id
    )
    nos = found["household_no"].unique().to_list()

    # households not in the registry yet: add them as ordinary, with their roster members
    known = set()
    for chunk in chunks(nos):
        known.update(
            Household.objects.filter(household_no__in=chunk).values_list("household_no", flat=True)
        )
    new = found.filter(~pl.col("household_no").is_in(sorted(known))).unique("household_no")
    if new.height:
        run.households_added = _households_add(new=new, year=year, actor=actor)

    ids: dict[str, tuple[int, str]] = {}
    for chunk in chunks(nos):
        ids.update(
            (no, (pk, path))
            for no, pk, path in Household.objects.filter(household_no__in=chunk).values_list(
                "household_no", "id", "village__path"
            )
        )
    existing: set[tuple[int, str]] = set()
    pks = [pk for pk, _ in ids.values()]
    for chunk in chunks(pks):
        existing.update(
            Warning.objects.filter(year=year, household_id__in=chunk).values_list(
                "household_id", "circumstance"
            )
        )
    fresh = [
        r
        for r in found.iter_rows(named=True)
        if r["household_no"] in ids
        and (ids[r["household_no"]][0], r["circumstance"]) not in existing
    ]
    created = Warning.objects.bulk_create(
        [
            Warning(
                household_id=ids[r["household_no"]][0],
                region_path=ids[r["household_no"]][1],
                circumstance=r["circumstance"],
                year=year,
                household_type=r["household_type"],
                members=r["members"],
                self_paid=Money.from_fen(r["self_paid_fen"]),
                annual_income=Money.from_fen(r["income_fen"]) if r["income_known"] else None,
                income_known=r["income_known"],
                units=min(r["units"], 32767),
                feed_refs=sorted(set((r["refs"] or "").split(",")) - {""})[:50],
                parameter_version=r["parameter_version"],
                estimated_relief=Money.from_fen(r["relief_fen"]),
                run=run,
            )
            for r in fresh
        ],
        batch_size=2000,
    )
    run.warnings_added = len(created)
    run.save(update_fields=["households_added", "warnings_added"])
    audit_record(
        actor=actor,
        action="screening.run",
        obj=run,
        data={
            "year": year,
            "county": county_code,
            "found": found.height,
            "added": len(created),
            "households_added": run.households_added,
        },
    )
    return run


def _households_add(*, new: pl.DataFrame, year: int, actor: Any) -> int:
    """Add warned households that the registry does not manage yet, as ordinary (一般农户)."""
    village_ids = {
        code: (pk, path)
        for code, pk, path in Region.objects.filter(
            level=Level.VILLAGE, code__in=new["village_code"].unique().to_list()
        ).values_list("code", "id", "path")
    }
    new = new.filter(pl.col("village_code").is_in(list(village_ids)))
    if new.height == 0:
        return 0
    con = ibis.duckdb.connect()
    roster = lake_table(con, "roster")
    wanted = ibis.memtable(new.select("household_no").to_arrow())
    people = pl.from_arrow(
        con.to_pyarrow(
            roster.filter(roster.period_year == year)
            .join(wanted, "household_no")
            .select("household_no", "name", "id_number", "relation")
            .distinct(on="id_number", keep="first")
        )
    )
    taken: set[str] = set()
    for chunk in chunks(people["id_number"].to_list()):
        taken.update(Member.objects.filter(id_number__in=chunk).values_list("id_number", flat=True))
    members = people.filter(~pl.col("id_number").is_in(sorted(taken))).with_columns(
        pl.lit("").alias("labour")
    )
    households = new.select(
        "household_no",
        "village_code",
        pl.lit("ordinary").alias("household_type"),
        pl.lit("").alias("bank"),
        pl.lit("").alias("bank_account"),
    )
    return household_bulk_load(
        households=households,
        members=members,
        incomes=pl.DataFrame(
            schema={"household_no": pl.String, "year": pl.Int64, "annual_income_fen": pl.Int64}
        ),
        village_ids=village_ids,
        actor=actor,
        source="screening",
    )


@transaction.atomic
def warning_dismiss(*, warning: Warning, actor: Any, reason: str) -> Warning:
    """Dismiss an open warning with a reason (排除), audited."""
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise ScreeningError(ERR_REASON)
    locked = Warning.objects.select_for_update().get(pk=warning.pk)
    if locked.status != WarningStatus.OPEN:
        raise ScreeningError(ERR_NOT_OPEN)
    locked.status = WarningStatus.DISMISSED
    locked.reason = reason[:255]
    locked.decided_by = actor if getattr(actor, "pk", None) else None
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "reason", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="screening.warning.dismissed",
        obj=locked,
        region_path=locked.region_path,
        from_state=WarningStatus.OPEN,
        to_state=WarningStatus.DISMISSED,
        reason=locked.reason,
    )
    return locked


@transaction.atomic
def warning_open_case(*, warning: Warning, actor: Any) -> Any:
    """Open a relief case from an open warning (部门筛查预警 → 立案) and mark the warning.

    The cases app decides who may open a case from a warning and joins a case
    already open for the same household, circumstance and year.
    """
    from fangpin.cases.services import case_open

    locked = Warning.objects.select_for_update().select_related("household").get(pk=warning.pk)
    if locked.status != WarningStatus.OPEN:
        raise ScreeningError(ERR_NOT_OPEN)
    case, _joined = case_open(
        household=locked.household,
        circumstance=locked.circumstance,
        period=locked.year,
        source="warning",
        actor=actor,
        reference=str(locked.pk),
        description=f"screening warning {locked.pk} (筛查预警)",
    )
    locked.status = WarningStatus.CASE_OPENED
    locked.decided_by = actor if getattr(actor, "pk", None) else None
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="screening.warning.case_opened",
        obj=locked,
        region_path=locked.region_path,
        from_state=WarningStatus.OPEN,
        to_state=WarningStatus.CASE_OPENED,
        data={"case": case.pk},
    )
    return case
