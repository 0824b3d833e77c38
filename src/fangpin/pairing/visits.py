"""Visits (走访) with the problems found and the employment help given, and problems marked
solved: what a cadre records of the follow-up.

A village or helper cadre records only their own visits; an officer without a cadre
record names the cadre who visited (a paper form typed in). Each write runs in one
transaction with its ``AuditEvent`` rows; bad input raises ``PairingError`` and writes
nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from fangpin.accounts.models import Role
from fangpin.common.audit import Action, audit_record, audit_record_many
from fangpin.common.clock import today
from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.registry.models import Household

from .cadres import cadre_check_for
from .errors import (
    ERR_ALREADY_SOLVED,
    ERR_CATEGORY,
    ERR_MEMBER_NOT_IN_HOUSEHOLD,
    ERR_MODE,
    ERR_NOT_A_CADRE,
    ERR_OWN_VISITS_ONLY,
    ERR_SOLVED_BEFORE_FOUND,
    ERR_WAGE,
    ERR_WAGE_NOT_POSITIVE,
    ERR_WAGE_TOO_LARGE,
    MAX_TEXT,
    PairingError,
    acting,
    check_date,
    full_clean,
    require_household,
    text_input,
)
from .models import Cadre, EmploymentPlacement, Problem, ProblemCategory, Visit, VisitMode
from .selectors import cadre_of

MAX_DAILY_WAGE = Money(10_000)  # more than this a day is a typing error, not a village job


@dataclass(frozen=True)
class ProblemIn:
    """A problem found on a visit: its category (``ProblemCategory``) and what it is."""

    category: str
    description: str


@dataclass(frozen=True)
class PlacementIn:
    """Employment help recorded on a visit: who, where, which job, at what daily wage."""

    member_id: int | None
    employer: str
    job: str
    daily_wage: Any  # yuan: Decimal, int or a decimal string; never a float
    started_on: dt.date | None = None  # default: the visit's date


def _wage(value: Any) -> Money:
    try:
        wage = Money(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise PairingError(ERR_WAGE, field="daily_wage") from None
    if wage.fen <= 0:
        raise PairingError(ERR_WAGE_NOT_POSITIVE, field="daily_wage")
    if wage > MAX_DAILY_WAGE:
        raise PairingError(ERR_WAGE_TOO_LARGE.format(wage=wage), field="daily_wage")
    return wage


@transaction.atomic
def visit_record(
    *,
    household: Household,
    visited_on: dt.date,
    mode: str,
    met: str,
    findings: str = "",
    help_given: str = "",
    problems: Sequence[ProblemIn] = (),
    placements: Sequence[PlacementIn] = (),
    cadre: Cadre | None = None,
    actor: Any,
) -> Visit:
    """Record a cadre's visit with the problems found and the employment help given.

    The cadre is the actor's own cadre record unless an officer records a visit
    for another cadre (a village or helper cadre records only their own). The
    cadre must be active and serve in a region that includes the household; the
    date may not be in the future. Everything is checked before anything is
    written.
    """
    require_household(actor, "pairing.visit", household)
    own = cadre_of(user=actor)
    if cadre is None:
        cadre = own
        if cadre is None:
            raise PairingError(ERR_NOT_A_CADRE, field="cadre")
    elif (
        actor is not None
        and actor.role in (Role.VILLAGE_CADRE, Role.HELPER_CADRE)
        and (own is None or own.pk != cadre.pk)
    ):
        raise PairingError(ERR_OWN_VISITS_ONLY, field="cadre")
    cadre_check_for(cadre, household)
    visited_on = check_date(visited_on, "visited_on")
    if mode not in VisitMode.values:
        raise PairingError(ERR_MODE, field="mode")
    visit = Visit(
        household=household,
        cadre=cadre,
        visited_on=visited_on,
        mode=mode,
        met=text_input(met, "met", 64),
        findings=text_input(findings, "findings", MAX_TEXT, required=False),
        help_given=text_input(help_given, "help_given", MAX_TEXT, required=False),
        recorded_by=acting(actor),
    )
    found: list[Problem] = []
    for p in problems:
        if p.category not in ProblemCategory.values:
            raise PairingError(
                ERR_CATEGORY.format(choices=", ".join(ProblemCategory.values)), field="category"
            )
        found.append(
            Problem(
                household=household,
                category=p.category,
                description=text_input(p.description, "description", 255),
                found_on=visited_on,
            )
        )
    members = {m.pk: m for m in household.members.all()}
    placed: list[EmploymentPlacement] = []
    for p in placements:
        try:
            member = members.get(int(p.member_id)) if p.member_id not in (None, "") else None
        except (TypeError, ValueError):
            member = None
        if member is None:
            raise PairingError(
                ERR_MEMBER_NOT_IN_HOUSEHOLD.format(household=household.household_no),
                field="member",
            )
        started = check_date(p.started_on or visited_on, "started_on")
        placed.append(
            EmploymentPlacement(
                household=household,
                member=member,
                person_name=member.name,
                employer=text_input(p.employer, "employer", 128),
                job=text_input(p.job, "job", 64),
                daily_wage=_wage(p.daily_wage),
                started_on=started,
            )
        )

    full_clean(visit)
    visit.save()
    for row in (*found, *placed):
        row.visit = visit
        full_clean(row)
        row.save()
    path = household.village.path
    actor_id = getattr(acting(actor), "pk", None)
    events = [
        AuditEvent(
            actor_id=actor_id,
            action=Action.VISIT_RECORDED,
            object_type="pairing.visit",
            object_id=str(visit.pk),
            region_path=path,
            data={
                "household": household.household_no,
                "cadre": cadre.name,
                "visited_on": visited_on.isoformat(),
                "mode": mode,
                "problems": len(found),
                "placements": len(placed),
            },
        )
    ]
    events += [
        AuditEvent(
            actor_id=actor_id,
            action=Action.PROBLEM_FOUND,
            object_type="pairing.problem",
            object_id=str(p.pk),
            region_path=path,
            to_state="open",
            data={"category": p.category, "visit": visit.pk},
        )
        for p in found
    ]
    events += [
        AuditEvent(
            actor_id=actor_id,
            action=Action.PLACEMENT_RECORDED,
            object_type="pairing.employmentplacement",
            object_id=str(p.pk),
            region_path=path,
            data={
                "person": p.person_name,
                "employer": p.employer,
                "job": p.job,
                "daily_wage": str(p.daily_wage),
                "visit": visit.pk,
            },
        )
        for p in placed
    ]
    audit_record_many(events)
    return visit


@transaction.atomic
def problem_solve(
    *, problem: Problem, solution: str, solved_on: dt.date | None = None, actor: Any
) -> Problem:
    """Mark a problem solved, with how (解决办法) and when."""
    require_household(actor, "pairing.visit", problem.household)
    problem = Problem.objects.select_for_update().get(pk=problem.pk)
    if problem.solved_on is not None:
        raise PairingError(
            ERR_ALREADY_SOLVED.format(date=problem.solved_on.isoformat()), field="problem"
        )
    solution = text_input(solution, "solution", 255)
    solved = check_date(solved_on or today(), "solved_on")
    if solved < problem.found_on:
        raise PairingError(
            ERR_SOLVED_BEFORE_FOUND.format(
                solved=solved.isoformat(), found=problem.found_on.isoformat()
            ),
            field="solved_on",
        )
    problem.solved_on = solved
    problem.solution = solution
    problem.solved_by = acting(actor)
    full_clean(problem)
    problem.save(update_fields=["solved_on", "solution", "solved_by"])
    audit_record(
        actor=acting(actor),
        action=Action.PROBLEM_SOLVED,
        obj=problem,
        region_path=problem.household.village.path,
        from_state="open",
        to_state="solved",
        reason=solution,
        data={"category": problem.category, "solved_on": solved.isoformat()},
    )
    return problem
