"""Running the screening (``screening_run``) and working its warnings (``warning_dismiss``).

``screening_run`` takes a snapshot of the registry (managed households: type,
members, income) at the start, passes it to the one Ibis expression of
``expression.py`` as an in-memory table, runs it over the lake on DuckDB (or on
Spark, ``engine="pyspark"``: ``engines.py``), and writes in one transaction: the
households not yet in the registry that were warned (as ``ordinary``, with their
roster members), and the warnings that are new — the unique key household ×
circumstance × year makes a re-run add only what is new.
"""

from __future__ import annotations

import time
from typing import Any

import ibis
import polars as pl
import pyarrow as pa
from django.db import connection, transaction
from django.utils import timezone

from fangpin.common.audit import audit_record
from fangpin.common.bulk import bulk_insert, db_datetime
from fangpin.common.tabular import chunks, frame_of
from fangpin.feeds.lake import lake_files, lake_table
from fangpin.policy.loader import ParameterSet
from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household, IncomeRecord, Member
from fangpin.registry.services import household_bulk_load

from .engines import DUCKDB, EngineError, engine_open
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

    The income is the last record of ``year``, else of the latest earlier year (a
    correction is recorded after what it corrects). A household with no member on
    record gets a null count, so the screening counts its roster members instead.
    One query, read straight into Arrow: at city scale (170,000 managed households)
    the ORM's per-row work would cost more than the screening's own query.
    """
    hh, member, income, region = (
        m._meta.db_table for m in (Household, Member, IncomeRecord, Region)
    )
    scope = ""
    params: list[Any] = [year]
    if county_code:
        scope = f"WHERE h.village_id IN (SELECT id FROM {region} WHERE code LIKE %s)"  # noqa: S608
        params.append(f"{county_code}%")
    sql = f"""
        WITH latest AS (
            SELECT household_id, annual_income,
                   ROW_NUMBER() OVER (PARTITION BY household_id ORDER BY year DESC, id DESC) AS n
            FROM {income} WHERE year <= %s
        ), counted AS (
            SELECT household_id, COUNT(*) AS members FROM {member} GROUP BY household_id
        )
        SELECT h.household_no, h.household_type, c.members, l.annual_income
        FROM {hh} h
        LEFT JOIN counted c ON c.household_id = h.id
        LEFT JOIN latest l ON l.household_id = h.id AND l.n = 1
        {scope}
    """  # noqa: S608 -- table names from the models' meta; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return frame_of(
        rows, dict(zip(REGISTRY_SNAPSHOT_COLUMNS, SNAPSHOT_TYPES, strict=True))
    ).to_arrow()


SNAPSHOT_TYPES = (pl.String, pl.String, pl.Int64, pl.Int64)


def screening_compute(
    *,
    year: int,
    county_code: str = "",
    parameters: ParameterSet | None = None,
    registry: pa.Table | None = None,
    engine: str = DUCKDB,
    master: str = "",
) -> pl.DataFrame:
    """The warnings the lake and the registry imply for ``year`` (nothing written).

    ``engine`` is where the expression runs (``duckdb`` or ``pyspark``; ``master`` a
    Spark master URL, see ``engines.py``): the same expression, the same rows.
    """
    try:
        runner = engine_open(engine, master=master)
    except EngineError as exc:
        raise ScreeningError(str(exc)) from exc
    roster_files = lake_files("roster", years=[year])
    if not roster_files:
        raise ScreeningError(ERR_NO_ROSTER.format(year=year))
    with runner:
        feeds = runner.feeds(FEED_KINDS, year=year)
        snapshot = (
            registry
            if registry is not None
            else registry_snapshot(year=year, county_code=county_code)
        )
        expr = screening_expression(
            feeds,
            runner.table(snapshot),
            year=year,
            county_code=county_code,
            parameters=parameters,
            # a batch's key (year, ID number) is unique: one batch needs no de-duplication
            roster_unique=len(roster_files) == 1,
        )
        return runner.fetch(expr)


def screening_run(
    *,
    year: int,
    county_code: str = "",
    actor: Any = None,
    parameters: ParameterSet | None = None,
    engine: str = DUCKDB,
    master: str = "",
) -> ScreeningRun:
    """Screen ``year`` (one county or all) and record the new warnings; idempotent.

    ``engine``/``master``: where the expression runs (see ``screening_compute``).
    """
    if year < 2017 or year > timezone.localdate().year:
        raise ScreeningError(ERR_YEAR)
    started = time.perf_counter()
    found = screening_compute(
        year=year, county_code=county_code, parameters=parameters, engine=engine, master=master
    )
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

    ids: list[tuple[str, int, str]] = []
    for chunk in chunks(nos):
        ids += Household.objects.filter(household_no__in=chunk).values_list(
            "household_no", "id", "village__path"
        )
    households = pl.DataFrame(
        ids,
        schema={"household_no": pl.String, "household_id": pl.Int64, "region_path": pl.String},
        orient="row",
    )
    existing = pl.DataFrame(
        list(Warning.objects.filter(year=year).values_list("household_id", "circumstance")),
        schema={"household_id": pl.Int64, "circumstance": pl.String},
        orient="row",
    )
    # a household whose roster village is not in the region tree has no place in the registry:
    # its warnings cannot be recorded; say so (the run's audit row names the villages)
    unplaced = found.join(households, on="household_no", how="anti")
    run.unplaced = unplaced.height
    fresh = found.join(households, on="household_no").join(
        existing, on=["household_id", "circumstance"], how="anti"
    )
    now = db_datetime(timezone.now())
    refs = pl.col("refs").fill_null("").str.split(",").list.unique().list.sort()
    refs = refs.list.filter(pl.element() != "").list.head(50)
    created = bulk_insert(
        Warning,
        fresh.select(
            "household_id",
            "region_path",
            "circumstance",
            pl.lit(year).alias("year"),
            "household_type",
            "members",
            pl.col("self_paid_fen").alias("self_paid"),
            pl.when("income_known").then(pl.col("income_fen")).alias("annual_income"),
            "income_known",
            "income_source",
            pl.col("units").clip(upper_bound=32767).alias("units"),
            # refs are codes (letters, digits, -), so joining them makes valid JSON
            pl.when(refs.list.len() > 0)
            .then(pl.format('["{}"]', refs.list.join('","')))
            .otherwise(pl.lit("[]"))
            .alias("feed_refs"),
            "parameter_version",
            pl.col("relief_fen").alias("estimated_relief"),
            pl.lit(WarningStatus.OPEN.value).alias("status"),
            pl.lit("").alias("reason"),
            pl.lit(run.pk).alias("run_id"),
            pl.lit(now).alias("created_at"),
        ),
    )
    run.warnings_added = created
    run.save(update_fields=["households_added", "warnings_added"])
    audit_record(
        actor=actor,
        action="screening.run",
        obj=run,
        data={
            "year": year,
            "county": county_code,
            "found": found.height,
            "added": created,
            "households_added": run.households_added,
            "unplaced": unplaced.height,
            "unplaced_villages": sorted(unplaced["village_code"].unique().to_list())[:50],
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
    roster = lake_table(con, "roster", years=[year])
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
