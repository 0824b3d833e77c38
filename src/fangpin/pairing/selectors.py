"""Reads of pairing assistance, always through the user's region scope.

Every list here is one query (or a few) over the whole scope — ``Exists`` and
``Subquery`` annotations, ``values().annotate()`` groupings — never a query per
household. Dates that depend on "now" take ``today`` so tests can stand on any
day (the last day of a quarter, the first of a year).

The rules as implemented (docs/PAIRING.md states them for users):

- **running pairing** on a day: ``start_date <= day`` and no ``end_date`` or
  ``end_date > day``.
- **overdue** (逾期未走访): a household with a running pairing and no visit on or
  after the first day of the current visit period (and on or before today). The
  period is a calendar period of ``pairing.visit_period_months`` months, a
  quarter in the reference parameters ("visits at least once a quarter").
  A pairing that began this period is overdue until its first visit.
- **pairing rule** (帮扶联系人): a household that received relief — a ``Payment``
  with status succeeded, paid on or before today — has a running pairing with a
  *rural* (village- or township-level) cadre, unless its monitoring was closed
  (风险消除) on or after its latest payment.
- **返贫 / 新致贫** in year Y: per-capita income (the latest income record of Y ÷
  the household's members) below the income line of Y, while at or above the
  line of Y−1 the year before; 返贫 for a registered out-of-poverty household
  (type ``unstable``), 新致贫 for any other type. The line of a year is the one
  in force on 31 December of that year for the household's county.
- **risk elimination checks** (风险消除): see ``risk_checks``.

The rules' numbers are policy parameters (POLICY.md: "Every number here is a
parameter"): ``pairing.visit_period_months``, ``risk.stable_days`` and
``risk.working_age.minimum`` / ``maximum`` (``policy/parameters/city/``), read
from the parameters in force for the household's county (its own values where
it has them, else the city's) once per call, never per row.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat, ExtractYear
from django.utils import timezone
from django.utils.translation import gettext

from fangpin.accounts import permissions
from fangpin.common.idnumber import birth_date
from fangpin.common.money import Money
from fangpin.funds.models import Payment, PaymentStatus
from fangpin.policy import spec
from fangpin.policy.loader import ParameterSet, PolicyInputError, parameters_default
from fangpin.regions.handan import CITY_CODE
from fangpin.regions.models import Region
from fangpin.registry.models import HEAD_RELATIONS, Household, IncomeRecord, Labour, Member
from fangpin.registry.selectors import household_scope

from .models import (
    RURAL_LEVELS,
    Cadre,
    EmploymentPlacement,
    Pairing,
    Problem,
    ProblemCategory,
    RiskClosure,
    Visit,
    active_on_q,
)

CHECK_INCOME = "Income above the line for {days} days on record (收入稳定超过收入线{days}天)"
CHECK_INCOME_NO_RULE = "Income stably above the line on record (收入稳定超过收入线)"
CHECK_EXPENSE = "Rigid expense resolved: no open problem (刚性支出已解决，无未解决问题)"
CHECK_HELP = "At least one help measure recorded (至少一项帮扶措施)"
CHECK_LABOUR = "Someone in the household can work (家中有劳动能力成员)"

WHY_NO_MEMBERS = "the household has no members on record (无家庭成员)"
WHY_NO_INCOME = (
    "no income on record on {date}, the start of the stable period before {on} "
    "(稳定期起点无收入记录)"
)
WHY_NO_LINE = "no income line for {year} (无该年度收入线)"
WHY_NO_RULE = "no risk-elimination parameters in force on {on} (该日无风险消除政策参数)"
WHY_BELOW_THEN = (
    "on {date} the {year} income on record was {per_capita} yuan per person, not above the "
    "line of {line} (稳定期起点收入未超过收入线)"
)
WHY_BELOW_SINCE = (
    "the {year} income recorded on {date} is {per_capita} yuan per person, not above the line "
    "of {line} (稳定期内记录的收入未超过收入线)"
)
OK_INCOME = (
    "{year} income {per_capita} yuan per person, above the line of {line}, on record since "
    "{since} at the latest (收入稳定超过收入线)"
)
WHY_OPEN_PROBLEMS = "{n} open problem(s): {categories} (尚有未解决问题)"
OK_NO_OPEN = "no open problem ({n} solved) (问题均已解决)"
WHY_NO_HELP = (
    "no visit with help given, no employment placement and no solved problem (无帮扶措施记录)"
)
OK_HELP = (
    "{visits} visit(s) with help given, {placements} placement(s), {solved} solved problem(s) "
    "(已有帮扶措施)"
)
WHY_NO_LABOUR = (
    "no one in the household is able to work; such a household is not closed this way "
    "(无劳动能力家庭不能以此方式消除风险)"
)
OK_LABOUR = "{n} member(s) able to work (有劳动能力成员)"


def period_start(on: dt.date, months: int) -> dt.date:
    """The first day of ``on``'s calendar period of ``months`` months.

    ``months`` divides 12 (the loader allows 1, 2, 3, 4, 6, 12), so periods begin on
    1 January: 3 gives the quarter, 1 the month, 12 the year.
    """
    return dt.date(on.year, months * ((on.month - 1) // months) + 1, 1)


def quarter_start(on: dt.date) -> dt.date:
    """The first day of ``on``'s calendar quarter (1 Jan, 1 Apr, 1 Jul or 1 Oct)."""
    return period_start(on, 3)


# --- the rules' numbers, from the policy parameters -----------------------------------------


def _own_county(parameters: ParameterSet, county_code: str | None) -> str | None:
    """The county whose own parameters apply, or None for the city's (a county without
    overrides — or a region outside the parameter set — follows the city)."""
    return county_code if county_code and county_code in parameters.overrides else None


@dataclass(frozen=True)
class VisitPeriod:
    """The visit period in force on a day (POLICY.md: the contact "visits at least once a
    quarter"): the current calendar period of ``months`` months, which began on ``start``."""

    months: int
    start: dt.date

    @property
    def name(self) -> str:
        """The period as the pages name it: "this quarter" (本季度) in the reference
        parameters; "this month", "this half-year", "this year" or "this period of N
        months" otherwise."""
        if self.months == 1:
            return gettext("this month")
        if self.months == 3:
            return gettext("this quarter")
        if self.months == 6:
            return gettext("this half-year")
        if self.months == 12:
            return gettext("this year")
        return gettext("this period of %(n)s months") % {"n": self.months}


def visit_period(
    *, today: dt.date, county_code: str | None = None, parameters: ParameterSet | None = None
) -> VisitPeriod:
    """The visit period on ``today`` (``pairing.visit_period_months``): the county's own
    where it has one, else the city's (``county_code`` None: the city's)."""
    params = parameters if parameters is not None else parameters_default()
    months = params.value(
        spec.VISIT_PERIOD_MONTHS, on=today, county=_own_county(params, county_code)
    )
    return VisitPeriod(months, period_start(today, months))


def visit_period_of_user(*, user: Any, today: dt.date) -> VisitPeriod:
    """The visit period a user's pages speak of: their county's where their region lies in
    one county, else the city's."""
    return visit_period(today=today, county_code=county_code_of(permissions.scope_path(user) or ""))


def _with_period_start(qs: QuerySet[Household], today: dt.date) -> tuple[QuerySet, dt.date | None]:
    """``qs`` and the day the current visit period began, for each of its households.

    One date when every county follows the city's period — the reference parameters,
    and any set where no county has its own ``pairing.visit_period_months`` — so the
    query compares with a constant. Otherwise ``qs`` is annotated with
    ``period_start``, a CASE over the counties whose own period differs, and the date
    returned is None.
    """
    params = parameters_default()
    city = visit_period(today=today, parameters=params).start
    differing = {}
    for code in sorted(params.overrides):  # only a county with overrides can differ
        start = visit_period(today=today, county_code=code, parameters=params).start
        if start != city:
            differing[code] = start
    if not differing:
        return qs, city
    whens = [
        When(village__path__startswith=f"{CITY_CODE}/{code}/", then=Value(start))
        for code, start in differing.items()
    ]
    return qs.annotate(
        period_start=Case(*whens, default=Value(city), output_field=DateField())
    ), None


def local_today() -> dt.date:
    return timezone.localdate()


# --- cadres ---------------------------------------------------------------------------------


def cadre_scope(*, user: Any) -> QuerySet[Cadre]:
    """Cadres whose region lies in the user's region."""
    return permissions.scope_filter(user, Cadre.objects.select_related("region"), "region__path")


def cadre_list(*, user: Any, today: dt.date, q: str = "") -> QuerySet[Cadre]:
    """Cadres in scope with their number of running pairings (``pairs``)."""
    qs = cadre_scope(user=user)
    q = q.strip()
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(work_unit__contains=q) | Q(phone=q))
    return qs.annotate(pairs=Count("pairings", filter=active_on_q(today, "pairings__"))).order_by(
        "region__path", "level", "name", "pk"
    )


def cadre_of(*, user: Any) -> Cadre | None:
    """The cadre record a user acts as, if any."""
    if not getattr(user, "pk", None):
        return None
    return Cadre.objects.select_related("region").filter(user_id=user.pk).first()


# --- follow-up: running pairings, last visits, overdue --------------------------------------


def _running(today: dt.date) -> QuerySet[Pairing]:
    return Pairing.objects.active_on(today).filter(household=OuterRef("pk"))


def _head(field_name: str) -> Subquery:
    head = Member.objects.filter(household=OuterRef("pk"), relation__in=HEAD_RELATIONS).order_by(
        "id"
    )
    return Subquery(head.values(field_name)[:1])


def _with_followup(qs: QuerySet[Household], today: dt.date) -> QuerySet[Household]:
    """Annotate last visit (on or before today), the running contact and overdue."""
    qs, start = _with_period_start(qs, today)
    last = (
        Visit.objects.filter(household=OuterRef("pk"), visited_on__lte=today)
        .order_by("-visited_on")
        .values("visited_on")[:1]
    )
    running = _running(today)
    return qs.annotate(
        last_visit=Subquery(last),
        contact_id=Subquery(running.values("cadre_id")[:1]),
        contact_name=Subquery(running.values("cadre__name")[:1]),
        contact_level=Subquery(running.values("cadre__level")[:1]),
        head_name=_head("name"),
        head_id_number=_head("id_number"),
    ).annotate(
        overdue=Case(
            When(
                Q(last_visit__isnull=True)
                | Q(last_visit__lt=F("period_start") if start is None else start),
                then=True,
            ),
            default=False,
            output_field=BooleanField(),
        )
    )


def followup_households(
    *,
    user: Any,
    today: dt.date,
    cadre: Cadre | None = None,
    overdue_only: bool = False,
    region_code: str = "",
) -> QuerySet[Household]:
    """Households in scope with a running pairing, overdue first, then by oldest last visit.

    ``cadre`` narrows to that cadre's households (a cadre's own list);
    ``overdue_only`` keeps the overdue ones (逾期未走访).
    """
    running = _running(today)
    qs = household_scope(user=user).select_related("village", "village__parent")
    qs = qs.filter(Exists(running.filter(cadre=cadre) if cadre is not None else running))
    if region_code:
        region = Region.objects.filter(code=region_code).first()
        qs = qs.filter(village__path__startswith=region.path) if region else qs.none()
    qs = _with_followup(qs, today)
    if overdue_only:
        qs = qs.filter(overdue=True)
    return qs.order_by("-overdue", F("last_visit").asc(nulls_first=True), "household_no")


@dataclass(frozen=True)
class ComplianceRow:
    code: str
    name: str
    paired: int  # households with a running pairing
    visited: int  # of which visited this quarter

    @property
    def overdue(self) -> int:
        return self.paired - self.visited

    @property
    def percent(self) -> int | None:
        return None if not self.paired else round(100 * self.visited / self.paired)


def _group_lookup(user: Any) -> str:
    """The region one level below the user's node, as a lookup from a household."""
    if permissions.is_household_scoped(user):
        return "village__parent"
    prefix = permissions.scope_path(user) or ""
    depth = len([c for c in prefix.split("/") if c])  # 0 all, 1 city, 2 county, 3 township…
    return {0: "village__parent__parent", 1: "village__parent__parent", 2: "village__parent"}.get(
        depth, "village"
    )


def compliance_by_region(*, user: Any, today: dt.date) -> list[ComplianceRow]:
    """Visit compliance (走访率) of the current visit period (a quarter in the reference
    parameters) one level below the user's region: by township for a county.

    One grouped query: households with a running pairing, counted, and those with
    a visit since the period began.
    """
    group = _group_lookup(user)
    paired, start = _with_period_start(household_scope(user=user), today)
    visited = Visit.objects.filter(
        household=OuterRef("pk"),
        visited_on__gte=OuterRef("period_start") if start is None else start,
        visited_on__lte=today,
    )
    rows = (
        paired.filter(Exists(_running(today)))
        .annotate(visited=Exists(visited))
        .values(f"{group}__code", f"{group}__name")
        .annotate(paired=Count("pk"), seen=Count("pk", filter=Q(visited=True)))
        .order_by(f"{group}__code")
    )
    return [
        ComplianceRow(r[f"{group}__code"], r[f"{group}__name"], r["paired"], r["seen"])
        for r in rows
    ]


# --- problems and totals --------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemCount:
    category: str
    label: str
    open: int
    solved: int


def problem_counts(*, user: Any) -> list[ProblemCount]:
    """Problems found in scope by category: how many are open, how many solved."""
    rows = {
        r["category"]: r
        for r in permissions.scope_filter(user, Problem.objects.all(), "household__village__path")
        .values("category")
        .annotate(
            open=Count("pk", filter=Q(solved_on__isnull=True)),
            solved=Count("pk", filter=Q(solved_on__isnull=False)),
        )
    }
    return [
        ProblemCount(
            value, label, rows.get(value, {}).get("open", 0), rows.get(value, {}).get("solved", 0)
        )
        for value, label in ProblemCategory.choices
    ]


@dataclass
class PeriodTotals:
    """Seed-style totals of one year: visits, problems solved, people helped into work."""

    year: int
    visits: int = 0
    problems_found: int = 0
    problems_solved: int = 0
    people_into_work: int = 0


def totals_by_year(*, user: Any) -> list[PeriodTotals]:
    """Per calendar year in scope, newest first (the article's "visits… difficulties solved…
    people provided with employment assistance").

    People helped into work counts distinct persons (household and name) placed in a year.
    """
    by_year: dict[int, PeriodTotals] = {}

    def row(year: int) -> PeriodTotals:
        return by_year.setdefault(year, PeriodTotals(year))

    path = "household__village__path"
    for r in (
        permissions.scope_filter(user, Visit.objects.all(), path)
        .annotate(y=ExtractYear("visited_on"))
        .values("y")
        .annotate(n=Count("pk"))
    ):
        row(r["y"]).visits = r["n"]
    problems = permissions.scope_filter(user, Problem.objects.all(), path)
    for r in problems.annotate(y=ExtractYear("found_on")).values("y").annotate(n=Count("pk")):
        row(r["y"]).problems_found = r["n"]
    for r in (
        problems.filter(solved_on__isnull=False)
        .annotate(y=ExtractYear("solved_on"))
        .values("y")
        .annotate(n=Count("pk"))
    ):
        row(r["y"]).problems_solved = r["n"]
    person = Concat(
        Cast("household_id", CharField()), Value(":"), "person_name", output_field=CharField()
    )
    for r in (
        permissions.scope_filter(user, EmploymentPlacement.objects.all(), path)
        .annotate(y=ExtractYear("started_on"), person=person)
        .values("y")
        .annotate(n=Count("person", distinct=True))
    ):
        row(r["y"]).people_into_work = r["n"]
    return [by_year[y] for y in sorted(by_year, reverse=True)]


# --- the pairing rule: relief paid, a rural contact from the day of payment -----------------


def rule_breaches(*, user: Any, today: dt.date, everyone: bool = False) -> QuerySet[Household]:
    """Households breaking the pairing rule (有救助无农村帮扶联系人).

    A household that received relief (a succeeded payment, paid on or before
    ``today``) and has no running pairing with a village- or township-level
    cadre today, unless its risk was closed on or after its latest payment.
    ``everyone``: every household in scope without a rural contact, paid or not
    (to pair the whole registry), except those closed since their last payment.
    Annotated with the latest payment date, the current (non-rural) contact if
    any, and the head's name; ordered by village and household number.
    """
    paid = Payment.objects.filter(
        household=OuterRef("pk"), status=PaymentStatus.SUCCEEDED, paid_on__lte=today
    )
    rural = _running(today).filter(cadre__level__in=RURAL_LEVELS)
    closures = RiskClosure.objects.filter(household=OuterRef("pk"), closed_on__lte=today)
    qs = (
        household_scope(user=user)
        .select_related("village", "village__parent")
        .annotate(
            last_paid_on=Subquery(paid.order_by("-paid_on").values("paid_on")[:1]),
            first_paid_on=Subquery(paid.order_by("paid_on").values("paid_on")[:1]),
        )
        .exclude(Exists(rural))
        .exclude(Exists(closures.filter(closed_on__gte=OuterRef("last_paid_on"))))
    )
    if everyone:
        qs = qs.annotate(closed_ever=Exists(closures)).exclude(
            Q(last_paid_on__isnull=True) & Q(closed_ever=True)
        )
    else:
        qs = qs.filter(last_paid_on__isnull=False)
    running = _running(today)
    return qs.annotate(
        contact_name=Subquery(running.values("cadre__name")[:1]),
        contact_level=Subquery(running.values("cadre__level")[:1]),
        head_name=_head("name"),
        head_id_number=_head("id_number"),
    ).order_by("village__path", "household_no")


@dataclass(frozen=True)
class Suggestion:
    cadre_id: int
    name: str
    work_unit: str
    level: str
    region_name: str
    pairs: int  # running pairings when suggested (counting earlier suggestions of the batch)
    same_village: bool


def cadre_suggestions(
    *, households: Sequence[Household], today: dt.date, limit: int = 3
) -> dict[int, list[Suggestion]]:
    """Rural cadres to pair with each household: same village first, fewest pairs first.

    Then the township's cadres. One query for all the households given; within
    the batch the first suggestion of each household counts as taken, so a bulk
    assignment spreads households over a village's cadres instead of piling them
    on one.
    """
    village_ids = {h.village_id for h in households}
    township_ids = {h.village.parent_id for h in households}
    candidates = list(
        Cadre.objects.filter(
            active=True, level__in=RURAL_LEVELS, region_id__in=village_ids | township_ids
        )
        .select_related("region")
        .annotate(pairs=Count("pairings", filter=active_on_q(today, "pairings__")))
    )
    by_region: dict[int, list[Cadre]] = defaultdict(list)
    for c in candidates:
        by_region[c.region_id].append(c)
    load = {c.pk: c.pairs for c in candidates}
    out: dict[int, list[Suggestion]] = {}
    for h in households:

        def rank(c: Cadre) -> tuple[int, str, int]:
            return (load[c.pk], c.name, c.pk)

        ranked = [(c, True) for c in sorted(by_region[h.village_id], key=rank)]
        ranked += [(c, False) for c in sorted(by_region[h.village.parent_id], key=rank)]
        picks = ranked[:limit]
        out[h.pk] = [
            Suggestion(c.pk, c.name, c.work_unit, c.level, c.region.name, load[c.pk], same)
            for c, same in picks
        ]
        if picks:
            load[picks[0][0].pk] += 1
    return out


# --- one household --------------------------------------------------------------------------


@dataclass
class Followup:
    household: Household
    running: Pairing | None
    pairings: list[Pairing]
    visits: list[Visit]
    problems: list[Problem]
    placements: list[EmploymentPlacement]
    closures: list[RiskClosure]
    last_visit: dt.date | None
    overdue: bool
    period: VisitPeriod

    @property
    def open_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.solved_on is None]


def household_followup(*, household: Household, today: dt.date) -> Followup:
    """Everything pairing assistance holds about one household, newest first."""
    pairings = list(household.pairings.select_related("cadre", "cadre__region"))
    running = next(
        (
            p
            for p in pairings
            if p.start_date <= today and (p.end_date is None or p.end_date > today)
        ),
        None,
    )
    visits = list(
        household.visits.select_related("cadre").prefetch_related("problems", "placements")
    )
    last = max((v.visited_on for v in visits if v.visited_on <= today), default=None)
    period = visit_period(today=today, county_code=county_code_of(household.village.path))
    return Followup(
        household=household,
        running=running,
        pairings=pairings,
        visits=visits,
        problems=list(household.problems.order_by(F("solved_on").desc(nulls_first=True), "-pk")),
        placements=list(household.placements.all()),
        closures=list(household.risk_closures.select_related("closed_by")),
        last_visit=last,
        overdue=running is not None and (last is None or last < period.start),
        period=period,
    )


# --- income line and per-capita income ------------------------------------------------------


def county_code_of(path: str) -> str:
    """The county code in a region path (city/county/township/village/)."""
    codes = [c for c in path.split("/") if c]
    return codes[1] if len(codes) > 1 else ""


class IncomeLines:
    """The income line (收入线) of a year for a county, from the policy parameters.

    The line of year Y is the value of ``income_test.line`` in force on 31
    December of Y for the county (``fangpin.policy.loader``); ``None`` when the
    policy has no value then (a year before the policy began, an unknown county).
    """

    def __init__(self) -> None:
        from fangpin.policy.loader import parameters_default

        self._params = parameters_default()
        self._cache: dict[tuple[str, int], Decimal | None] = {}

    def line(self, county_code: str, year: int) -> Decimal | None:
        key = (county_code, year)
        if key not in self._cache:
            from fangpin.policy import spec
            from fangpin.policy.loader import PolicyInputError

            try:
                value = self._params.in_force(county_code, dt.date(year, 12, 31)).value(spec.LINE)
            except (PolicyInputError, KeyError):
                value = None
            self._cache[key] = None if value is None else Decimal(value)
        return self._cache[key]


def income_line(*, county_code: str, year: int) -> Decimal | None:
    """The income line of ``year`` for a county (see ``IncomeLines``)."""
    return IncomeLines().line(county_code, year)


def per_capita(income: Money, members: int) -> Money:
    return Money(income.amount / members)


def _above(income: Money, members: int, line: Decimal) -> bool:
    """Per-capita income strictly above the line, compared exactly (no division)."""
    return income.amount > line * members


# --- risk elimination (风险消除) --------------------------------------------------------------


@dataclass(frozen=True)
class RiskCheck:
    code: str
    label: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class RiskChecks:
    household_no: str
    on: dt.date
    checks: list[RiskCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass(frozen=True)
class RiskRules:
    """The numbers of risk elimination in force on a day for a county (``risk.*``)."""

    stable_days: int  # income above the line on record for this many days (six months: 183)
    working_age: tuple[int, int]  # no labour recorded: able to work at these ages, inclusive


def risk_rules(
    *, on: dt.date, county_code: str | None = None, parameters: ParameterSet | None = None
) -> RiskRules:
    """``risk.stable_days`` and ``risk.working_age.*`` in force on ``on``: the county's own
    where it has them, else the city's. Raises ``PolicyInputError`` (field ``date``) on a
    day before they have a value (before the policy began, 2017 in the reference set)."""
    params = parameters if parameters is not None else parameters_default()
    county = _own_county(params, county_code)
    return RiskRules(
        stable_days=params.value(spec.STABLE_DAYS, on=on, county=county),
        working_age=(
            params.value(spec.WORKING_AGE_MINIMUM, on=on, county=county),
            params.value(spec.WORKING_AGE_MAXIMUM, on=on, county=county),
        ),
    )


def _income_check(household: Household, on: dt.date, members: int, stable_days: int) -> RiskCheck:
    """Income stably above the line for ``stable_days`` days, from annual records.

    Income records are annual figures, each recorded at a moment. The figure *on
    record* at a moment is the latest-recorded record of the latest year recorded
    by then. The check passes when (a) the figure on record ``stable_days`` days
    before ``on`` (183, six months, in the reference parameters) puts per-capita
    income above the line of its year, and (b) every income record recorded since
    then, up to ``on``, does too — so for the whole period the record has shown the
    household above the line and nothing has shown it below.
    """
    label = CHECK_INCOME.format(days=stable_days)
    if members == 0:
        return RiskCheck("income", label, False, WHY_NO_MEMBERS)
    anchor = on - dt.timedelta(days=stable_days)
    lines = IncomeLines()
    county = county_code_of(household.village.path)
    records = sorted(
        (
            (timezone.localtime(r.recorded_at).date(), r.recorded_at, r.pk, r.year, r.annual_income)
            for r in household.incomes.all()
        ),
        key=lambda t: (t[1], t[2]),
    )
    records = [r for r in records if r[0] <= on]
    before = [r for r in records if r[0] <= anchor]
    if not before:
        return RiskCheck(
            "income",
            label,
            False,
            WHY_NO_INCOME.format(date=anchor.isoformat(), on=on.isoformat()),
        )
    # on record at the anchor: the latest year, its latest-recorded figure
    then = max(before, key=lambda r: (r[3], r[1], r[2]))
    for recorded_on, _, _, year, income in [then, *[r for r in records if r[0] > anchor]]:
        line = lines.line(county, year)
        if line is None:
            return RiskCheck("income", label, False, WHY_NO_LINE.format(year=year))
        if not _above(income, members, line):
            template = WHY_BELOW_THEN if recorded_on <= anchor else WHY_BELOW_SINCE
            return RiskCheck(
                "income",
                label,
                False,
                template.format(
                    date=(anchor if recorded_on <= anchor else recorded_on).isoformat(),
                    year=year,
                    per_capita=per_capita(income, members),
                    line=Money(line),
                ),
            )
    now = max(records, key=lambda r: (r[3], r[1], r[2]))
    return RiskCheck(
        "income",
        label,
        True,
        OK_INCOME.format(
            year=now[3],
            per_capita=per_capita(now[4], members),
            line=Money(lines.line(county, now[3]) or 0),
            since=anchor.isoformat(),
        ),
    )


def _works(member: Member, on: dt.date, working_age: tuple[int, int]) -> bool:
    """Able to work: labour recorded able or weak; when not recorded, aged within
    ``working_age`` (inclusive; 16–64 in the reference parameters) on ``on``."""
    if member.labour:
        return member.labour in (Labour.ABLE, Labour.WEAK)
    try:
        born = birth_date(member.id_number)
    except ValueError:
        return False
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return working_age[0] <= age <= working_age[1]


def risk_checks(*, household: Household, on: dt.date) -> RiskChecks:
    """The conditions of risk elimination (风险消除, POLICY.md step 7) on the day ``on``.

    1. income above the line on record for ``risk.stable_days`` days — six months,
       183 days, in the reference parameters (``_income_check``);
    2. the rigid expense resolved: no problem found on or before ``on`` is still
       open on ``on`` — any category, because the problem that is the household's
       rigid expense may be filed as medical, schooling, housing or "other";
    3. at least one help measure: a visit with help given, an employment
       placement, or a solved problem, on or before ``on``;
    4. someone can work (``_works``; ``risk.working_age.*`` for a member with no
       labour recorded): a household with no one able to work is supported by
       social assistance (兜底保障), not closed this way.

    The parameters are those in force on ``on`` for the household's county; on a
    day before they have a value, the income and labour checks fail (``WHY_NO_RULE``).
    """
    members = list(household.members.all())
    try:
        rules: RiskRules | None = risk_rules(
            on=on, county_code=county_code_of(household.village.path)
        )
    except PolicyInputError:
        rules = None
    no_rule = WHY_NO_RULE.format(on=on.isoformat())
    if rules is None:
        checks = [RiskCheck("income", CHECK_INCOME_NO_RULE, False, no_rule)]
    else:
        checks = [_income_check(household, on, len(members), rules.stable_days)]

    problems = list(household.problems.filter(found_on__lte=on))
    still_open = [p for p in problems if p.solved_on is None or p.solved_on > on]
    if still_open:
        labels = dict(ProblemCategory.choices)
        categories = ", ".join(sorted({str(labels[p.category]) for p in still_open}))
        checks.append(
            RiskCheck(
                "expense",
                CHECK_EXPENSE,
                False,
                WHY_OPEN_PROBLEMS.format(n=len(still_open), categories=categories),
            )
        )
    else:
        checks.append(RiskCheck("expense", CHECK_EXPENSE, True, OK_NO_OPEN.format(n=len(problems))))

    helped = household.visits.filter(visited_on__lte=on).exclude(help_given="").count()
    placed = household.placements.filter(started_on__lte=on).count()
    solved = len([p for p in problems if p.solved_on is not None and p.solved_on <= on])
    if helped or placed or solved:
        checks.append(
            RiskCheck(
                "help",
                CHECK_HELP,
                True,
                OK_HELP.format(visits=helped, placements=placed, solved=solved),
            )
        )
    else:
        checks.append(RiskCheck("help", CHECK_HELP, False, WHY_NO_HELP))

    workers = [m for m in members if rules is not None and _works(m, on, rules.working_age)]
    if rules is None:
        checks.append(RiskCheck("labour", CHECK_LABOUR, False, no_rule))
    elif workers:
        checks.append(RiskCheck("labour", CHECK_LABOUR, True, OK_LABOUR.format(n=len(workers))))
    else:
        checks.append(RiskCheck("labour", CHECK_LABOUR, False, WHY_NO_LABOUR))
    return RiskChecks(household.household_no, on, checks)


# --- outcomes: 返贫 and 新致贫 ----------------------------------------------------------------

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


def outcome_latest_year(*, user: Any) -> int | None:
    return (
        permissions.scope_filter(user, IncomeRecord.objects.all(), "household__village__path")
        .aggregate(y=Max("year"))
        .get("y")
    )


def outcomes(*, user: Any, year: int, with_rows: bool = True) -> OutcomeReport:
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

    group = _group_lookup(user)
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


# --- the home page --------------------------------------------------------------------------


@dataclass
class HomeSummary:
    cadre: Cadre | None = None
    mine: list[Household] = field(default_factory=list)
    mine_total: int = 0
    mine_overdue: int = 0
    overdue_total: int | None = None
    paired_total: int | None = None
    period: VisitPeriod | None = None  # the visit period the overdue count speaks of
    # the 返贫/新致贫 cards load after the page (``home_outcome``): at city scale they take
    # a second to count, and the rest of the page should not wait for them
    show_outcomes: bool = False


def home_summary(*, user: Any, today: dt.date, mine_limit: int = 10) -> HomeSummary | None:
    """What the home page shows of pairing: a cadre's overdue households first; for
    officers, counts of overdue households and whether to load the 返贫/新致贫 cards."""
    if not permissions.can(user, "pairing.view"):
        return None
    summary = HomeSummary(cadre=cadre_of(user=user))
    if summary.cadre is not None:
        mine = followup_households(user=user, today=today, cadre=summary.cadre)
        counts = mine.aggregate(n=Count("pk"), late=Count("pk", filter=Q(overdue=True)))
        summary.mine_total, summary.mine_overdue = counts["n"], counts["late"]
        summary.mine = list(mine[:mine_limit])
    if permissions.can(user, "pairing.outcomes"):
        summary.paired_total, summary.overdue_total = _followup_counts(user, today)
        summary.period = visit_period_of_user(user=user, today=today)
        summary.show_outcomes = True
    return summary


def home_outcome(*, user: Any) -> OutcomeReport | None:
    """返贫/新致贫 counts of the latest year with income records in the user's region."""
    year = outcome_latest_year(user=user)
    return None if year is None else outcomes(user=user, year=year, with_rows=False)


def _followup_counts(user: Any, today: dt.date) -> tuple[int, int]:
    rows = compliance_by_region(user=user, today=today)
    paired = sum(r.paired for r in rows)
    return paired, paired - sum(r.visited for r in rows)
