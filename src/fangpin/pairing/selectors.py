"""Reads of pairing assistance, always through the user's region scope: cadres, the
follow-up of paired households (last visit, overdue), compliance, problems and totals,
the pairing rule with its suggested cadres, and one household's follow-up.

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
  quarter in the reference parameters ("visits at least once a quarter";
  ``rules.visit_period``). A pairing that began this period is overdue until its
  first visit.
- **pairing rule** (帮扶联系人): a household that received relief — a ``Payment``
  with status succeeded, paid on or before today — has a running pairing with a
  *rural* (village- or township-level) cadre, unless its monitoring was closed
  (风险消除) on or after its latest payment.

Elsewhere: the numbers of the rules, read from the policy parameters, in ``rules.py``;
the risk-elimination checks in ``risk.py``; 返贫/新致贫 in ``outcomes.py``; the home
page in ``home.py``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat, ExtractYear

from fangpin.accounts import permissions
from fangpin.funds.models import Payment, PaymentStatus
from fangpin.policy.loader import parameters_default
from fangpin.regions.handan import CITY_CODE
from fangpin.regions.models import Region
from fangpin.regions.selectors import county_code_of
from fangpin.registry.models import HEAD_RELATIONS, Household, Member
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
from .rules import VisitPeriod, visit_period

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


def pairings_of_user(*, user: Any, on: dt.date) -> QuerySet[Pairing]:
    """The pairings running on ``on`` with the active cadre a user acts as.

    A helper cadre (帮扶干部) sees only these households: ``PairingConfig.ready``
    registers this read as the helper cadre's scope
    (``permissions.household_scope_register``).
    """
    return Pairing.objects.active_on(on).filter(cadre__user_id=user.pk, cadre__active=True)


# --- follow-up: running pairings, last visits, overdue --------------------------------------


def _running(today: dt.date) -> QuerySet[Pairing]:
    return Pairing.objects.active_on(today).filter(household=OuterRef("pk"))


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


def group_lookup(user: Any) -> str:
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
    group = group_lookup(user)
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
    # problems found and solved by year in one pass: (year found, year solved or none) pairs
    for r in (
        permissions.scope_filter(user, Problem.objects.all(), path)
        .annotate(found=ExtractYear("found_on"), solved=ExtractYear("solved_on"))
        .values("found", "solved")
        .annotate(n=Count("pk"))
    ):
        row(r["found"]).problems_found += r["n"]
        if r["solved"] is not None:
            row(r["solved"]).problems_solved += r["n"]
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
