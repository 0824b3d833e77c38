"""Cases API (救助案件), mounted at ``/api/v1/cases``: the same services as the pages.

A case outside the caller's scope is not found (404); an action the role may not
take is refused (403); a refused step or bad input answers 422 with the
service's message and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.pagination import PageNumberPagination, paginate

from fangpin.accounts import permissions
from fangpin.registry.models import Household

from . import selectors, services, workflow
from .models import Case

router = Router(tags=["cases"])


def _require(request: HttpRequest, action: str) -> None:
    reason = permissions.why_not(request.user, action)
    if reason:
        raise HttpError(403, reason)


def _case(request: HttpRequest, pk: int) -> Case:
    _require(request, "cases.view")
    case = selectors.cases_visible(request.user).filter(pk=pk).first()
    if case is None:
        raise HttpError(404, "no such case in your region (不在您的辖区内或不存在)")
    return case


class CaseOut(Schema):
    id: int
    number: str
    household_no: str
    village_code: str
    circumstance: str
    period: int
    source: str
    state: str
    version: int
    entered_at: dt.datetime
    due: dt.date | None
    overdue: bool
    amount: str | None

    # resolvers, so that a paginated list builds only the rows of its page
    @staticmethod
    def resolve_number(obj: Case) -> str:
        if isinstance(obj, dict):
            return obj["number"]
        return obj.number

    @staticmethod
    def resolve_household_no(obj: Case) -> str:
        if isinstance(obj, dict):
            return obj["household_no"]
        return obj.household.household_no

    @staticmethod
    def resolve_village_code(obj: Case) -> str:
        if isinstance(obj, dict):
            return obj["village_code"]
        return obj.household.village.code

    @staticmethod
    def resolve_due(obj: Case) -> dt.date | None:
        if isinstance(obj, dict):
            return obj["due"]
        return selectors.case_due(obj)

    @staticmethod
    def resolve_overdue(obj: Case) -> bool:
        if isinstance(obj, dict):
            return obj["overdue"]
        return selectors.case_is_overdue(obj)

    @staticmethod
    def resolve_amount(obj: Case) -> str | None:
        if isinstance(obj, dict):
            return obj["amount"]
        decision = obj.current_decision
        return str(decision.amount) if decision else None

    @staticmethod
    def build(case: Case) -> dict[str, Any]:
        decision = case.current_decision
        return {
            "id": case.pk,
            "number": case.number,
            "household_no": case.household.household_no,
            "village_code": case.household.village.code,
            "circumstance": case.circumstance,
            "period": case.period,
            "source": case.source,
            "state": case.state,
            "version": case.version,
            "entered_at": case.entered_at,
            "due": selectors.case_due(case),
            "overdue": selectors.case_is_overdue(case),
            "amount": str(decision.amount) if decision else None,
        }


class EventOut(Schema):
    at: dt.datetime
    actor: str | None
    action: str
    from_state: str
    to_state: str
    reason: str


class ActionOut(Schema):
    name: str
    refusal: str | None


class DecisionOut(Schema):
    round: int
    kind: str
    eligible: bool
    amount: str
    parameter_version: str
    supersedes_round: int | None
    inputs: dict
    explanation: dict


class CaseDetailOut(CaseOut):
    timeline: list[EventOut]
    actions: list[ActionOut]
    decisions: list[DecisionOut]


def _detail(case: Case, user: Any) -> dict[str, Any]:
    out = CaseOut.build(case)
    out["timeline"] = [
        {
            "at": e.at,
            "actor": e.actor.username if e.actor else None,
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "reason": e.reason,
        }
        for e in selectors.case_timeline(case)
    ]
    out["actions"] = [
        {"name": a.name, "refusal": a.refusal} for a in selectors.case_actions(case, user)
    ]
    out["decisions"] = [
        {
            "round": d.round,
            "kind": d.kind,
            "eligible": d.eligible,
            "amount": str(d.amount),
            "parameter_version": d.parameter_version,
            "supersedes_round": d.supersedes.round if d.supersedes_id else None,
            "inputs": d.inputs,
            "explanation": d.explanation,
        }
        for d in case.decisions.select_related("supersedes").order_by("round")
    ]
    return out


@router.get("/", response=list[CaseOut])
@paginate(PageNumberPagination, page_size=50)
def case_list(request: HttpRequest, state: str = "", queue: bool = False):
    """Cases in the caller's region; ``queue=true``: what waits for the caller, oldest first."""
    _require(request, "cases.view")
    qs = (
        selectors.case_queue(request.user)
        if queue
        else selectors.cases_visible(request.user).order_by("-opened_at", "-id")
    )
    if state:
        qs = qs.filter(state=state)
    return qs


class IntakeIn(Schema):
    household_no: str
    circumstance: str
    period: int
    source: str
    description: str = ""
    amount_claimed: str | None = None
    reference: str = ""


class IntakeOut(Schema):
    case: CaseOut
    joined: bool


@router.post("/", response={201: IntakeOut, 200: IntakeOut})
def case_open(request: HttpRequest, body: IntakeIn):
    _require(request, "cases.open")
    household = (
        permissions.scope_filter(
            request.user, Household.objects.select_related("village"), "village__path"
        )
        .filter(household_no=body.household_no)
        .first()
    )
    if household is None:
        raise HttpError(404, "no such household in your region (不在您的辖区内或不存在)")
    try:
        case, joined = services.case_open(
            household=household,
            circumstance=body.circumstance,
            period=body.period,
            source=body.source,
            description=body.description,
            amount_claimed=body.amount_claimed,
            reference=body.reference,
            actor=request.user,
        )
    except services.CaseError as exc:
        raise HttpError(422, exc.message) from None
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return Status(200 if joined else 201, {"case": CaseOut.build(case), "joined": joined})


@router.get("/{pk}", response=CaseDetailOut)
def case_get(request: HttpRequest, pk: int):
    case = _case(request, pk)
    return _detail(case, request.user)


class TransitionIn(Schema):
    reason: str = ""
    version: int | None = None
    data: dict = {}


@router.post("/{pk}/transitions/{name}", response=CaseDetailOut)
def case_transition(request: HttpRequest, pk: int, name: str, body: TransitionIn):
    """Take one workflow step (``workflow.TRANSITIONS``) on the case."""
    case = _case(request, pk)
    if name not in workflow.TRANSITIONS:
        raise HttpError(404, f"unknown step {name!r}")
    try:
        services.case_transition(
            case=case,
            transition=name,
            actor=request.user,
            reason=body.reason,
            data=body.data,
            version=body.version,
        )
    except services.CaseError as exc:
        raise HttpError(422, exc.message) from None
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return _detail(Case.objects.get(pk=pk), request.user)


class ObjectionIn(Schema):
    text: str


class ResolutionIn(Schema):
    resolution: str


@router.post("/{pk}/objections", response={201: dict})
def objection_record(request: HttpRequest, pk: int, body: ObjectionIn):
    case = _case(request, pk)
    try:
        o = services.objection_record(case=case, text=body.text, actor=request.user)
    except services.CaseError as exc:
        raise HttpError(422, exc.message) from None
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return Status(201, {"id": o.pk})


@router.post("/{pk}/objections/{objection_id}/resolve", response=dict)
def objection_resolve(request: HttpRequest, pk: int, objection_id: int, body: ResolutionIn):
    case = _case(request, pk)
    objection = case.objections.filter(pk=objection_id).first()
    if objection is None:
        raise HttpError(404, "no such objection")
    try:
        services.objection_resolve(
            objection=objection, resolution=body.resolution, actor=request.user
        )
    except services.CaseError as exc:
        raise HttpError(422, exc.message) from None
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return {"id": objection.pk, "resolved": True}


@router.post("/{pk}/evidence", response={201: dict})
def evidence_add(request: HttpRequest, pk: int, kind: Form[str], file: File[UploadedFile]):
    case = _case(request, pk)
    try:
        e = services.evidence_add(case=case, upload=file, kind=kind, actor=request.user)
    except services.CaseError as exc:
        raise HttpError(422, exc.message) from None
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return Status(201, {"id": e.pk, "content_type": e.content_type, "size": e.size})
