"""Screening API (筛查预警), mounted at ``/api/v1/screening``: the caller's warnings,
one warning, its triage — assignment to a checker, dismissal with a reason — and a
county officer's override of an exclusion found by data comparison (信息比对) —
region-scoped like the pages."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from fangpin.accounts import permissions
from fangpin.common.api import NOT_FOUND, answers
from fangpin.common.bounds import Year
from fangpin.common.clock import today
from fangpin.common.idnumber import mask_id_number, mask_if_id_number
from fangpin.common.pages import paginated

from . import selectors, triage
from .models import DismissReason, Warning

router = Router(tags=["screening"])


def _require(request: HttpRequest, action: str) -> None:
    reason = permissions.why_not(request.user, action)
    if reason:
        raise HttpError(403, reason)


def _warning(request: HttpRequest, pk: int) -> Warning:
    """The warning, if it lies in the caller's region; else 404 (absent or outside: one answer).
    A refusal of the services (``ScreeningError``, a ``DomainError``) is answered 422 by the
    API's one handler."""
    w = selectors.warning_get(user=request.user, pk=pk)
    if w is None:
        raise HttpError(404, "no such warning in your region (不在您的辖区内或不存在)")
    return w


def _due(w: Warning) -> dt.date | None:
    """The warning's due date (``triage.warning_due``), worked out once per warning."""
    if not hasattr(w, "_due_on"):
        w._due_on = triage.warning_due(w)
    return w._due_on


class ExclusionMatchOut(Schema):
    """A feed row that showed an exclusion (``Warning.exclusion_matches``)."""

    exclusion: str
    feed: str
    id_number: str
    reference: str
    detail: str | None = None
    batch: str
    source_row: int


class WarningOut(Schema):
    id: int
    household_no: str
    circumstance: str
    year: int
    household_type: str
    members: int
    self_paid: str
    annual_income: str | None
    income_known: bool
    income_source: str
    estimated_relief: str
    parameter_version: str
    status: str
    dismiss_reason: str
    reason: str
    assigned_to: str | None
    due_on: dt.date | None
    overdue: bool
    feed_refs: list[str]
    exclusions: list[str]
    exclusion_matches: list[ExclusionMatchOut]

    @staticmethod
    def resolve_household_no(w: Warning) -> str:
        return w.household.household_no

    @staticmethod
    def resolve_self_paid(w: Warning) -> str:
        return str(w.self_paid.amount)

    @staticmethod
    def resolve_annual_income(w: Warning) -> str | None:
        return str(w.annual_income.amount) if w.annual_income is not None else None

    @staticmethod
    def resolve_estimated_relief(w: Warning) -> str:
        return str(w.estimated_relief.amount)

    @staticmethod
    def resolve_assigned_to(w: Warning) -> str | None:
        return w.assigned_to.username if w.assigned_to_id else None

    @staticmethod
    def resolve_due_on(w: Warning) -> dt.date | None:
        return _due(w)

    @staticmethod
    def resolve_overdue(w: Warning) -> bool:
        due = _due(w)
        return due is not None and today() > due

    # personal data: the ID numbers among the feed rows are masked, as on the page
    @staticmethod
    def resolve_feed_refs(w: Warning) -> list[str]:
        return [mask_if_id_number(r) for r in w.feed_refs]

    @staticmethod
    def resolve_exclusion_matches(w: Warning) -> list[dict]:
        return [
            {**m, "id_number": mask_id_number(m.get("id_number", ""))} for m in w.exclusion_matches
        ]


class DismissIn(Schema):
    """Why: a reason from the list (``DismissReason``) and a text of at least 4 characters."""

    reason_code: DismissReason
    reason: str


class AssignIn(Schema):
    """Who checks the warning: the username of a township officer or a village cadre whose
    region holds it."""

    assignee: str


class OverrideIn(Schema):
    reason: str


@router.get("/warnings", response=answers(list[WarningOut]))
@paginated(page_size=100)
def warnings(
    request: HttpRequest,
    year: Year | None = None,
    circumstance: str = "",
    status: str = "open",
    sort: str = "relief",
):
    """``status``: "open" (new or checking, the default), one status, or "" for any."""
    _require(request, "screening.view")
    qs = selectors.warning_list(
        user=request.user, year=year, circumstance=circumstance, status=status, sort=sort
    )
    return qs


@router.get("/warnings/{pk}", response=answers(WarningOut, NOT_FOUND))
def warning(request: HttpRequest, pk: int):
    _require(request, "screening.view")
    w = _warning(request, pk)
    return w


@router.post("/warnings/{pk}/dismiss", response=answers(WarningOut, NOT_FOUND))
def dismiss(request: HttpRequest, pk: int, body: DismissIn):
    """new/checking → dismissed, with a reason (422 when the warning is decided already)."""
    _require(request, "screening.dismiss")
    w = _warning(request, pk)
    triage.warning_dismiss(
        warning=w, actor=request.user, reason_code=body.reason_code, reason=body.reason
    )
    return selectors.warning_get(user=request.user, pk=w.pk)


@router.post("/warnings/{pk}/assign", response=answers(WarningOut, NOT_FOUND))
def assign(request: HttpRequest, pk: int, body: AssignIn):
    """new/checking → checking, by the user named (422 for someone who cannot check it)."""
    _require(request, "screening.assign")
    w = _warning(request, pk)
    assignee = get_user_model().objects.filter(username=body.assignee).first()
    triage.warnings_assign(warnings=[w], assignee=assignee, actor=request.user)
    return selectors.warning_get(user=request.user, pk=w.pk)


@router.post("/warnings/{pk}/override-exclusion", response=answers(WarningOut, NOT_FOUND))
def override_exclusion(request: HttpRequest, pk: int, body: OverrideIn):
    """excluded → new, with a reason (county officers; 403 for anyone else)."""
    _require(request, "screening.exclusion_override")
    w = _warning(request, pk)
    w = triage.warning_exclusion_override(warning=w, actor=request.user, reason=body.reason)
    return selectors.warning_get(user=request.user, pk=w.pk)
