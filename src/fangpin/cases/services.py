"""Writes on relief cases. Every function is keyword-only, atomic, and writes its audit
row (``fangpin.common.audit``) in the same transaction as the change.

``case_transition`` is the one way a case changes state: it checks the permission
(role and region scope), the workflow's guard, then updates the row only if its
``version`` is still the one the caller saw, so two users acting at once cannot
both succeed. Refusals raise ``CaseError`` with a readable message (English +
Chinese) and the field it concerns.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F, Sum
from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.common.audit import audit_record
from fangpin.common.money import Money, round_fen, to_decimal
from fangpin.funds.services import FundError, payment_request
from fangpin.policy import spec
from fangpin.policy.loader import PolicyInputError
from fangpin.policy.scalar import Case as PolicyCase
from fangpin.policy.scalar import relief_calculate
from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household, Member
from fangpin.registry.services import household_register

from . import comparison, workdays, workflow
from .models import (
    Case,
    Decision,
    DecisionKind,
    Evidence,
    EvidenceKind,
    Intake,
    Objection,
    Source,
)
from .workflow import State

ERR_CHANGED = (
    "someone else changed this case just now; reload it and try again "
    "(案件已被他人修改，请刷新后重试)"
)
ERR_CIRCUMSTANCE = "unknown circumstance {value!r} (致困原因无效)"
ERR_SOURCE = "unknown source {value!r} (案件来源无效)"
ERR_PERIOD = "year must be from 2000 to this year (年度无效)"
ERR_AMOUNT = "amount must be a non-negative yuan amount to the fen (金额无效): {value}"
ERR_MEMBERS = "verified members must be at least 1 (核实人口至少为1)"
ERR_EXCLUSION = "unknown exclusion {value!r} (排除项无效)"
ERR_OVERRIDE_REASON = (
    "clearing exclusions found by data comparison needs a reason (推翻比对结果须填写原因)"
)
ERR_OVERRIDE_ROLE = "only a county officer may override data comparison (仅县级可推翻比对结果)"
ERR_REVIEW = workflow.ERR_REVIEW
ERR_REASON = workflow.ERR_REASON
ERR_NOT_EDITABLE = "this case is decided; nothing can be changed (案件已审定，不能修改)"
ERR_NOT_IN_NOTICE = "objections are recorded during the public notice (仅公示期间可登记异议)"
ERR_OBJECTION_DONE = "this objection is already resolved (该异议已处理)"
ERR_FILE_TYPE = "only JPEG, PNG or PDF files are accepted (仅接受JPEG、PNG或PDF文件): {name}"
ERR_FILE_SIZE = "file is larger than {limit} MB (文件过大): {name}"
ERR_FILE_EMPTY = "the file is empty (文件为空): {name}"
ERR_EVIDENCE_KIND = "unknown evidence kind {value!r} (材料类型无效)"
ERR_REJECT_ROLE = "only the officer of the current step may reject here (仅当前环节经办人可驳回)"
ERR_POLICY = "the policy engine cannot evaluate this case: {field}: {message} (无法测算)"

EVIDENCE_MAX_BYTES_DEFAULT = 10 * 1024 * 1024
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"%PDF-", "application/pdf", ".pdf"),
)


class CaseError(Exception):
    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _today() -> dt.date:
    return timezone.localdate()


def _require(actor: Any, action: str, obj: Any = None) -> None:
    permissions.require(actor, action, obj)


def _money(value: Any, field: str) -> Money:
    try:
        amount = to_decimal(value)
    except (TypeError, ValueError):
        raise CaseError(ERR_AMOUNT.format(value=value), field=field) from None
    if amount < 0 or amount != round_fen(amount) or amount > spec.MAX_AMOUNT:
        raise CaseError(ERR_AMOUNT.format(value=value), field=field)
    return Money(amount)


def _audit(case: Case, *, actor: Any, action: str, **kw: Any) -> None:
    audit_record(actor=actor, action=action, obj=case, region_path=case.region_path, **kw)


def county_of(household: Household) -> Region:
    codes = household.village.path.strip("/").split("/")
    return Region.objects.get(code__in=codes, level=Level.COUNTY)


# --- intake -----------------------------------------------------------------------------------


@transaction.atomic
def case_open(
    *,
    household: Household,
    circumstance: str,
    period: int,
    source: str,
    actor: Any,
    description: str = "",
    amount_claimed: Any = None,
    reference: str = "",
) -> tuple[Case, bool]:
    """Bring a household's hardship in; (case, joined). A duplicate for the same household,
    circumstance and period joins the open case (a new ``Intake`` row) instead."""
    _require(actor, "cases.open", household)
    if source not in Source.values:
        raise CaseError(ERR_SOURCE.format(value=source), field="source")
    if source == Source.WARNING:
        _require(actor, "cases.open_warning", household)
    if circumstance not in spec.CIRCUMSTANCES:
        raise CaseError(ERR_CIRCUMSTANCE.format(value=circumstance), field="circumstance")
    if (
        isinstance(period, bool)
        or not isinstance(period, int)
        or not (2000 <= period <= _today().year)
    ):
        raise CaseError(ERR_PERIOD, field="period")
    claimed = None if amount_claimed in (None, "") else _money(amount_claimed, "amount_claimed")
    existing = (
        Case.objects.select_for_update()
        .filter(household=household, circumstance=circumstance, period=period, is_open=True)
        .first()
    )
    joined = existing is not None
    if existing is None:
        case = Case(
            household=household,
            region_path=household.village.path,
            circumstance=circumstance,
            period=period,
            source=source,
            state=workflow.INITIAL,
            opened_by=actor if getattr(actor, "pk", None) else None,
            entered_at=timezone.now(),
        )
        case.full_clean(validate_constraints=False)  # the database decides a race: join
        try:
            with transaction.atomic():
                case.save()
        except IntegrityError:  # a concurrent intake opened it first: join that one
            case = Case.objects.get(
                household=household, circumstance=circumstance, period=period, is_open=True
            )
            joined = True
    else:
        case = existing
    intake = Intake(
        case=case,
        source=source,
        reference=(reference or "")[:64],
        description=description or "",
        amount_claimed=claimed,
        by=actor if getattr(actor, "pk", None) else None,
    )
    intake.full_clean()
    intake.save()
    _audit(
        case,
        actor=actor,
        action="cases.case.joined" if joined else "cases.case.opened",
        to_state="" if joined else case.state,
        reason=description or "",
        data={"source": source, "reference": reference, "intake": intake.pk},
    )
    return case, joined


@transaction.atomic
def case_open_registering(
    *,
    registration: dict[str, Any],
    circumstance: str,
    period: int,
    source: str,
    actor: Any,
    description: str = "",
    amount_claimed: Any = None,
    reference: str = "",
) -> tuple[Case, Household]:
    """Register a household not yet in the registry and open its case, in one transaction.

    ``registration``: the keyword arguments of ``registry.services.household_register``
    (village, head, members, household_no, household_type, bank, bank_account). Its
    ``RegistryError`` names every bad field; a refused case leaves no household behind.
    """
    household = household_register(actor=actor, source=f"cases.intake:{source}", **registration)
    case, _joined = case_open(
        household=household,
        circumstance=circumstance,
        period=period,
        source=source,
        actor=actor,
        description=description,
        amount_claimed=amount_claimed,
        reference=reference,
    )
    return case, household


# --- evidence ---------------------------------------------------------------------------------


def evidence_check(*, name: str, head: bytes, size: int) -> tuple[str, str]:
    """(content type, extension) of an upload judged by its first bytes and its size."""
    limit = getattr(settings, "FANGPIN_EVIDENCE_MAX_BYTES", EVIDENCE_MAX_BYTES_DEFAULT)
    if size <= 0:
        raise CaseError(ERR_FILE_EMPTY.format(name=name), field="file")
    if size > limit:
        raise CaseError(
            ERR_FILE_SIZE.format(limit=f"{limit / 1024 / 1024:g}", name=name), field="file"
        )
    for magic, content_type, ext in SIGNATURES:
        if head.startswith(magic):
            return content_type, ext
    raise CaseError(ERR_FILE_TYPE.format(name=name), field="file")


@transaction.atomic
def evidence_add(*, case: Case, upload: Any, kind: str, actor: Any) -> Evidence:
    """Attach an image or PDF (checked by its content, not its name) to an undecided case."""
    _require(actor, "cases.evidence", case)
    if kind not in EvidenceKind.values:
        raise CaseError(ERR_EVIDENCE_KIND.format(value=kind), field="kind")
    if case.state not in workflow.EDITABLE_STATES:
        raise CaseError(ERR_NOT_EDITABLE, field="file")
    name = str(getattr(upload, "name", "") or "upload")[:200]
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    content_type, ext = evidence_check(name=name, head=head, size=upload.size)
    from django.core.files.base import File

    evidence = Evidence(
        case=case,
        kind=kind,
        original_name=name,
        content_type=content_type,
        size=upload.size,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
    )
    evidence.file.save(f"case-{case.pk}{ext}", File(upload), save=False)
    evidence.full_clean()
    evidence.save()
    _audit(
        case,
        actor=actor,
        action="cases.evidence.added",
        reason=name,
        data={"evidence": evidence.pk, "kind": kind, "size": upload.size},
    )
    return evidence


# --- objections during the notice -------------------------------------------------------------


@transaction.atomic
def objection_record(*, case: Case, text: str, actor: Any) -> Objection:
    _require(actor, "cases.objection", case)
    if case.state != State.PUBLIC_NOTICE:
        raise CaseError(ERR_NOT_IN_NOTICE, field="text")
    if not (text or "").strip():
        raise CaseError(ERR_REASON, field="text")
    objection = Objection(case=case, text=text.strip(), recorded_by=actor)
    objection.full_clean()
    objection.save()
    _audit(case, actor=actor, action="cases.objection.recorded", reason=objection.text)
    return objection


@transaction.atomic
def objection_resolve(*, objection: Objection, resolution: str, actor: Any) -> Objection:
    objection = Objection.objects.select_for_update().get(pk=objection.pk)
    case = objection.case
    _require(actor, "cases.objection", case)
    if objection.resolved_at is not None:
        raise CaseError(ERR_OBJECTION_DONE, field="resolution")
    if not (resolution or "").strip():
        raise CaseError(ERR_REASON, field="resolution")
    objection.resolution = resolution.strip()
    objection.resolved_by = actor
    objection.resolved_at = timezone.now()
    objection.full_clean()
    objection.save()
    _audit(case, actor=actor, action="cases.objection.resolved", reason=objection.resolution)
    return objection


# --- the one way a case moves -----------------------------------------------------------------


def _apply_household_check(case: Case, data: dict, actor: Any) -> None:
    members = data.get("verified_members", case.verified_members)
    if members is not None:
        try:
            members = int(members)
        except (TypeError, ValueError):
            raise CaseError(ERR_MEMBERS, field="verified_members") from None
        if members < 1:
            raise CaseError(ERR_MEMBERS, field="verified_members")
    case.verified_members = members
    for name in ("verified_income", "verified_self_paid"):
        if data.get(name) not in (None, ""):
            setattr(case, name, _money(data[name], name))
    if "consent_signed" in data:
        case.consent_signed = bool(data["consent_signed"])


def case_comparison(case: Case) -> comparison.Comparison:
    """Data comparison (信息比对) of the case's household against the feeds in the lake."""
    ids = list(
        Member.objects.filter(household_id=case.household_id).values_list("id_number", flat=True)
    )
    return comparison.exclusions_compare(
        id_numbers=ids, year=case.period, county_code=county_of(case.household).code
    )


def _apply_data_compare(case: Case, data: dict, actor: Any) -> None:
    """Exclusions from the feeds (always computed here, never typed in), plus any the officer
    found otherwise (``exclusions``: e.g. seen at the household visit). Only a county officer
    clears them, with a reason (``override_reason``), when a feed is wrong."""
    also = list(data.get("exclusions") or [])
    for value in also:
        if value not in spec.EXCLUSIONS:
            raise CaseError(ERR_EXCLUSION.format(value=value), field="exclusions")
    result = case_comparison(case)
    found = set(result.found) | set(also)
    override = (data.get("override_reason") or "").strip()
    if override:
        if not permissions.can(actor, "cases.exclusions_override", case):
            raise CaseError(ERR_OVERRIDE_ROLE, field="override_reason")
        case.exclusions_override = override
        found = set()
    case.exclusions = sorted(found)
    case.comparison = {
        **result.as_dict(),
        "otherwise": sorted(set(also)),
        "checked_at": timezone.now().isoformat(timespec="seconds"),
    }


def _apply_village_review(case: Case, data: dict, actor: Any) -> None:
    review_date = data.get("review_date")
    attendees = data.get("review_attendees")
    result = (data.get("review_result") or "").strip()
    if isinstance(review_date, str) and review_date:
        try:
            review_date = dt.date.fromisoformat(review_date)
        except ValueError:
            review_date = None
    try:
        attendees = int(attendees) if attendees not in (None, "") else None
    except (TypeError, ValueError):
        attendees = None
    if not isinstance(review_date, dt.date) or not attendees or not result:
        raise CaseError(ERR_REVIEW, field="review_date")
    if review_date > _today():
        raise CaseError(ERR_REVIEW, field="review_date")
    case.review_date, case.review_attendees, case.review_result = review_date, attendees, result
    case.notice_start = _today()
    case.notice_end = workdays.notice_end(case.notice_start, workflow.NOTICE_WORKING_DAYS)


APPLY = {
    "household_check": _apply_household_check,
    "data_compare": _apply_data_compare,
    "village_review": _apply_village_review,
}


def _saved_checked(case: Case, seen_version: int, fields: list[str]) -> None:
    """Write ``fields`` and the next version only if nobody moved the case meanwhile."""
    values = {name: getattr(case, name) for name in fields}
    values["is_open"] = case.state in workflow.OPEN_STATES
    updated = Case.objects.filter(pk=case.pk, version=seen_version).update(
        version=F("version") + 1, **values
    )
    if updated != 1:
        raise CaseError(ERR_CHANGED, field="version")
    case.version = seen_version + 1
    case.is_open = values["is_open"]


CASE_FIELDS = [
    f.name
    for f in Case._meta.concrete_fields
    if f.name not in {"id", "version", "is_open", "opened_at", "household", "opened_by"}
]


@transaction.atomic
def case_transition(
    *,
    case: Case,
    transition: str,
    actor: Any,
    reason: str = "",
    data: dict | None = None,
    version: int | None = None,
) -> Case:
    """Take ``transition`` on ``case`` as ``actor``; the audit row is written in the same
    transaction. ``version`` is the version the user saw (default: the one loaded)."""
    t = workflow.transition_get(transition)
    seen = case.version if version is None else int(version)
    # work on a fresh row: the caller's object is left as it was if the step is refused
    # and lock it: a concurrent step waits here, then sees the new version and is refused
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("household__village")
        .get(pk=case.pk)
    )
    _require(actor, t.action, case)
    if seen != case.version:
        raise CaseError(ERR_CHANGED, field="version")
    data = dict(data or {})
    reason = (reason or "").strip()
    if transition == "reject":
        step = workflow.STEP_OF_STATE.get(case.state)
        if not (
            permissions.can(actor, "cases.county_decide", case)
            or (step is not None and permissions.can(actor, step.action, case))
        ):
            raise CaseError(ERR_REJECT_ROLE, field="reason")
    if transition in {"reject", "appeal"} and not reason:
        raise CaseError(ERR_REASON, field="reason")
    if case.state in t.sources and transition in APPLY:
        APPLY[transition](case, data, actor)
    refusal = t.refusal(case, _today())
    if refusal is not None:
        raise CaseError(refusal, field="state")
    source = case.state
    extra: dict[str, Any] = {}
    if transition == "data_compare":
        extra = {
            "found": case.comparison["found"],
            "no_data": case.comparison["no_data"],
            "matches": [
                {k: m[k] for k in ("exclusion", "feed", "reference", "batch", "source_row")}
                for m in case.comparison["matches"]
            ],
        }
    elif transition == "county_decide":
        decision = _decide(case, actor=actor, kind=DecisionKind.COUNTY, reason=reason)
        extra = {"decision": decision.pk, "amount": str(decision.amount)}
    elif transition == "loss_determine":
        decision = _loss_determine(case, data=data, actor=actor, reason=reason)
        extra = {"decision": decision.pk, "amount": str(decision.amount)}
    case.state = t.target
    case.entered_at = timezone.now()
    if transition == "reject":
        case.rejected_reason = reason
    if transition == "appeal":
        case.appeals += 1
    try:
        case.full_clean(exclude=["household", "opened_by"], validate_constraints=False)
    except ValidationError as exc:
        raise CaseError("; ".join(exc.messages), field="state") from None
    _saved_checked(case, seen, CASE_FIELDS)
    if transition == "loss_determine":
        _payment_request(case, decision, actor)
    _audit(
        case,
        actor=actor,
        action=f"cases.case.{transition}",
        from_state=source,
        to_state=case.state,
        reason=reason,
        data={**extra, **{k: _jsonable(v) for k, v in data.items()}},
    )
    return case


def _jsonable(value: Any) -> Any:
    if isinstance(value, (Money, Decimal, dt.date)):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return value


# --- decisions --------------------------------------------------------------------------------


def paid_this_year(case: Case) -> Money:
    """Relief already decided for the household in the same circumstance and year."""
    total = (
        Decision.objects.filter(
            case__household_id=case.household_id,
            case__circumstance=case.circumstance,
            case__period=case.period,
            case__state__in=[State.PAYMENT_REQUESTED, State.PAID, State.FOLLOW_UP],
            superseded_by__isnull=True,
        )
        .exclude(case_id=case.pk)
        .aggregate(total=Sum("amount"))["total"]
    )
    return Money.from_fen(int(total)) if total is not None else Money(0)


def relief_for(case: Case, *, self_paid: Money | None = None, on: dt.date | None = None):
    """The policy engine's result on the case's verified figures."""
    household = case.household
    county = county_of(household)
    inputs = PolicyCase(
        date=on or _today(),
        county=county.code,
        household_type=household.household_type,
        circumstance=case.circumstance,
        members=int(case.verified_members or 0),
        annual_income=(case.verified_income or Money(0)).amount,
        self_paid=(self_paid if self_paid is not None else case.verified_self_paid).amount,
        paid_this_year=paid_this_year(case).amount,
        exclusions=frozenset(case.exclusions or []),
    )
    try:
        return inputs, relief_calculate(inputs)
    except PolicyInputError as exc:
        raise CaseError(
            ERR_POLICY.format(field=exc.field, message=exc.message), field="state"
        ) from None


def _decision_create(
    case: Case, *, actor: Any, kind: str, reason: str, self_paid: Money | None = None
) -> Decision:
    inputs, result = relief_for(case, self_paid=self_paid)
    if not result.eligible:
        raise CaseError(
            workflow.ERR_NOT_ELIGIBLE.format(reasons="; ".join(result.reasons)), field="state"
        )
    previous = case.current_decision
    last_round = case.decisions.aggregate(m=models.Max("round"))["m"] or 0
    decision = Decision(
        case=case,
        round=last_round + 1,
        kind=kind,
        supersedes=previous,
        eligible=result.eligible,
        amount=Money(result.amount),
        parameter_version=str(result.explanation.parameter_version),
        inputs={
            "date": inputs.date.isoformat(),
            "county": inputs.county,
            "household_type": inputs.household_type,
            "circumstance": inputs.circumstance,
            "members": inputs.members,
            "annual_income": str(inputs.annual_income),
            "self_paid": str(inputs.self_paid),
            "paid_this_year": str(inputs.paid_this_year),
            "exclusions": sorted(inputs.exclusions),
        },
        explanation=result.as_dict(),
        reason=reason,
        decided_by=actor if getattr(actor, "pk", None) else None,
    )
    decision.full_clean(exclude=["supersedes", "payment"], validate_constraints=False)
    try:
        with transaction.atomic():
            decision.save()
    except IntegrityError:
        raise CaseError(ERR_CHANGED, field="version") from None
    return decision


def _decide(case: Case, *, actor: Any, kind: str, reason: str) -> Decision:
    return _decision_create(case, actor=actor, kind=kind, reason=reason)


def _loss_determine(case: Case, *, data: dict, actor: Any, reason: str) -> Decision:
    """The insurer confirms the county's decision, or adjusts the verified self-paid amount
    with a reason — which recomputes the relief into a new decision superseding the old."""
    current = case.current_decision
    adjusted = data.get("adjusted_self_paid")
    if adjusted in (None, ""):
        return current
    amount = _money(adjusted, "adjusted_self_paid")
    if amount == case.verified_self_paid:
        return current
    if not reason:
        raise CaseError(ERR_REASON, field="reason")
    case.verified_self_paid = amount
    return _decision_create(case, actor=actor, kind=DecisionKind.LOSS, reason=reason)


def _payment_request(case: Case, decision: Decision, actor: Any) -> None:
    household = case.household
    try:
        payment = payment_request(
            decision_key=decision.key,
            household=household,
            amount=decision.amount,
            county=county_of(household),
            year=_today().year,
            actor=actor,
        )
    except FundError as exc:
        raise CaseError(exc.message, field=exc.field or "payment") from None
    if decision.payment_id != payment.pk:
        Decision.objects.filter(pk=decision.pk).update(payment=payment)
        decision.payment = payment


def case_payment_sync(*, case: Case, actor: Any) -> Case:
    """Move a case whose fund payment has succeeded to "paid" (a no-op otherwise)."""
    if case.state != State.PAYMENT_REQUESTED:
        return case
    if workflow.TRANSITIONS["payment_paid"].refusal(case, _today()) is not None:
        return case
    return case_transition(case=case, transition="payment_paid", actor=actor)
