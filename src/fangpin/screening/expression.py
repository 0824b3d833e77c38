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
   - education 因学: per student, tuition + accommodation + textbooks − loans −
     grants for full-time study beyond compulsory education (per student per year);
   - accident 因灾/意外: per event, loss − commercial insurance − social assistance;
   - industry 产业: insured projects' losses after insurance, summed per household.
3. **Income basis**: the registry's income for the year (else its latest earlier
   year) where the household is managed; otherwise unknown — the case is
   evaluated with the income test assumed passed and the warning says the
   income must be checked at the household (入户核查).
4. **Exclusions** (信息比对): a member with commercial housing, a non-working
   vehicle, a business above the capital threshold (registered by the end of
   the year), or on the public payroll of the year.
5. ``fangpin.policy.batch.relief_batch`` decides eligibility and the amount per
   unit; units with relief are summed per household × circumstance.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt_
import ibis.expr.types as ir

from fangpin.feeds.schemas import EDUCATION_COUNTED_LEVELS
from fangpin.policy.batch import relief_batch
from fangpin.policy.loader import CITY, ParameterSet, parameters_default

# A registered business excludes a household above this registered capital: the policy
# parameter (POLICY.md, "Exclusions", source A until a county's document replaces it).
BUSINESS_THRESHOLD_PATH = "exclusions.business.capital_threshold"

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
    "property",
    "vehicle",
    "business",
    "payroll",
)
OUTPUT_COLUMNS = (
    "household_no",
    "village_code",
    "circumstance",
    "household_type",
    "members",
    "income_known",
    "income_fen",
    "self_paid_fen",
    "units",
    "refs",
    "parameter_version",
    "relief_fen",
)

_FEN = Decimal("0.01")


def _yuan(fen: ir.IntegerValue) -> ir.DecimalValue:
    """Integer fen → DECIMAL(18, 2) yuan, exactly (a multiplication, never a division)."""
    return (fen.cast(dt_.Decimal(18, 0)) * ibis.literal(_FEN, dt_.Decimal(18, 2))).cast(
        dt_.Decimal(18, 2)
    )


def business_threshold_fen(params: ParameterSet, *, county_code: str, on: dt.date) -> int:
    """The business-capital exclusion threshold in force, in fen (the county's, else the city's)."""
    entry = params.resolve(
        BUSINESS_THRESHOLD_PATH, params.county_key(county_code) if county_code else CITY, on
    )
    if entry is None:
        raise ValueError(f"{BUSINESS_THRESHOLD_PATH} has no value on {on.isoformat()}")
    return int(Decimal(entry.value) * 100)


def screening_expression(
    feeds: dict[str, ir.Table],
    registry: ir.Table,
    *,
    year: int,
    county_code: str = "",
    parameters: ParameterSet | None = None,
    business_capital_threshold_fen: int | None = None,
) -> ir.Table:
    """One row per household × circumstance with relief this year (see the module docstring)."""
    year_end = dt.date(year, 12, 31)
    if business_capital_threshold_fen is None:
        business_capital_threshold_fen = business_threshold_fen(
            parameters or parameters_default(), county_code=county_code, on=year_end
        )

    roster = feeds["roster"].filter(feeds["roster"].period_year == year)
    if county_code:
        roster = roster.filter(roster.village_code.startswith(county_code))
    # a person listed twice (two roster batches of the year) counts once
    persons = roster.select("id_number", "household_no", "village_code").distinct()

    # --- households: roster count, registry type, members and income -----------------------
    counted = persons.group_by("household_no").aggregate(
        village_code=persons.village_code.min(), roster_members=persons.count()
    )
    reg = registry.rename(reg_no="household_no", reg_type="household_type", reg_members="members")
    households = counted.left_join(reg, counted.household_no == reg.reg_no).select(
        "household_no",
        "village_code",
        household_type=ibis.coalesce(reg.reg_type, ibis.literal("ordinary")),
        members=ibis.coalesce(reg.reg_members, counted.roster_members).cast("int64"),
        income_fen=reg.income_fen,
        income_known=reg.income_fen.notnull(),
    )

    # --- exclusion flags per household -----------------------------------------------------
    prop = feeds["property"]
    veh = feeds["vehicle"]
    biz = feeds["business"]
    pay = feeds["payroll"]
    flagged = {
        "commercial_housing": prop.filter(prop.commercial & (prop.registered <= year_end)),
        "vehicle": veh.filter((veh.use == "private") & (veh.registered <= year_end)),
        "business": biz.filter(
            (biz.capital > business_capital_threshold_fen) & (biz.registered <= year_end)
        ),
        "public_payroll": pay.filter(pay.year == year),
    }
    person_flags = persons.select(
        "household_no",
        **{name: persons.id_number.isin(t.id_number) for name, t in flagged.items()},
    )
    exclusions = person_flags.group_by("household_no").aggregate(
        **{name: person_flags[name].any() for name in flagged}
    )

    # --- units of each circumstance: household_no, circumstance, self_paid_fen, refs ---------
    def of_year(kind: str) -> ir.Table:
        t = feeds[kind]
        return t.filter(t.period_year == year).join(persons, "id_number")

    med = of_year("medical")
    medical = med.group_by("household_no").aggregate(
        self_paid_fen=med.self_paid.sum(),
        units=med.count(),
        refs=med.settlement_no.group_concat(","),
    )
    medical = medical.mutate(circumstance=ibis.literal("medical"))

    edu = of_year("education")
    edu = edu.filter(edu.full_time & edu.level.isin(list(EDUCATION_COUNTED_LEVELS)))
    edu_cost = ibis.greatest(
        edu.tuition + edu.accommodation + edu.textbooks - edu.loan - edu.grant, 0
    )
    education = edu.select(
        "household_no",
        self_paid_fen=edu_cost,
        units=ibis.literal(1, "int64"),
        refs=edu.id_number,
        circumstance=ibis.literal("education"),
    )

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
        refs=farm.project_no.group_concat(","),
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

    # --- cases for the policy's batch evaluator ------------------------------------------------
    joined = units.join(households, "household_no").left_join(exclusions, "household_no")
    cases = joined.select(
        "household_no",
        "village_code",
        "circumstance",
        "household_type",
        "members",
        "income_known",
        "income_fen",
        "self_paid_fen",
        "units",
        "refs",
        county=joined.village_code.substr(0, 6),
        annual_income=_yuan(joined.income_fen.fill_null(0)),
        self_paid=_yuan(joined.self_paid_fen),
        **{name: joined[name].fill_null(False) for name in flagged},
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
        ]
    ).aggregate(
        self_paid_fen=helped.self_paid_fen.sum(),
        units=helped.units.sum(),
        refs=helped.refs.group_concat(","),
        parameter_version=helped.parameter_version.max(),
        relief_fen=helped.relief_fen.sum(),
    )
