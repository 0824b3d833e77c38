"""Cases API (救助案件), mounted at ``/api/v1/cases``: the same services as the pages.

A case outside the caller's scope is not found (404); an action the role may not
take is refused (403); a refused step or bad input answers 422 with the
service's message and changes nothing — the API's one handler of ``DomainError`` and
``PermissionDenied`` (``fangpin.config.api``) answers both.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Field, File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from fangpin.accounts import permissions
from fangpin.common import clock
from fangpin.common.api import NOT_FOUND, answers
from fangpin.common.idnumber import mask_id_number
from fangpin.common.pages import PageRows, paginated
from fangpin.registry.services import MemberIn as RegistryMemberIn
from fangpin.registry.services import RegistryError

from . import selectors, services, workflow
from .models import Case, Decision

router = Router(tags=["cases"])


def _case(request: HttpRequest, pk: int) -> Case:
    permissions.require(request.user, "cases.view")
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
    member: str  # the student or injured person, masked (脱敏)
    event_date: dt.date | None
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
    def resolve_member(obj: Case) -> str:
        if isinstance(obj, dict):
            return obj["member"]
        return mask_id_number(obj.member_id_number) if obj.member_id_number else ""

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
    def build(
        case: Case, *, due: dt.date | None = None, overdue: bool | None = None
    ) -> dict[str, Any]:
        if hasattr(case, "current_decisions"):  # prefetched for a page (``case_rows``)
            decision = case.current_decisions[0] if case.current_decisions else None
        else:
            decision = case.current_decision
        if overdue is None:
            due, overdue = selectors.case_due(case), selectors.case_is_overdue(case)
        return {
            "id": case.pk,
            "number": case.number,
            "household_no": case.household.household_no,
            "village_code": case.household.village.code,
            "circumstance": case.circumstance,
            "period": case.period,
            "member": mask_id_number(case.member_id_number) if case.member_id_number else "",
            "event_date": case.event_date,
            "source": case.source,
            "state": case.state,
            "version": case.version,
            "entered_at": case.entered_at,
            "due": due,
            "overdue": overdue,
            "amount": str(decision.amount) if decision else None,
        }


def case_rows(qs: Any) -> PageRows:
    """A case list for ninja's pagination that builds only the rows of the page it slices:
    one query for the page, its households and current decisions prefetched, the deadlines
    computed with one read of the holidays (``selectors.case_rows``)."""
    qs = qs.prefetch_related(
        Prefetch(
            "decisions",
            queryset=Decision.objects.filter(superseded_by__isnull=True).order_by("-round"),
            to_attr="current_decisions",
        )
    )

    def build(cases: list[Case]) -> list[dict[str, Any]]:
        rows = selectors.case_rows(cases, clock.today())
        return [CaseOut.build(c, due=due, overdue=overdue) for c, due, overdue in rows]

    return PageRows(qs, build)


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
    exclusions: list[str]
    exclusions_override: str
    comparison: dict  # data comparison (信息比对): rows per feed, matching rows, no-data feeds
    timeline: list[EventOut]
    actions: list[ActionOut]
    decisions: list[DecisionOut]


def _detail(case: Case, user: Any) -> dict[str, Any]:
    out = CaseOut.build(case)
    out["exclusions"] = list(case.exclusions or [])
    out["exclusions_override"] = case.exclusions_override
    comparison = dict(case.comparison or {})
    if comparison.get("matches"):  # the persons the feeds matched: masked, as on the page
        comparison["matches"] = [
            {**m, "id_number": mask_id_number(m.get("id_number", ""))}
            for m in comparison["matches"]
        ]
    out["comparison"] = comparison
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


@router.get("/", response=answers(list[CaseOut]))
@paginated(page_size=50)
def case_list(request: HttpRequest, state: str = "", queue: bool = False):
    """Cases in the caller's region; ``queue=true``: what waits for the caller, oldest first."""
    permissions.require(request.user, "cases.view")
    if queue:
        return case_rows(selectors.case_queue(request.user, state=state))
    return case_rows(selectors.case_list(request.user, state=state))


class MemberIn(Schema):
    name: str
    id_number: str
    relation: str = ""
    labour: str = ""
    sex: str = ""  # M/F (男/女); when given it must agree with the ID number
    birth_date: dt.date | None = None  # when given it must agree with the ID number


class NewHouseholdIn(Schema):
    """A household not yet in the registry (新登记户), registered with the case."""

    village_code: str
    head: MemberIn
    members: list[MemberIn] = []
    household_no: str = ""  # empty: assigned (<village code>-R<n>)
    household_type: str = "ordinary"
    bank: str = ""
    bank_account: str = ""


class IntakeIn(Schema):
    household_no: str = ""  # a registered household; or give ``household`` instead
    household: NewHouseholdIn | None = None
    circumstance: str
    period: int
    source: str
    description: str = ""
    amount_claimed: str | None = None
    reference: str = ""
    member_id_number: str = Field(
        "",
        description=(
            "The member the claim is about: the student (education) or the injured person "
            "(accident) — required for those, whose caps count per student and year and per "
            "event; a member of the household. 救助对象（学生或受伤人员）身份证号"
        ),
        examples=["130434200506150029"],
    )
    event_date: dt.date | None = Field(
        None,
        description=(
            "The day of the event: required for an accident (one cap per person and event); "
            "optional otherwise (medical: admission or discharge; education: the school "
            "year's start). Its parameters decide the case. 发生日期"
        ),
        examples=["2026-03-14"],
    )


class IntakeOut(Schema):
    case: CaseOut
    joined: bool
    household_registered: bool = False


ERR_HOUSEHOLD_CHOICE = (
    "give household_no of a registered household or a new household, not both "
    "(户编号与新登记户二选一)"
)


def _member(m: MemberIn) -> RegistryMemberIn:
    return RegistryMemberIn(**m.model_dump())


@router.post("/", response=answers({201: IntakeOut, 200: IntakeOut}, NOT_FOUND))
def case_open(request: HttpRequest, body: IntakeIn):
    """Intake: a registered household by ``household_no``, or a new one in ``household``
    (registered and its case opened in one transaction; 422 names every bad field)."""
    permissions.require(request.user, "cases.open")
    case_fields = {
        "circumstance": body.circumstance,
        "period": body.period,
        "source": body.source,
        "description": body.description,
        "amount_claimed": body.amount_claimed,
        "reference": body.reference,
        "member_id_number": body.member_id_number,
        "event_date": body.event_date,
        "actor": request.user,
    }
    if bool(body.household_no) == (body.household is not None):
        raise HttpError(422, ERR_HOUSEHOLD_CHOICE)
    new = body.household
    registration = None
    if new is not None:
        registration = {
            "village": new.village_code,
            "head": _member(new.head),
            "members": [_member(m) for m in new.members],
            "household_no": new.household_no,
            "household_type": new.household_type,
            "bank": new.bank,
            "bank_account": new.bank_account,
        }
    try:
        intaken = services.case_intake(
            household_no=body.household_no or "", registration=registration, **case_fields
        )
    except services.HouseholdNotFound:
        raise HttpError(404, "no such household in your region (不在您的辖区内或不存在)") from None
    except RegistryError as exc:
        raise HttpError(
            422, "; ".join(f"household.{p.field}: {p.message}" for p in exc.problems)
        ) from None
    out = {"case": CaseOut.build(intaken.case), "joined": intaken.joined}
    if intaken.registered:
        return Status(201, {**out, "household_registered": True})
    return Status(200 if intaken.joined else 201, out)


@router.get("/{pk}", response=answers(CaseDetailOut, NOT_FOUND))
def case_get(request: HttpRequest, pk: int):
    case = _case(request, pk)
    return _detail(case, request.user)


class TransitionIn(Schema):
    reason: str = ""
    version: int | None = None
    data: dict = {}


@router.post("/{pk}/transitions/{name}", response=answers(CaseDetailOut, NOT_FOUND))
def case_transition(request: HttpRequest, pk: int, name: str, body: TransitionIn):
    """Take one workflow step (``workflow.TRANSITIONS``) on the case."""
    case = _case(request, pk)
    if name not in workflow.TRANSITIONS:
        raise HttpError(404, f"unknown step {name!r}")
    services.case_transition(
        case=case,
        transition=name,
        actor=request.user,
        reason=body.reason,
        data=body.data,
        version=body.version,
    )
    return _detail(Case.objects.get(pk=pk), request.user)


class ObjectionIn(Schema):
    text: str


class ResolutionIn(Schema):
    resolution: str


@router.post("/{pk}/objections", response=answers({201: dict}, NOT_FOUND))
def objection_record(request: HttpRequest, pk: int, body: ObjectionIn):
    case = _case(request, pk)
    o = services.objection_record(case=case, text=body.text, actor=request.user)
    return Status(201, {"id": o.pk})


@router.post("/{pk}/objections/{objection_id}/resolve", response=answers(dict, NOT_FOUND))
def objection_resolve(request: HttpRequest, pk: int, objection_id: int, body: ResolutionIn):
    case = _case(request, pk)
    objection = case.objections.filter(pk=objection_id).first()
    if objection is None:
        raise HttpError(404, "no such objection")
    services.objection_resolve(objection=objection, resolution=body.resolution, actor=request.user)
    return {"id": objection.pk, "resolved": True}


@router.post("/{pk}/evidence", response=answers({201: dict}, NOT_FOUND))
def evidence_add(request: HttpRequest, pk: int, kind: Form[str], file: File[UploadedFile]):
    case = _case(request, pk)
    e = services.evidence_add(case=case, upload=file, kind=kind, actor=request.user)
    return Status(201, {"id": e.pk, "content_type": e.content_type, "size": e.size})
