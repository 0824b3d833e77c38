"""Pairing API (结对帮扶): the same reads and writes as the pages, region-scoped.

Mounted at ``/api/v1/pairing``. A household outside the caller's scope is not
found (404); an action the role may not take is refused (403); bad input gets
the service's message (422) and changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from fangpin.accounts import permissions
from fangpin.common import clock
from fangpin.common.api import NOT_FOUND, answers
from fangpin.common.bounds import Day, Year
from fangpin.common.idnumber import mask_id_number
from fangpin.common.pages import PageRows, paginated
from fangpin.registry import selectors as registry_selectors
from fangpin.registry.models import Household

from . import risk, selectors, services
from .errors import ERR_HOUSEHOLD_SCOPE, ERR_NOT_A_CADRE, ERR_UNKNOWN_CADRE
from .models import Cadre, Problem
from .outcomes import outcome_report
from .visits import PlacementIn, ProblemIn, problem_solve, visit_record

router = Router(tags=["pairing"])


def _household(request: HttpRequest, household_no: str, action: str) -> Household:
    permissions.require(request.user, action)
    h = registry_selectors.household_get(user=request.user, household_no=household_no)
    if h is None:
        raise HttpError(404, "no such household in your region (不在您的辖区内或不存在)")
    return h


class CadreOut(Schema):
    id: int
    name: str
    work_unit: str
    level: str
    region_code: str
    region_name: str
    phone: str
    active: bool
    pairs: int


class FollowupRow(Schema):
    household_no: str
    village_code: str
    village_name: str
    head_name: str | None
    head_id_number_masked: str | None
    contact_id: int | None
    contact_name: str | None
    last_visit: dt.date | None
    overdue: bool


class ComplianceOut(Schema):
    code: str
    name: str
    paired: int
    visited: int
    overdue: int
    percent: int | None


class SuggestionOut(Schema):
    cadre_id: int
    name: str
    work_unit: str
    level: str
    pairs: int
    same_village: bool


class BreachRow(Schema):
    household_no: str
    household_id: int
    village_name: str
    head_name: str | None
    last_paid_on: dt.date | None
    contact_name: str | None
    suggestions: list[SuggestionOut]


class AssignmentIn(Schema):
    household_no: str
    cadre_id: int


class AssignIn(Schema):
    assignments: list[AssignmentIn]
    start_date: dt.date | None = None
    reason: str = ""


class AssignOut(Schema):
    created: int
    ended: int
    unchanged: int


class ProblemInSchema(Schema):
    category: str
    description: str


class PlacementInSchema(Schema):
    member_id: int
    employer: str
    job: str
    daily_wage: str  # yuan as a decimal string, e.g. "75.00" — never a float
    started_on: dt.date | None = None


class VisitIn(Schema):
    household_no: str
    visited_on: dt.date
    mode: str
    met: str
    findings: str = ""
    help_given: str = ""
    cadre_id: int | None = None
    problems: list[ProblemInSchema] = []
    placements: list[PlacementInSchema] = []


class VisitOut(Schema):
    id: int
    household_no: str
    visited_on: dt.date
    mode: str
    cadre: str
    met: str
    findings: str
    help_given: str
    problems: int
    placements: int


class ProblemOut(Schema):
    id: int
    category: str
    description: str
    found_on: dt.date
    solved_on: dt.date | None
    solution: str


class SolveIn(Schema):
    solution: str
    solved_on: dt.date | None = None


class PairingOut(Schema):
    cadre_id: int
    cadre: str
    level: str
    start_date: dt.date
    end_date: dt.date | None
    end_reason: str


class FollowupOut(Schema):
    household_no: str
    contact: str | None
    last_visit: dt.date | None
    overdue: bool
    pairings: list[PairingOut]
    visits: list[VisitOut]
    problems: list[ProblemOut]


class CheckOut(Schema):
    code: str
    label: str
    passed: bool
    detail: str


class ChecksOut(Schema):
    household_no: str
    on: dt.date
    ok: bool
    checks: list[CheckOut]


class CloseIn(Schema):
    reason: str
    closed_on: dt.date | None = None


class CloseOut(Schema):
    household_no: str
    closed_on: dt.date
    checks: list[CheckOut]


class OutcomeRowOut(Schema):
    household_no: str
    kind: str
    household_type: str
    head_name: str
    village: str
    members: int
    per_capita_before: str
    per_capita: str
    line_before: str
    line: str


class OutcomeGroupOut(Schema):
    code: str
    name: str
    returned: int
    new: int


class OutcomesOut(Schema):
    year: int
    returned: int
    new: int
    evaluated: int
    groups: list[OutcomeGroupOut]
    rows: list[OutcomeRowOut]


class TotalsOut(Schema):
    year: int
    visits: int
    problems_found: int
    problems_solved: int
    people_into_work: int


def _visit_out(v) -> VisitOut:
    return VisitOut(
        id=v.pk,
        household_no=v.household.household_no,
        visited_on=v.visited_on,
        mode=v.mode,
        cadre=v.cadre.name,
        met=v.met,
        findings=v.findings,
        help_given=v.help_given,
        problems=len(v.problems.all()),
        placements=len(v.placements.all()),
    )


@router.get("/cadres", response=answers(list[CadreOut]))
@paginated(page_size=100)
def list_cadres(request, q: str = ""):
    """Cadres in your region with their running pairings. 帮扶干部"""
    permissions.require(request.user, "pairing.view")

    def build(page: list) -> list[CadreOut]:
        return [
            CadreOut(
                id=c.pk,
                name=c.name,
                work_unit=c.work_unit,
                level=c.level,
                region_code=c.region.code,
                region_name=c.region.name,
                phone=c.phone,
                active=c.active,
                pairs=c.pairs,
            )
            for c in page
        ]

    return PageRows(selectors.cadre_list(user=request.user, today=clock.today(), q=q), build)


@router.get("/followup", response=answers(list[FollowupRow]))
@paginated(page_size=100)
def list_followup(request, overdue: bool = False, mine: bool = False, region: str = ""):
    """Paired households, overdue first (``mine``: your own as a cadre). 走访情况"""
    permissions.require(request.user, "pairing.view")
    cadre = selectors.cadre_of(user=request.user) if mine else None
    if mine and cadre is None:
        raise HttpError(422, ERR_NOT_A_CADRE)
    qs = selectors.followup_households(
        user=request.user,
        today=clock.today(),
        cadre=cadre,
        overdue_only=overdue,
        region_code=region,
    )

    def build(page: list) -> list[FollowupRow]:
        return [
            FollowupRow(
                household_no=h.household_no,
                village_code=h.village.code,
                village_name=h.village.name,
                head_name=h.head_name,
                head_id_number_masked=mask_id_number(h.head_id_number)
                if h.head_id_number
                else None,
                contact_id=h.contact_id,
                contact_name=h.contact_name,
                last_visit=h.last_visit,
                overdue=h.overdue,
            )
            for h in page
        ]

    return PageRows(qs, build)


@router.get("/compliance", response=answers(list[ComplianceOut]))
def compliance(request):
    """Visits of the current visit period (a quarter in the reference parameters) one level
    below your region (by township for a county). 走访率"""
    permissions.require(request.user, "pairing.view")
    rows = selectors.compliance_by_region(user=request.user, today=clock.today())
    return [ComplianceOut.from_orm(r) for r in rows]


@router.get("/rule-breaches", response=answers(list[BreachRow]))
@paginated(page_size=100)
def rule_breaches(request, everyone: bool = False):
    """Households that received relief without a rural contact, with suggested cadres."""
    permissions.require(request.user, "pairing.view")
    today = clock.today()

    def build(households: list) -> list[BreachRow]:
        suggested = selectors.cadre_suggestions(households=households, today=today)
        return [
            BreachRow(
                household_no=h.household_no,
                household_id=h.pk,
                village_name=h.village.name,
                head_name=h.head_name,
                last_paid_on=h.last_paid_on,
                contact_name=h.contact_name,
                suggestions=[SuggestionOut.from_orm(s) for s in suggested[h.pk]],
            )
            for h in households
        ]

    breaches = selectors.rule_breaches(user=request.user, today=today, everyone=everyone)
    return PageRows(breaches, build)


@router.post("/pairings", response=answers(AssignOut, NOT_FOUND))
def assign(request, payload: AssignIn):
    """Pair households with cadres in bulk; a household's running pairing with another cadre ends."""
    permissions.require(request.user, "pairing.assign")
    nos = [a.household_no for a in payload.assignments]
    ids = dict(
        registry_selectors.household_scope(user=request.user)
        .filter(household_no__in=nos)
        .values_list("household_no", "pk")
    )
    missing = [no for no in nos if no not in ids]
    if missing:
        raise HttpError(404, ERR_HOUSEHOLD_SCOPE.format(household=missing[0]))
    result = services.pairing_assign_bulk(
        assignments=[(ids[a.household_no], a.cadre_id) for a in payload.assignments],
        start_date=payload.start_date,
        reason=payload.reason,
        actor=request.user,
    )
    return AssignOut(created=len(result.created), ended=result.ended, unchanged=result.unchanged)


@router.post("/visits", response=answers({201: VisitOut}, NOT_FOUND))
def record_visit(request, payload: VisitIn):
    """Record a visit with its problems and employment help. 登记走访"""
    h = _household(request, payload.household_no, "pairing.visit")
    cadre = None
    if payload.cadre_id is not None:
        cadre = Cadre.objects.select_related("region").filter(pk=payload.cadre_id).first()
        if cadre is None:
            raise HttpError(422, ERR_UNKNOWN_CADRE.format(cadre=payload.cadre_id))
    visit = visit_record(
        household=h,
        cadre=cadre,
        visited_on=payload.visited_on,
        mode=payload.mode,
        met=payload.met,
        findings=payload.findings,
        help_given=payload.help_given,
        problems=[ProblemIn(p.category, p.description) for p in payload.problems],
        placements=[
            PlacementIn(
                member_id=p.member_id,
                employer=p.employer,
                job=p.job,
                daily_wage=p.daily_wage,
                started_on=p.started_on,
            )
            for p in payload.placements
        ],
        actor=request.user,
    )
    return Status(201, _visit_out(visit))


@router.post("/problems/{problem_id}/solve", response=answers(ProblemOut, NOT_FOUND))
def solve_problem(request, problem_id: int, payload: SolveIn):
    """Mark a problem solved, with how. 问题解决"""
    permissions.require(request.user, "pairing.visit")
    problem = (
        permissions.scope_filter(
            request.user,
            Problem.objects.select_related("household", "household__village"),
            "household__village__path",
        )
        .filter(pk=problem_id)
        .first()
    )
    if problem is None:
        raise HttpError(404, "no such problem in your region (不在您的辖区内或不存在)")
    p = problem_solve(
        problem=problem,
        solution=payload.solution,
        solved_on=payload.solved_on,
        actor=request.user,
    )
    return ProblemOut.from_orm(p)


@router.get("/households/{household_no}", response=answers(FollowupOut, NOT_FOUND))
def household_followup(request, household_no: str):
    """One household's pairings, visits and problems (the look is audited). 帮扶记录"""
    from fangpin.common.audit import Action, audit_record

    h = _household(request, household_no, "pairing.view")
    f = selectors.household_followup(household=h, today=clock.today())
    audit_record(
        actor=request.user,
        action=Action.PAIRING_HOUSEHOLD_VIEWED,
        obj=h,
        region_path=h.region_path,
        data={"via": "api"},
    )
    return FollowupOut(
        household_no=h.household_no,
        contact=f.running.cadre.name if f.running else None,
        last_visit=f.last_visit,
        overdue=f.overdue,
        pairings=[
            PairingOut(
                cadre_id=p.cadre_id,
                cadre=p.cadre.name,
                level=p.cadre.level,
                start_date=p.start_date,
                end_date=p.end_date,
                end_reason=p.end_reason,
            )
            for p in f.pairings
        ],
        visits=[_visit_out(v) for v in f.visits],
        problems=[ProblemOut.from_orm(p) for p in f.problems],
    )


@router.get("/households/{household_no}/risk-checks", response=answers(ChecksOut, NOT_FOUND))
def risk_checks(request, household_no: str, on: Day | None = None):
    """The risk-elimination checks of a household on a date (default today). 风险消除条件"""
    h = _household(request, household_no, "pairing.close_risk")
    day = on or clock.today()
    checks = risk.risk_checks(household=h, on=day)
    return ChecksOut(
        household_no=h.household_no,
        on=day,
        ok=checks.ok,
        checks=[CheckOut(**c.__dict__) for c in checks.checks],
    )


@router.post("/households/{household_no}/risk-close", response=answers(CloseOut, NOT_FOUND))
def risk_close(request, household_no: str, payload: CloseIn):
    """Close the household's monitoring when every check holds. 风险消除"""
    h = _household(request, household_no, "pairing.close_risk")
    closure = services.risk_close(
        household=h, closed_on=payload.closed_on, reason=payload.reason, actor=request.user
    )
    return CloseOut(
        household_no=h.household_no,
        closed_on=closure.closed_on,
        checks=[CheckOut(**c) for c in closure.checks],
    )


@router.get("/outcomes", response=answers(OutcomesOut))
def outcomes(request, year: Year):
    """返贫 and 新致贫 of a year in your region, counted and listed by name."""
    permissions.require(request.user, "pairing.outcomes")
    r = outcome_report(user=request.user, year=year)
    return OutcomesOut(
        year=r.year,
        returned=r.returned,
        new=r.new,
        evaluated=r.evaluated,
        groups=[OutcomeGroupOut(**g.__dict__) for g in r.groups],
        rows=[
            OutcomeRowOut(
                household_no=x.household_no,
                kind=x.kind,
                household_type=x.household_type,
                head_name=x.head_name,
                village=x.village,
                members=x.members,
                per_capita_before=str(x.per_capita_before),
                per_capita=str(x.per_capita),
                line_before=str(x.line_before),
                line=str(x.line),
            )
            for x in r.rows
        ],
    )


@router.get("/totals", response=answers(list[TotalsOut]))
def totals(request):
    """Per year: visits, problems found and solved, people helped into work."""
    permissions.require(request.user, "pairing.view")
    return [TotalsOut(**t.__dict__) for t in selectors.totals_by_year(user=request.user)]
