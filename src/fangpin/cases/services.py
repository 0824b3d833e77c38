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
from fangpin.common.idnumber import id_number_problem, normalize_id_number
from fangpin.common.money import Money, round_fen, to_decimal
from fangpin.funds.services import FundError, payment_request
from fangpin.policy import spec
from fangpin.policy.loader import PolicyInputError, parameter_value, parameters_default
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
ERR_WARNING_NOT_OPEN = "this warning has been dealt with already (该预警已处理)"
ERR_POLICY = "the policy engine cannot evaluate this case: {field}: {message} (无法测算)"
ERR_MEMBER_REQUIRED = "give the ID number of the {who} (请填写{who_zh}的身份证号)"
ERR_MEMBER_NOT_IN_HOUSEHOLD = (
    "{masked} is not a member of household {household_no} (该身份证号不是本户成员)"
)
ERR_EVENT_DATE_REQUIRED = "give the date of the accident or disaster (请填写事故或灾害发生日期)"
ERR_EVENT_DATE = (
    "the date of the event must lie in {first} – {last} and not in the future "
    "(发生日期须在 {first} 至 {last} 之间且不晚于今天)"
)
ERR_REVIEW_DATE = (
    "the review date must lie between the day the case was opened ({opened}) and today "
    "(评议日期须在受理日 {opened} 与今天之间)"
)
ERR_ATTENDEES = "attendees must be a whole number from 1 to {max} (参会人数须为1至{max}的整数)"
ERR_MEMBERS_MAX = "verified members must be from 1 to {max} (核实人口须为1至{max}人)"
ERR_AMOUNT_MAX = (
    "{field_zh} {value} is above the largest amount a case may carry, {max} yuan "
    "({field_zh}超过上限)"
)

EVIDENCE_MAX_BYTES_DEFAULT = 10 * 1024 * 1024
# sense checks on what a step records (not policy: a bound no real household reaches)
MAX_ATTENDEES = 1000
MAX_MEMBERS = 50
MAX_CASE_AMOUNT = Money("10000000.00")  # ten million yuan: income, self-paid or loss
AMOUNT_FIELDS_ZH = {
    "verified_income": "核实年收入",
    "verified_self_paid": "核实自付金额",
    "adjusted_self_paid": "核损自付金额",
    "amount_claimed": "申报金额",
}
# who a cap scope's claim is about (spec.CAP_SCOPES), in the intake's messages
SCOPE_MEMBER = {
    "student_year": ("student", "学生"),
    "event": ("injured or affected person", "受灾或受伤人员"),
}
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
    # the bound first: rounding 1e30 to the fen overflows Decimal's precision
    if amount < 0 or amount > spec.MAX_AMOUNT or amount != round_fen(amount):
        raise CaseError(ERR_AMOUNT.format(value=value), field=field)
    if amount > MAX_CASE_AMOUNT.amount:
        raise CaseError(
            ERR_AMOUNT_MAX.format(
                field_zh=AMOUNT_FIELDS_ZH.get(field, field), value=value, max=MAX_CASE_AMOUNT
            ),
            field=field,
        )
    return Money(amount)


def _audit(case: Case, *, actor: Any, action: str, **kw: Any) -> None:
    audit_record(actor=actor, action=action, obj=case, region_path=case.region_path, **kw)


def county_of(household: Household) -> Region:
    codes = household.village.path.strip("/").split("/")
    return Region.objects.get(code__in=codes, level=Level.COUNTY)


# --- claims: what one cap is counted over ------------------------------------------------------


def deciding_date(*, period: int, event_date: dt.date | None) -> dt.date:
    """The date whose parameters decide a case: the event's date (the accident, the admission,
    the school year's start) when given, else the last day of the case's year — the date the
    screening of that year reads its parameters on (``screening.expression``)."""
    return event_date if event_date is not None else dt.date(period, 12, 31)


def cap_scope(*, county_code: str, circumstance: str, on: dt.date) -> str:
    """The circumstance's cap scope in force (``spec.CAP_SCOPES``), a policy parameter."""
    try:
        force = parameters_default().in_force(county_code, on)
    except PolicyInputError as exc:
        raise CaseError(
            ERR_POLICY.format(field=exc.field, message=exc.message), field="period"
        ) from None
    return str(force.value(spec.cap_scope_path(circumstance)))


def claim_key(*, scope: str, member_id_number: str, event_date: dt.date | None) -> str:
    """Which cases share one cap: "" for the household's year, the student for a student's
    year, the person and the day for one event."""
    if scope == "student_year":
        return member_id_number
    if scope == "event":
        return f"{member_id_number}@{event_date.isoformat()}"
    return ""


def _claim(
    *,
    household: Household,
    circumstance: str,
    period: int,
    member_id_number: str,
    event_date: Any,
) -> tuple[str, dt.date | None, str]:
    """Check the claim's person and date against the cap scope; (member, event date, key)."""
    if isinstance(event_date, str):
        try:
            event_date = dt.date.fromisoformat(event_date) if event_date.strip() else None
        except ValueError:
            event_date = dt.date.min  # refused below with the allowed range
    if event_date is not None:
        first, last = dt.date(period - 1, 1, 1), min(dt.date(period, 12, 31), _today())
        if not (first <= event_date <= last):
            raise CaseError(ERR_EVENT_DATE.format(first=first, last=last), field="event_date")
    on = deciding_date(period=period, event_date=event_date)
    scope = cap_scope(county_code=county_of(household).code, circumstance=circumstance, on=on)
    member = normalize_id_number(member_id_number or "")
    if scope in SCOPE_MEMBER and not member:
        who, who_zh = SCOPE_MEMBER[scope]
        raise CaseError(
            ERR_MEMBER_REQUIRED.format(who=who, who_zh=who_zh), field="member_id_number"
        )
    if member:
        problem = id_number_problem(member)
        if problem:
            raise CaseError(problem, field="member_id_number")
        if not Member.objects.filter(household=household, id_number=member).exists():
            raise CaseError(
                ERR_MEMBER_NOT_IN_HOUSEHOLD.format(
                    masked=Member(id_number=member).masked_id_number,
                    household_no=household.household_no,
                ),
                field="member_id_number",
            )
    if scope == "event" and event_date is None:
        raise CaseError(ERR_EVENT_DATE_REQUIRED, field="event_date")
    return (
        member,
        event_date,
        claim_key(scope=scope, member_id_number=member, event_date=event_date),
    )


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
    member_id_number: str = "",
    event_date: dt.date | str | None = None,
) -> tuple[Case, bool]:
    """Bring a household's hardship in; (case, joined).

    ``member_id_number`` is the student or the injured person, ``event_date`` the day of
    the event; which of them a circumstance needs follows from its cap scope (a policy
    parameter: per household and year, per student and year, per event). An intake for a
    claim that has an open case — same household, circumstance, period and claim key —
    joins it (a new ``Intake`` row); a second student or a second accident opens its own.
    """
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
    member, event_date, key = _claim(
        household=household,
        circumstance=circumstance,
        period=period,
        member_id_number=member_id_number,
        event_date=event_date,
    )
    same_claim = {
        "household": household,
        "circumstance": circumstance,
        "period": period,
        "claim_key": key,
        "is_open": True,
    }
    existing = Case.objects.select_for_update().filter(**same_claim).first()
    joined = existing is not None
    if existing is None:
        case = Case(
            household=household,
            region_path=household.village.path,
            circumstance=circumstance,
            period=period,
            member_id_number=member,
            event_date=event_date,
            claim_key=key,
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
            case = Case.objects.get(**same_claim)
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
    member_id_number: str = "",
    event_date: dt.date | str | None = None,
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
        member_id_number=member_id_number,
        event_date=event_date,
    )
    return case, household


@transaction.atomic
def case_open_from_warning(*, warning: Any, actor: Any) -> list[tuple[Case, Money | None]]:
    """Open the relief cases of an open screening warning (部门筛查预警 → 立案) and mark it.

    One case per claim of the warning (``claims.warning_claims``: each student, each
    accident; one for a household-year circumstance), each joining a case already open for
    the same claim. (case, the claim's self-paid amount as the feeds show it) for each.
    """
    from fangpin.screening.models import Warning, WarningStatus

    from .claims import warning_claims

    locked = Warning.objects.select_for_update().select_related("household").get(pk=warning.pk)
    if locked.status != WarningStatus.OPEN:
        raise CaseError(ERR_WARNING_NOT_OPEN, field="warning")
    opened = []
    for claim in warning_claims(
        circumstance=locked.circumstance, year=locked.year, feed_refs=locked.feed_refs
    ):
        case, _joined = case_open(
            household=locked.household,
            circumstance=locked.circumstance,
            period=locked.year,
            source=Source.WARNING,
            actor=actor,
            reference=str(locked.pk),
            description=f"screening warning {locked.pk} (筛查预警)",
            member_id_number=claim.member_id_number,
            event_date=claim.event_date,
        )
        # a household-year claim is the whole warning: its self-paid amount is the warning's
        opened.append((case, claim.self_paid if claim.self_paid is not None else locked.self_paid))
    locked.status = WarningStatus.CASE_OPENED
    locked.decided_by = actor if getattr(actor, "pk", None) else None
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="screening.warning.case_opened",
        obj=locked,
        region_path=locked.region_path,
        from_state=WarningStatus.OPEN,
        to_state=WarningStatus.CASE_OPENED,
        data={"cases": [case.pk for case, _ in opened]},
    )
    return opened


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
        except (TypeError, ValueError, OverflowError):
            raise CaseError(ERR_MEMBERS, field="verified_members") from None
        if members < 1:
            raise CaseError(ERR_MEMBERS, field="verified_members")
        if members > MAX_MEMBERS:
            raise CaseError(ERR_MEMBERS_MAX.format(max=MAX_MEMBERS), field="verified_members")
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
    if not isinstance(review_date, dt.date) or attendees in (None, "") or not result:
        raise CaseError(ERR_REVIEW, field="review_date")
    opened = timezone.localdate(case.opened_at)
    if not (opened <= review_date <= _today()):
        raise CaseError(ERR_REVIEW_DATE.format(opened=opened), field="review_date")
    try:
        attendees = int(attendees)
    except (TypeError, ValueError, OverflowError):
        attendees = 0
    if not (1 <= attendees <= MAX_ATTENDEES):
        raise CaseError(ERR_ATTENDEES.format(max=MAX_ATTENDEES), field="review_attendees")
    case.review_date, case.review_attendees, case.review_result = review_date, attendees, result
    case.notice_start = _today()
    # the notice's length is a policy parameter (公示 5 working days), in force when it opens
    days = parameter_value(
        spec.PUBLIC_NOTICE_WORKING_DAYS, on=case.notice_start, county=county_of(case.household).code
    )
    case.notice_end = workdays.notice_end(case.notice_start, days)


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
    if case.state in t.sources:
        duty = workflow.duty_refusal(case, transition, actor)
        if duty is not None:
            raise CaseError(duty, field="state")
        if transition in APPLY:
            APPLY[transition](case, data, actor)
    refusal = t.refusal(case, _today())
    if refusal is not None:
        raise CaseError(refusal, field="state")
    source = case.state
    target = t.target
    extra: dict[str, Any] = {}
    decision: Decision | None = None
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
        if decision.amount.amount == 0:  # relieved in full already: nothing to pay (结案)
            target = State.CLOSED
    elif transition == "loss_determine":
        decision, target = _loss_determine(case, data=data, actor=actor, reason=reason)
    if decision is not None:
        extra = {"decision": decision.pk, "amount": str(decision.amount)}
    if target != t.target and target not in t.also_to:  # a step goes only where it is declared
        raise ValueError(f"{transition} may not lead to {target}")
    case.state = target
    case.entered_at = timezone.now()
    if transition in workflow.APPROVAL_STEPS:
        case.last_approval = transition
        case.last_approval_by = actor if getattr(actor, "pk", None) else None
    if transition == "reject":
        case.rejected_reason = reason
    if transition == "appeal":
        case.appeals += 1
    try:
        case.full_clean(
            exclude=["household", "opened_by", "last_approval_by"], validate_constraints=False
        )
    except ValidationError as exc:
        raise CaseError("; ".join(exc.messages), field="state") from None
    try:
        with transaction.atomic():
            _saved_checked(case, seen, CASE_FIELDS)
    except IntegrityError:  # e.g. reopening beside another open case for the same claim
        raise CaseError(ERR_CHANGED, field="version") from None
    if case.state == State.PAYMENT_REQUESTED and decision is not None:
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
    """Relief already decided for the same claim — household, circumstance, year and claim
    key (the student, the event) — in other cases whose payment was requested or made."""
    total = (
        Decision.objects.filter(
            case__household_id=case.household_id,
            case__circumstance=case.circumstance,
            case__period=case.period,
            case__claim_key=case.claim_key,
            case__state__in=[State.PAYMENT_REQUESTED, State.PAID, State.FOLLOW_UP],
            superseded_by__isnull=True,
        )
        .exclude(case_id=case.pk)
        .aggregate(total=Sum("amount"))["total"]
    )
    if total is None:
        return Money(0)
    # Sum over a MoneyField comes back as Money (its from_db_value)
    return total if isinstance(total, Money) else Money.from_fen(int(total))


def case_deciding_date(case: Case) -> dt.date:
    """The date whose parameters decide the case (``deciding_date``)."""
    return deciding_date(period=case.period, event_date=case.event_date)


def relief_for(case: Case, *, self_paid: Money | None = None, on: dt.date | None = None):
    """The policy engine's result on the case's verified figures, with the parameters in
    force on the case's own date (``case_deciding_date``) unless ``on`` is given."""
    household = case.household
    county = county_of(household)
    inputs = PolicyCase(
        date=on or case_deciding_date(case),
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


def _loss_determine(case: Case, *, data: dict, actor: Any, reason: str) -> tuple[Decision, str]:
    """The insurer confirms the county's decision, or adjusts the verified self-paid amount
    with a reason — which recomputes the relief into a new decision superseding the old.
    (decision, where the case goes): payment for an amount up to the county's; back to the
    county decision when the adjustment raises it (the county decides again on the insurer's
    figures); closed when it comes to 0.00."""
    county = case.current_decision
    decision = county
    adjusted = data.get("adjusted_self_paid")
    if adjusted not in (None, ""):
        amount = _money(adjusted, "adjusted_self_paid")
        if amount != case.verified_self_paid:
            if not reason:
                raise CaseError(ERR_REASON, field="reason")
            case.verified_self_paid = amount
            decision = _decision_create(case, actor=actor, kind=DecisionKind.LOSS, reason=reason)
    if decision.amount.amount > county.amount.amount:
        return decision, State.COUNTY_DECISION
    if decision.amount.amount == 0:
        return decision, State.CLOSED
    return decision, State.PAYMENT_REQUESTED


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
