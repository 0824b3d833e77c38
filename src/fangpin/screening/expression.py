"""The screening as one Ibis expression: roster × feeds × registry snapshot → policy → warnings.

No Django here and no raw SQL: ``screening_expression`` builds a single Ibis
expression over the lake tables (any Ibis backend; DuckDB by default) and an
in-memory snapshot of the registry, and returns one row per household ×
circumstance that the rules would help this year.

How a year is screened (部门筛查预警):

1. **Who**: the roster of the year (公安户籍) gives every person's household and
   village; a household's members are counted there unless the registry
   manages the household (then the registry's count and type are used).
2. **Units** of each circumstance (POLICY.md, "what counts" and cap scope):
   - medical 因病: the household's in-patient self-paid amounts of the year, summed
     (the cap and start line are per household per year);
   - education 因学: per student and year, the year's tuition + accommodation +
     textbooks − loans − grants summed over the student's rows (full-time study
     beyond compulsory education; cap and start line per student per year);
   - accident 因灾/意外: per event, loss − commercial insurance − social assistance;
   - industry 产业: insured projects' losses after insurance, summed per household.
3. **Income basis**: the registry's income for the year (else its latest earlier
   year) where the household is managed; else the income a feed implies — 民政's
   assessed per-capita income (核定家庭人均年收入) of a member on 低保/特困/临时救助
   that year, times the members; otherwise unknown — the case is evaluated with
   the income test assumed passed and the warning says the income must be
   checked at the household (入户核查). ``income_source`` says which.
4. **Exclusions** (信息比对): a member with commercial housing, a non-working
   vehicle, a business above the capital threshold (registered by the end of
   the year), or on the public payroll of the year — where the county's
   parameters apply that exclusion.
5. ``fangpin.policy.batch.relief_batch`` decides eligibility and the amount per
   unit *without* the exclusions; units with relief are summed per household ×
   circumstance. A household an exclusion applies to is kept, with the
   exclusions found (``exclusions``): it becomes an *excluded* warning that a
   county officer can see and override, and its relief is what it would have
   had without the exclusion. ``exclusion_matches`` names the feed rows found.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt_
import ibis.expr.types as ir
import polars as pl

from fangpin.feeds.schemas import EDUCATION_COUNTED_LEVELS
from fangpin.policy.batch import _P, parameter_frame, relief_batch
from fangpin.policy.exclusions import (  # noqa: F401 (the screening's names for them, too)
    BUSINESS_THRESHOLD_PATH,
    EXCLUSION_FEEDS,
    EXCLUSION_REFERENCE,
    MATCH_COLUMNS,
    business_threshold_fen,
    exclusion_flags,
    exclusion_matches,
    exclusion_rows,
    exclusions_in_force,
)
from fangpin.policy.loader import ParameterSet, parameters_default

REGISTRY_SNAPSHOT_COLUMNS = {
    "household_no": "string",
    "household_type": "string",
    "members": "int64",
    "income_fen": "int64",
}
FEED_KINDS = (
    "roster",
    "medical",
    "education",
    "accident",
    "farming",
    "assistance",
    "disability",
    "property",
    "vehicle",
    "business",
    "payroll",
)
# The feeds whose rows are a circumstance's units (the others exclude, or tell an income).
UNIT_FEEDS = ("medical", "education", "accident", "farming")
# circumstance -> (the feed whose rows are its units, the column a warning's ``feed_refs``
# name: a settlement, a student's ID number, an event, a farming project)
UNIT_REFS = {
    "medical": ("medical", "settlement_no"),
    "education": ("education", "id_number"),
    "accident": ("accident", "event_no"),
    "industry": ("farming", "project_no"),
}
# Registers hold what was registered up to a date (all earlier partitions count); every
# other feed is read for the screened year only.
REGISTER_KINDS = ("property", "vehicle", "business", "disability")
FIRST_LAKE_YEAR = 2000


def feed_years(kind: str, year: int) -> range:
    """The lake partitions (``year=YYYY``) the screening of ``year`` reads for ``kind``."""
    return range(FIRST_LAKE_YEAR, year + 1) if kind in REGISTER_KINDS else range(year, year + 1)


OUTPUT_COLUMNS = (
    "household_no",
    "village_code",
    "circumstance",
    "household_type",
    "members",
    "income_known",
    "income_fen",
    "income_source",
    "self_paid_fen",
    "units",
    "refs",
    "parameter_version",
    "relief_fen",
    "exclusions",  # the exclusions that apply, sorted and comma-joined; "" for none
)

_FEN = Decimal("0.01")


def _yuan(fen: ir.IntegerValue) -> ir.DecimalValue:
    """Integer fen → DECIMAL(18, 2) yuan, exactly (a multiplication, never a division)."""
    return (fen.cast(dt_.Decimal(18, 0)) * ibis.literal(_FEN, dt_.Decimal(18, 2))).cast(
        dt_.Decimal(18, 2)
    )


def _refs(ids: ir.StringColumn) -> ir.StringScalar:
    """A group's feed row ids, sorted and comma-joined: the same string on every engine
    (``group_concat`` joins in whatever order the rows arrive, and Spark's varies)."""
    return ids.collect().sort().join(",")


def _exclusions_text(flags: dict[str, ir.BooleanValue]) -> ir.StringValue:
    """The names of the ``flags`` that are set, sorted and comma-joined ("" for none)."""
    text: ir.StringValue = ibis.literal("")
    for name in sorted(flags):
        text = text + flags[name].ifelse(ibis.literal("," + name), ibis.literal(""))
    return text.substr(1)  # the leading comma


def start_line_floors(parameters: ParameterSet, *, on: dt.date) -> dict[str, int]:
    """Per circumstance, the lowest start line in fen in force on ``on`` (any county or type)."""
    frame = pl.from_arrow(parameter_frame(parameters, on=on))
    floors = frame.group_by(f"{_P}circumstance").agg(pl.col(f"{_P}start").min())
    return dict(floors.iter_rows())


def screening_expression(
    feeds: dict[str, ir.Table],
    registry: ir.Table,
    *,
    year: int,
    county_code: str = "",
    parameters: ParameterSet | None = None,
    business_capital_threshold_fen: int | None = None,
    roster_unique: bool = False,
) -> ir.Table:
    """One row per household × circumstance with relief this year (see the module docstring):
    ``screening_units`` and ``screening_decide`` in one expression.

    ``roster_unique``: the caller knows no person is listed twice in the year's roster
    (one batch, whose key is unique), so the de-duplication of 5.8 million rows is skipped.
    """
    named = screening_named(feeds, year=year, county_code=county_code, roster_unique=roster_unique)
    units = screening_units(feeds, named, year=year, parameters=parameters)
    persons = screening_people(
        feeds,
        units.select("household_no").distinct(),
        year=year,
        county_code=county_code,
        roster_unique=roster_unique,
    )
    return screening_decide(
        feeds,
        units,
        persons,
        registry,
        year=year,
        county_code=county_code,
        parameters=parameters,
        business_capital_threshold_fen=business_capital_threshold_fen,
    )


def screening_named(
    feeds: dict[str, ir.Table], *, year: int, county_code: str = "", roster_unique: bool = False
) -> ir.Table:
    """The household of everyone the year's unit feeds name (``id_number, household_no``):
    one pass over the roster for all of them (a person listed twice, in two roster batches
    of the year, counts once)."""
    roster = _roster(feeds, year=year, county_code=county_code)
    named = ibis.union(
        *[feeds[k].filter(feeds[k].period_year == year).select("id_number") for k in UNIT_FEEDS],
        distinct=True,
    )
    persons = roster.select("id_number", "household_no").semi_join(named, "id_number")
    return persons if roster_unique else persons.distinct()


def screening_units(
    feeds: dict[str, ir.Table],
    persons: ir.Table,
    *,
    year: int,
    parameters: ParameterSet | None = None,
) -> ir.Table:
    """The units of each circumstance that could be helped (``household_no, circumstance,
    self_paid_fen, units, refs``); ``persons`` is ``screening_named``.

    Relief is nil at or below the start line, so only units above the lowest start line of
    their circumstance (any household type, any county) can be helped: everything after
    this works on those households — a few percent of the roster — and needs the registry
    only for them (``screening_run`` takes its snapshot of just these households).
    """
    year_end = dt.date(year, 12, 31)

    # --- units of each circumstance: household_no, circumstance, self_paid_fen, refs ---------
    def of_year(kind: str) -> ir.Table:
        t = feeds[kind]
        return t.filter(t.period_year == year).join(persons, "id_number")

    med = of_year("medical")
    medical = med.group_by("household_no").aggregate(
        self_paid_fen=med.self_paid.sum(),
        units=med.count(),
        refs=_refs(med.settlement_no),
    )
    medical = medical.mutate(circumstance=ibis.literal("medical"))

    education = education_units(of_year("education"))

    acc = of_year("accident")
    acc = acc.mutate(net=ibis.greatest(acc.loss - acc.insurance_paid - acc.assistance_paid, 0))
    accident = (
        acc.group_by(["household_no", "event_no"])
        .aggregate(self_paid_fen=acc.net.sum())
        .select(
            "household_no",
            "self_paid_fen",
            units=ibis.literal(1, "int64"),
            refs=ibis._.event_no,
            circumstance=ibis.literal("accident"),
        )
    )

    farm = of_year("farming")
    farm = farm.filter(farm.insured).mutate(net=ibis.greatest(farm.loss - farm.insurance_paid, 0))
    industry = farm.group_by("household_no").aggregate(
        self_paid_fen=farm.net.sum(),
        units=farm.count(),
        refs=_refs(farm.project_no),
    )
    industry = industry.mutate(circumstance=ibis.literal("industry"))

    columns = ["household_no", "circumstance", "self_paid_fen", "units", "refs"]
    units = ibis.union(
        *[
            t.select(
                t.household_no,
                t.circumstance,
                t.self_paid_fen.cast("int64"),
                t.units.cast("int64"),
                t.refs.cast("string"),
            )
            for t in (medical, education, accident, industry)
        ],
        distinct=False,
    ).select(*columns)

    floors = start_line_floors(parameters or parameters_default(), on=year_end)
    return units.filter(
        units.self_paid_fen
        > ibis.cases(*[(units.circumstance == c, f) for c, f in floors.items()], else_=0)
    )


def education_units(edu: ir.Table) -> ir.Table:
    """One education unit per student (ID number) and year: the year's counted rows of the
    student summed, *then* netted — tuition + accommodation + textbooks − student loans −
    grants, not below zero.

    POLICY.md counts education "per student per year … after student loans and grants", and
    the cap and the start line are per student per year. The education bureau sends a row
    per student and school year start (a second row in a year: a second term, a change of
    school), so the rows of a year are summed before the start line is applied — two
    13,000-yuan payments are one 26,000-yuan year, not two years under the start line. A
    loan or grant of the year pays for the year's costs, whichever of the year's rows it
    arrived on, so the sums are netted rather than each row: a term whose aid exceeds its
    own fees still lowers the student's self-paid amount for the year.
    """
    edu = edu.filter(edu.full_time & edu.level.isin(list(EDUCATION_COUNTED_LEVELS)))
    students = edu.group_by(["household_no", "id_number"]).aggregate(
        cost=(edu.tuition + edu.accommodation + edu.textbooks).sum(),
        aid=(edu.loan + edu.grant).sum(),
    )
    return students.select(
        "household_no",
        self_paid_fen=ibis.greatest(students.cost - students.aid, 0),
        units=ibis.literal(1, "int64"),
        refs=students.id_number,
        circumstance=ibis.literal("education"),
    )


def _roster(feeds: dict[str, ir.Table], *, year: int, county_code: str) -> ir.Table:
    roster = feeds["roster"].filter(feeds["roster"].period_year == year)
    if county_code:
        roster = roster.filter(roster.village_code.startswith(county_code))
    return roster


def screening_people(
    feeds: dict[str, ir.Table],
    households: ir.Table,
    *,
    year: int,
    county_code: str = "",
    roster_unique: bool = False,
) -> ir.Table:
    """The roster's people of ``households`` (a table with ``household_no``): ``id_number,
    household_no, village_code, name, relation``; a person listed twice once."""
    roster = _roster(feeds, year=year, county_code=county_code)
    people = roster.select("id_number", "household_no", "village_code", "name", "relation")
    if not roster_unique:
        # the same person in two batches: one row, the same one on every engine
        people = people.group_by(["id_number", "household_no", "village_code"]).aggregate(
            name=people.name.min(), relation=people.relation.min()
        )
    return people.semi_join(households, "household_no")


def screening_decide(
    feeds: dict[str, ir.Table],
    units: ir.Table,
    persons: ir.Table,
    registry: ir.Table,
    *,
    year: int,
    county_code: str = "",
    parameters: ParameterSet | None = None,
    business_capital_threshold_fen: int | None = None,
) -> ir.Table:
    """The second half: ``units`` of ``screening_units``, the ``persons`` of their households
    (``screening_people``), the registry's
    managed households among them (``REGISTRY_SNAPSHOT_COLUMNS``; others are ordinary),
    the income basis and the exclusions → the policy's batch evaluator → one row per
    household × circumstance with relief (``OUTPUT_COLUMNS``): the relief it would have
    without the exclusions, and the exclusions that apply to it (``exclusions``)."""
    year_end = dt.date(year, 12, 31)
    if business_capital_threshold_fen is None:
        business_capital_threshold_fen = business_threshold_fen(
            parameters or parameters_default(), county_code=county_code, on=year_end
        )
    persons = persons.select("id_number", "household_no", "village_code")

    # --- households: roster count, registry type, members and income -----------------------
    counted = persons.group_by("household_no").aggregate(
        village_code=persons.village_code.min(), roster_members=persons.count()
    )
    reg = registry.rename(reg_no="household_no", reg_type="household_type", reg_members="members")
    # the income a feed implies: 民政's assessed per-capita income (核定家庭人均收入) of the year
    aid = feeds["assistance"]
    aid = aid.filter((aid.period_year == year) & aid.assessed_income.notnull())
    aid = aid.join(persons, "id_number")
    assessed = aid.group_by("household_no").aggregate(assessed_fen=aid.assessed_income.max())
    assessed = assessed.rename(aid_no="household_no")
    joined_hh = counted.left_join(reg, counted.household_no == reg.reg_no).left_join(
        assessed, counted.household_no == assessed.aid_no
    )
    members = ibis.coalesce(joined_hh.reg_members, joined_hh.roster_members).cast("int64")
    income_fen = ibis.coalesce(joined_hh.income_fen, joined_hh.assessed_fen.cast("int64") * members)
    households = joined_hh.select(
        "household_no",
        "village_code",
        household_type=ibis.coalesce(joined_hh.reg_type, ibis.literal("ordinary")),
        members=members,
        income_fen=income_fen,
        income_known=income_fen.notnull(),
        income_source=ibis.cases(
            (joined_hh.income_fen.notnull(), "registry"),
            (joined_hh.assessed_fen.notnull(), "assistance"),
            else_="unknown",
        ),
    )

    # --- exclusion flags per household -----------------------------------------------------
    person_flags = exclusion_flags(
        feeds, persons, year_end=year_end, threshold_fen=business_capital_threshold_fen
    )
    exclusions = person_flags.group_by("household_no").aggregate(
        **{name: person_flags[name].any() for name in EXCLUSION_FEEDS}
    )

    # --- cases for the policy's batch evaluator ------------------------------------------------
    joined = units.join(households, "household_no").left_join(exclusions, "household_no")
    # An exclusion counts where the county's parameters apply it. The evaluator gets no
    # exclusion flag: it gives the relief the household would have without the exclusion,
    # and the exclusions found go with the row (an excluded warning, never a silent drop).
    county = joined.village_code.substr(0, 6)
    in_force = exclusions_in_force(parameters or parameters_default(), on=year_end)
    applying = {
        name: joined[name].fill_null(False) & county.isin(counties)
        if counties
        else ibis.literal(False)
        for name, counties in in_force.items()
    }
    cases = joined.select(
        "household_no",
        "village_code",
        "circumstance",
        "household_type",
        "members",
        "income_known",
        "income_fen",
        "income_source",
        "self_paid_fen",
        "units",
        "refs",
        county=county,
        annual_income=_yuan(joined.income_fen.fill_null(0)),
        self_paid=_yuan(joined.self_paid_fen),
        exclusions=_exclusions_text(applying),
    )
    # ``view()`` closes the join chain: relief_batch joins the cases to its parameter frame,
    # and Ibis would otherwise extend this chain with predicates on the chain itself.
    decided = relief_batch(cases.view(), parameters=parameters, on=year_end)
    helped = decided.filter(decided.problem.isnull() & decided.eligible & (decided.amount > 0))
    helped = helped.mutate(relief_fen=(helped.amount * 100).cast("int64"))
    return helped.group_by(
        [
            "household_no",
            "village_code",
            "circumstance",
            "household_type",
            "members",
            "income_known",
            "income_fen",
            "income_source",
            "exclusions",
        ]
    ).aggregate(
        self_paid_fen=helped.self_paid_fen.sum(),
        units=helped.units.sum(),
        refs=_refs(helped.refs),
        parameter_version=helped.parameter_version.max(),
        relief_fen=helped.relief_fen.sum(),
    )
