"""Running the screening (``screening_run``); its warnings are worked in ``triage.py``.

``screening_run`` runs the steps of the Ibis expression of ``expression.py`` over
the lake on DuckDB (or on Spark, ``engine="pyspark"``: ``engines.py``), keeping each
step's result on the engine; once the candidate households are known it takes a
snapshot of the registry for them (managed households: type, members, income) and
passes it to the last step as an in-memory table. It then writes in one
transaction: the households not yet in the registry that were warned (as
``ordinary``, with their roster members), and the warnings that are new — the
unique key household × circumstance × year makes a re-run add only what is new.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import polars as pl
import pyarrow as pa
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangpin.common.audit import audit_record, audit_record_many
from fangpin.common.bulk import bulk_insert, db_datetime, filter_in, in_values
from fangpin.common.errors import DomainError
from fangpin.common.models import AuditEvent
from fangpin.common.tabular import frame_of
from fangpin.feeds.lake import lake_files, lake_manifest
from fangpin.policy.loader import ParameterSet, parameters_default
from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household, IncomeRecord, Member
from fangpin.registry.services import household_bulk_load, household_ids

from .engines import DUCKDB, EngineError, engine_open
from .expression import (
    FEED_KINDS,
    MATCH_COLUMNS,
    REGISTRY_SNAPSHOT_COLUMNS,
    business_threshold_fen,
    exclusion_matches,
    screening_decide,
    screening_expression,
    screening_named,
    screening_people,
    screening_units,
)
from .models import ScreeningRun, Warning, WarningStatus

ERR_NO_ROSTER = (
    "the lake holds no roster for {year}; import one first (fangpin import feed roster FILE) "
    "(数据湖中没有该年度户籍数据)"
)
ERR_YEAR = "year must be from 2017 to this year (年度无效)"


class ScreeningError(DomainError):
    """A screening refused, or a warning's triage (``triage.py``): the message says why."""


def registry_snapshot(
    *, year: int, county_code: str = "", household_nos: Sequence[str] | None = None
) -> pa.Table:
    """Managed households as they stand now: type, members, income for ``year`` — all of
    them, a county's, or those among ``household_nos`` (the screening's candidates).

    The income is the last record of ``year``, else of the latest earlier year (a
    correction is recorded after what it corrects). A household with no member on
    record gets a null count, so the screening counts its roster members instead.
    One query, each household's count and income looked up by index, read straight into
    Arrow: the ORM's per-row work would cost more than the screening's own query.
    """
    hh, member, income, region = (
        m._meta.db_table for m in (Household, Member, IncomeRecord, Region)
    )
    conditions, params = [], [year]
    if county_code:
        conditions.append(f"h.village_id IN (SELECT id FROM {region} WHERE code LIKE %s)")  # noqa: S608
        params.append(f"{county_code}%")
    if household_nos is not None:
        if not len(household_nos):
            return pl.DataFrame(schema=_SNAPSHOT_SCHEMA).to_arrow()
        condition, values = in_values("h.household_no", household_nos)
        conditions.append(condition)
        params += values
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    sql = f"""
        SELECT h.household_no, h.household_type,
            (SELECT NULLIF(COUNT(*), 0) FROM {member} m WHERE m.household_id = h.id),
            (SELECT i.annual_income FROM {income} i WHERE i.household_id = h.id AND i.year <= %s
             ORDER BY i.year DESC, i.id DESC LIMIT 1)
        FROM {hh} h {where}
    """  # noqa: S608 -- table names from the models' meta; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return frame_of(rows, _SNAPSHOT_SCHEMA).to_arrow()


_SNAPSHOT_SCHEMA = dict(
    zip(REGISTRY_SNAPSHOT_COLUMNS, (pl.String, pl.String, pl.Int64, pl.Int64), strict=True)
)


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
    ``registry``: a snapshot to screen against instead of the registry's own.
    """
    return _screen(
        year=year,
        county_code=county_code,
        parameters=parameters,
        registry=registry,
        engine=engine,
        master=master,
    ).found


@dataclass
class Screened:
    found: pl.DataFrame  # expression.OUTPUT_COLUMNS
    # the roster's people of the warned households that the registry does not manage
    # (household_no, id_number, name, relation), when asked for
    people: pl.DataFrame
    # the feed rows behind the exclusions of the excluded households (expression.MATCH_COLUMNS),
    # when asked for
    matches: pl.DataFrame


PEOPLE_SCHEMA = {
    "household_no": pl.String,
    "id_number": pl.String,
    "name": pl.String,
    "relation": pl.String,
}
MATCH_SCHEMA = dict.fromkeys(MATCH_COLUMNS, pl.String) | {"source_row": pl.Int64}


def _screen(
    *,
    year: int,
    county_code: str = "",
    parameters: ParameterSet | None = None,
    registry: pa.Table | None = None,
    engine: str = DUCKDB,
    master: str = "",
    people: bool = False,
) -> Screened:
    """Run the screening on one engine session; with ``people`` (to record the warnings),
    also return the roster's members of the warned households that are new to the
    registry, and the feed rows behind the excluded households' exclusions.

    On DuckDB the expression (``expression.py``) runs in steps, each kept on the engine
    as a temporary table: ``screening_named`` and ``screening_units`` over the whole
    roster; then the registry snapshot of only the households with units that could be
    helped (a few percent of the roster); their ``screening_people``; and
    ``screening_decide``. Spark plans the composed ``screening_expression`` best (kept
    steps made a county-year 35 → 46 s there), over a snapshot of the whole registry.
    """
    try:
        runner = engine_open(engine, master=master)
    except EngineError as exc:
        raise ScreeningError(str(exc)) from exc
    # one manifest for every feed: the roster counted here is the roster read below
    manifest = lake_manifest(FEED_KINDS)
    roster_files = lake_files("roster", years=[year], manifest=manifest)
    if not roster_files:
        raise ScreeningError(ERR_NO_ROSTER.format(year=year))
    threshold = business_threshold_fen(
        parameters or parameters_default(), county_code=county_code, on=dt.date(year, 12, 31)
    )
    with runner:
        feeds = runner.feeds(FEED_KINDS, year=year, manifest=manifest)
        # a batch's key (year, ID number) is unique: one batch needs no de-duplication
        roster_unique = len(roster_files) == 1
        persons = None  # the candidates' people, where they were kept
        if runner.name == DUCKDB:
            named = runner.keep(
                screening_named(
                    feeds, year=year, county_code=county_code, roster_unique=roster_unique
                )
            )
            units = runner.keep(screening_units(feeds, named, year=year, parameters=parameters))
            candidates = units.select("household_no").distinct()
            persons = runner.keep(
                screening_people(
                    feeds,
                    candidates,
                    year=year,
                    county_code=county_code,
                    roster_unique=roster_unique,
                )
            )
            if registry is None:
                nos = runner.fetch(candidates)["household_no"].to_list()
                registry = registry_snapshot(year=year, household_nos=nos)
            expr = screening_decide(
                feeds,
                units,
                persons,
                runner.table(registry),
                year=year,
                county_code=county_code,
                parameters=parameters,
                business_capital_threshold_fen=threshold,
            )
        else:
            if registry is None:
                registry = registry_snapshot(year=year, county_code=county_code)
            expr = screening_expression(
                feeds,
                runner.table(registry),
                year=year,
                county_code=county_code,
                parameters=parameters,
                business_capital_threshold_fen=threshold,
                roster_unique=roster_unique,
            )
        found = runner.fetch(expr)
        screened = Screened(
            found, pl.DataFrame(schema=PEOPLE_SCHEMA), pl.DataFrame(schema=MATCH_SCHEMA)
        )
        if not people:
            return screened

        def people_of(households: pl.DataFrame, name: str) -> ir.Table:
            wanted = runner.table(households.to_arrow(), name=name)
            of = persons
            if of is None:
                of = screening_people(
                    feeds, wanted, year=year, county_code=county_code, roster_unique=roster_unique
                )
            return of.semi_join(wanted, "household_no")

        new = found.select("household_no").unique()
        new = new.join(
            pl.from_arrow(registry.select(["household_no"])), on="household_no", how="anti"
        )
        if new.height:
            screened.people = runner.fetch(
                people_of(new, "fangpin_new_households").select(*PEOPLE_SCHEMA)
            )
        excluded = found.filter(pl.col("exclusions") != "").select("household_no", "exclusions")
        excluded = excluded.unique("household_no")
        if excluded.height:
            rows = exclusion_matches(
                feeds,
                people_of(excluded.select("household_no"), "fangpin_excluded_households"),
                year_end=dt.date(year, 12, 31),
                threshold_fen=threshold,
            )
            # only the rows of the exclusions that apply in the household's county
            screened.matches = (
                runner.fetch(rows)
                .join(excluded, on="household_no")
                .filter(pl.col("exclusions").str.split(",").list.contains(pl.col("exclusion")))
                .select(MATCH_COLUMNS)
                .sort("household_no", "exclusion", "id_number", "batch", "source_row")
            )
        return screened


def screening_run(
    *,
    year: int,
    county_code: str = "",
    actor: Any = None,
    parameters: ParameterSet | None = None,
    engine: str = DUCKDB,
    master: str = "",
    progress: Any = None,
) -> ScreeningRun:
    """Screen ``year`` (one county or all) and record the new warnings; idempotent.

    ``engine``/``master``: where the expression runs (see ``screening_compute``);
    ``progress(step, done, total)`` hears the two stages (screening, recording).
    """
    if year < 2017 or year > timezone.localdate().year:
        raise ScreeningError(ERR_YEAR)
    say = progress or (lambda step, done=None, total=None: None)
    started = time.perf_counter()
    say(_("Screening the lake's feeds against the registry and the policy"), 0, 2)
    screened = _screen(
        year=year,
        county_code=county_code,
        parameters=parameters,
        engine=engine,
        master=master,
        people=True,
    )
    say(_("Recording the warnings"), 1, 2)
    run = _record(screened=screened, year=year, county_code=county_code, actor=actor)
    run.seconds = time.perf_counter() - started
    run.save(update_fields=["seconds"])
    return run


@transaction.atomic
def _record(*, screened: Screened, year: int, county_code: str, actor: Any) -> ScreeningRun:
    found = screened.found
    actor_id = getattr(actor, "pk", None)
    run = ScreeningRun.objects.create(
        year=year, county_code=county_code, warnings_found=found.height, run_by_id=actor_id
    )
    nos = found["household_no"].unique()
    households = household_ids(nos.to_list())
    # households not in the registry yet: add them as ordinary, with their roster members
    new = found.join(households, on="household_no", how="anti").unique("household_no")
    if new.height:
        run.households_added = _households_add(new=new, people=screened.people, actor=actor)
        households = pl.concat([households, household_ids(new["household_no"].to_list())])
    existing = pl.DataFrame(
        list(
            Warning.objects.filter(year=year).values_list(
                "id", "household_id", "circumstance", "status"
            )
        ),
        schema={
            "id": pl.Int64,
            "household_id": pl.Int64,
            "circumstance": pl.String,
            "status": pl.String,
        },
        orient="row",
    )
    # a household whose roster village is not in the region tree has no place in the registry:
    # its warnings cannot be recorded; say so (the run's audit row names the villages)
    unplaced = found.join(households, on="household_no", how="anti")
    run.unplaced = unplaced.height
    placed = found.join(households, on="household_no")
    fresh = placed.join(existing, on=["household_id", "circumstance"], how="anti")
    fresh = fresh.join(_matches_json(screened.matches), on="household_no", how="left")
    now = db_datetime(timezone.now())
    refs = pl.col("refs").fill_null("").str.split(",").list.unique().list.sort()
    refs = refs.list.filter(pl.element() != "").list.head(50)
    excluded = pl.col("exclusions") != ""
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
            # an exclusion applies: kept as an excluded warning that a county officer can see
            # and override, never dropped
            pl.when(excluded)
            .then(pl.lit(WarningStatus.EXCLUDED.value))
            .otherwise(pl.lit(WarningStatus.NEW.value))
            .alias("status"),
            pl.when(excluded)
            .then(pl.format('["{}"]', pl.col("exclusions").str.replace_all(",", '","')))
            .otherwise(pl.lit("[]"))
            .alias("exclusions"),
            pl.col("exclusion_matches").fill_null("[]"),
            pl.lit("").alias("reason"),
            pl.lit(run.pk).alias("run_id"),
            pl.lit(now).alias("created_at"),
        ),
    )
    run.warnings_added = created
    run.warnings_excluded = found.filter(excluded).height
    run.warnings_reopened = _reopen_no_longer_excluded(
        placed=placed, existing=existing, run=run, actor=actor
    )
    run.save(
        update_fields=[
            "households_added",
            "warnings_added",
            "warnings_excluded",
            "warnings_reopened",
        ]
    )
    audit_record(
        actor=actor,
        action="screening.run",
        obj=run,
        data={
            "year": year,
            "county": county_code,
            "found": found.height,
            "added": created,
            "excluded": run.warnings_excluded,
            "reopened": run.warnings_reopened,
            "households_added": run.households_added,
            "unplaced": unplaced.height,
            "unplaced_villages": sorted(unplaced["village_code"].unique().to_list())[:50],
        },
    )
    return run


def _matches_json(matches: pl.DataFrame) -> pl.DataFrame:
    """Per household, its exclusion feed rows as the JSON text of ``Warning.exclusion_matches``
    (a list of objects, in the order of ``matches``; at most 50)."""
    fields = [c for c in MATCH_COLUMNS if c != "household_no"]
    return matches.group_by("household_no", maintain_order=True).agg(
        pl.format(
            "[{}]",
            pl.struct(fields).struct.json_encode().head(50).str.join(","),
        ).alias("exclusion_matches")
    )


def _reopen_no_longer_excluded(
    *, placed: pl.DataFrame, existing: pl.DataFrame, run: ScreeningRun, actor: Any
) -> int:
    """Excluded warnings of earlier runs that this run finds with no exclusion (a feed or a
    parameter changed) are new again (excluded → new), each with an audit row.

    Excluded is the data comparison's finding, not anybody's decision: when the data no
    longer shows it, the household must not stay hidden. Every other status is a person's
    decision (or a warning still to work) and a re-run never touches it; an open warning
    whose household a re-run finds excluded stays open — the case's own data comparison
    (信息比对) will find the exclusion, and an officer's override is never undone.
    """
    excluded = existing.filter(pl.col("status") == WarningStatus.EXCLUDED)
    if excluded.height == 0:
        return 0
    clear = placed.filter(pl.col("exclusions") == "").select("household_id", "circumstance")
    reopened = excluded.join(clear, on=["household_id", "circumstance"])
    if reopened.height == 0:
        return 0
    ids = reopened["id"].to_list()
    before = list(
        filter_in(Warning.objects, "pk", ids).values_list("pk", "region_path", "exclusions")
    )
    filter_in(Warning.objects, "pk", ids).update(
        status=WarningStatus.NEW,
        state_since=timezone.now(),  # its due date counts from today
        exclusions=[],
        exclusion_matches=[],
    )
    reason = f"no longer excluded by the data comparison of screening run {run.pk} (复核未再比中)"
    audit_record_many(
        AuditEvent(
            actor=actor if getattr(actor, "pk", None) else None,
            action="screening.warning.reopened",
            object_type=Warning._meta.label_lower,
            object_id=str(pk),
            region_path=path,
            from_state=WarningStatus.EXCLUDED,
            to_state=WarningStatus.NEW,
            reason=reason,
            data={"run": run.pk, "exclusions": exclusions},
        )
        for pk, path, exclusions in before
    )
    return len(before)


def _households_add(*, new: pl.DataFrame, people: pl.DataFrame, actor: Any) -> int:
    """Add warned households that the registry does not manage yet, as ordinary (一般农户),
    with their roster ``people`` as members (but no one the registry already lists)."""
    villages = Region.objects.filter(level=Level.VILLAGE)
    village_ids = {
        code: (pk, path)
        for code, pk, path in filter_in(
            villages, "code", new["village_code"].unique().to_list()
        ).values_list("code", "id", "path")
    }
    new = new.filter(pl.col("village_code").is_in(list(village_ids)))
    if new.height == 0:
        return 0
    people = people.join(new.select("household_no"), on="household_no", how="semi")
    # a person in two households of the year's roster is a member of the first only
    people = people.sort("household_no", "id_number").unique("id_number", keep="first")
    taken = list(
        filter_in(Member.objects, "id_number", people["id_number"].to_list()).values_list(
            "id_number", flat=True
        )
    )
    members = people.filter(~pl.col("id_number").is_in(taken)).select(
        "household_no", "name", "id_number", "relation", pl.lit("").alias("labour")
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
