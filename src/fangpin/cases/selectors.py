"""Reads on relief cases, always scoped by the database to the user's region."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangpin.accounts import permissions
from fangpin.common import clock
from fangpin.common.audit import Action
from fangpin.common.models import AuditEvent
from fangpin.common.workdays import holidays_between, working_days_after

from . import workdays, workflow
from .models import Case, Intake


def cases_visible(user: Any) -> QuerySet[Case]:
    """One case at a time (the case page): with its household and village joined."""
    return _scoped(user).select_related("household", "household__village")


def _scoped(user: Any) -> QuerySet[Case]:
    return permissions.scope_filter(user, Case.objects.all(), "region_path")


# read on the case page only; a list leaves them out
LIST_DEFERRED = ("comparison", "exclusions", "exclusions_override", "rejected_reason")


def _listed(qs: QuerySet[Case]) -> QuerySet[Case]:
    """A list's rows: the page is chosen on the cases table alone — its own indexes give
    the order, so a page of a county's 100,000 cases reads about 50 rows, not all of them
    joined to their households — and then only that page's households and villages are
    read (two small queries)."""
    return qs.defer(*LIST_DEFERRED).prefetch_related("household__village")


def case_list(user: Any, *, state: str = "", warning: int | None = None) -> QuerySet[Case]:
    """Every case in the user's region, newest first; ``state``: only cases at that step;
    ``warning``: only the cases opened from that screening warning."""
    qs = _scoped(user)
    if state:
        qs = qs.filter(state=state)
    if warning is not None:
        qs = qs.filter(pk__in=Intake.objects.filter(warning_id=warning).values("case_id"))
    return _listed(qs).order_by("-opened_at", "-id")


def case_queue(user: Any, *, state: str = "") -> QuerySet[Case]:
    """What waits for this user: cases at a step their role performs, oldest first."""
    states = workflow.states_waiting_for(user)
    if state:
        states = [s for s in states if s == state]
    return _listed(_scoped(user).filter(state__in=states)).order_by("entered_at", "id")


def case_queue_count(user: Any) -> int:
    if not permissions.can(user, "cases.view"):
        return 0
    return _scoped(user).filter(state__in=workflow.states_waiting_for(user)).count()


def case_due(case: Case, holidays: set[dt.date] | None = None) -> dt.date | None:
    """The deadline of the step the case waits at (working days from entering it)."""
    days = workdays.step_deadline_days(case.state)
    if days is None or case.state not in workflow.OPEN_STATES:
        return None
    return working_days_after(timezone.localdate(case.entered_at), days, holidays)


def case_is_overdue(
    case: Case, today: dt.date | None = None, holidays: set[dt.date] | None = None
) -> bool:
    due = case_due(case, holidays)
    return due is not None and (today or clock.today()) > due


def case_rows(cases: Any, today: dt.date) -> list[tuple[Case, dt.date | None, bool]]:
    """(case, due, overdue) for a page of cases, reading the holidays once."""
    cases = list(cases)
    if not cases:
        return []
    first = min(timezone.localdate(c.entered_at) for c in cases)
    holidays = holidays_between(first, max(today, first) + dt.timedelta(days=400))
    rows = []
    for c in cases:
        due = case_due(c, holidays)
        rows.append((c, due, due is not None and today > due))
    return rows


def timeline_label(action: str) -> Any:
    name = action.rsplit(".", 1)[-1]
    if name in workflow.TRANSITIONS:
        return workflow.TRANSITIONS[name].label
    return TIMELINE_LABELS.get(action, "")


TIMELINE_LABELS = {
    Action.CASE_OPENED: _("Case opened 受理"),
    Action.CASE_JOINED: _("Intake joined the open case 并入在办案件"),
    Action.EVIDENCE_ADDED: _("Evidence added 上传材料"),
    Action.OBJECTION_RECORDED: _("Objection recorded 登记异议"),
    Action.OBJECTION_RESOLVED: _("Objection resolved 异议已处理"),
}


def case_timeline(case: Case) -> QuerySet[AuditEvent]:
    return (
        AuditEvent.objects.filter(object_type="cases.case", object_id=str(case.pk))
        .select_related("actor")
        .order_by("at", "id")
    )


@dataclass(frozen=True)
class Action:
    name: str
    label: Any
    refusal: str | None  # None: the user may take it now


def case_actions(case: Case, user: Any) -> list[Action]:
    """The transitions from the case's state that this user's role and region allow,
    with the reason when it would refuse now: separation of duties, then the guard."""
    today = clock.today()
    out = []
    for t in workflow.TRANSITIONS.values():
        if case.state not in t.sources or not permissions.can(user, t.action, case):
            continue
        if t.may_take is not None and t.may_take(case, user) is not None:
            continue  # e.g. a reject at a step that is not this user's: not offered at all
        guard = workflow.duty_refusal(case, t.name, user)
        if guard is None and t.name not in {"household_check", "village_review"}:
            guard = t.refusal(case, today)
        out.append(Action(t.name, t.label, guard))
    return out
