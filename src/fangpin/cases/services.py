"""Writes on relief cases. Every function is keyword-only, atomic, and writes its audit
row (``fangpin.common.audit``) in the same transaction as the change.

``case_transition`` is the one way a case changes state: it checks the permission
(role and region scope), the workflow's guard, then updates the row only if its
``version`` is still the one the caller saw, so two users acting at once cannot
both succeed. Refusals raise ``CaseError`` with a readable message (English +
Chinese) and the field it concerns.

Beside it: ``claims`` (what one cap is counted over), ``steps`` (what a step records),
``decisions`` (the relief amount, its rounds and payment), ``errors`` (the refusals).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.common.audit import Action, audit_record
from fangpin.common.clock import today
from fangpin.common.money import Money
from fangpin.policy import spec
from fangpin.registry.models import Household
from fangpin.registry.services import household_register

from . import workflow
from .claims import claim_check
from .decisions import case_deciding_date, paid_this_year, relief_for  # noqa: F401 (the API)
from .errors import (  # noqa: F401 (refusals the callers and tests name as services.X)
    ERR_AMOUNT,
    ERR_CHANGED,
    ERR_CIRCUMSTANCE,
    ERR_EVENT_DATE_REQUIRED,
    ERR_EVIDENCE_KIND,
    ERR_FILE_EMPTY,
    ERR_FILE_SIZE,
    ERR_FILE_TYPE,
    ERR_MEMBER_NOT_IN_HOUSEHOLD,
    ERR_NO_HOUSEHOLD,
    ERR_NOT_EDITABLE,
    ERR_NOT_IN_NOTICE,
    ERR_OBJECTION_DONE,
    ERR_OVERRIDE_ROLE,
    ERR_PERIOD,
    ERR_REASON,
    ERR_REJECT_ROLE,
    ERR_SOURCE,
    ERR_WARNING_NOT_OPEN,
    CaseError,
    HouseholdNotFound,
    money_input,
)
from .models import Case, Evidence, EvidenceKind, Intake, Objection, Source
from .steps import StepRun, case_comparison  # noqa: F401 (the case page's preview)
from .workflow import State

EVIDENCE_MAX_BYTES_DEFAULT = 10 * 1024 * 1024
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"%PDF-", "application/pdf", ".pdf"),
)


def _require(actor: Any, action: str, obj: Any = None) -> None:
    permissions.require(actor, action, obj)


def _audit(case: Case, *, actor: Any, action: str, **kw: Any) -> None:
    audit_record(actor=actor, action=action, obj=case, region_path=case.region_path, **kw)


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
    warning: Any = None,
) -> tuple[Case, bool]:
    """Bring a household's hardship in; (case, joined).

    ``member_id_number`` is the student or the injured person, ``event_date`` the day of
    the event; which of them a circumstance needs follows from its cap scope (a policy
    parameter: per household and year, per student and year, per event); ``warning``: the
    screening warning it comes from (``case_open_from_warning``). An intake for a
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
        or not (2000 <= period <= today().year)
    ):
        raise CaseError(ERR_PERIOD, field="period")
    claimed = (
        None if amount_claimed in (None, "") else money_input(amount_claimed, "amount_claimed")
    )
    member, event_date, key = claim_check(
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
        warning=warning,
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
        action=Action.CASE_JOINED if joined else Action.CASE_OPENED,
        to_state="" if joined else case.state,
        reason=description or "",
        data={"source": source, "reference": reference, "intake": intake.pk},
    )
    return case, joined


@dataclass(frozen=True)
class Intaken:
    """What an intake did: its case, the household, whether it joined an open case and
    whether the household was registered with it."""

    case: Case
    household: Household
    joined: bool = False
    registered: bool = False


@transaction.atomic
def case_intake(
    *,
    actor: Any,
    household_no: str = "",
    registration: dict[str, Any] | None = None,
    evidence: Any = None,
    evidence_kind: str = "",
    **case_fields: Any,
) -> Intaken:
    """Intake (受理) as the intake page and the API take it, all or nothing in one
    transaction: the registered household ``household_no`` (in the actor's region), or a
    new one registered from ``registration`` — the keyword arguments of
    ``registry.services.household_register`` (village, head, members, household_no,
    household_type, bank, bank_account), whose ``RegistryError`` names every bad field; its
    case opened or joined (``case_open``, ``case_fields``); the evidence uploaded with it,
    if any. A refused case or evidence leaves no household behind."""
    if registration is not None:
        source = case_fields.get("source", "")
        household = household_register(actor=actor, source=f"cases.intake:{source}", **registration)
        case, joined = case_open(household=household, actor=actor, **case_fields)
    else:
        household = (
            permissions.scope_filter(
                actor, Household.objects.select_related("village"), "village__path"
            )
            .filter(household_no=household_no.strip())
            .first()
        )
        if household is None:
            raise HouseholdNotFound(ERR_NO_HOUSEHOLD, field="household_no")
        case, joined = case_open(household=household, actor=actor, **case_fields)
    if evidence:
        evidence_add(
            case=case, upload=evidence, kind=evidence_kind or EvidenceKind.OTHER, actor=actor
        )
    return Intaken(case, household, joined=joined, registered=registration is not None)


@transaction.atomic
def case_open_from_warning(*, warning: Any, actor: Any) -> list[tuple[Case, Money | None]]:
    """Open the relief cases of a screening warning still to be worked (new, or checking:
    部门筛查预警 → 立案) and confirm it (``screening.triage.warning_confirm``).

    One case per claim of the warning (``claims.warning_claims``: each student, each
    accident; one for a household-year circumstance), each joining a case already open for
    the same claim; each intake names the warning. (case, the claim's self-paid amount as
    the feeds show it) for each.
    """
    from fangpin.screening.models import Warning
    from fangpin.screening.triage import TRANSITIONS, warning_confirm

    from .claims import warning_claims

    locked = Warning.objects.select_for_update().select_related("household").get(pk=warning.pk)
    if TRANSITIONS["confirm"].refusal(locked.status) is not None:
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
            warning=locked,
        )
        # a household-year claim is the whole warning: its self-paid amount is the warning's
        opened.append((case, claim.self_paid if claim.self_paid is not None else locked.self_paid))
    warning_confirm(warning=locked, actor=actor, cases=sorted({case.pk for case, _ in opened}))
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
        action=Action.EVIDENCE_ADDED,
        reason=name,
        data={"evidence": evidence.pk, "kind": kind, "size": upload.size},
    )
    return evidence


def evidence_opened(*, case: Case, evidence: Evidence, actor: Any) -> None:
    """A download of evidence (invoices, discharge summaries: health data) is audited."""
    _audit(
        case,
        actor=actor,
        action=Action.EVIDENCE_DOWNLOADED,
        reason=evidence.original_name,
        data={"evidence": evidence.pk, "kind": evidence.kind},
    )


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
    _audit(case, actor=actor, action=Action.OBJECTION_RECORDED, reason=objection.text)
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
    _audit(case, actor=actor, action=Action.OBJECTION_RESOLVED, reason=objection.resolution)
    return objection


# --- the one way a case moves -----------------------------------------------------------------


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
    transaction. ``version`` is the version the user saw (default: the one loaded).

    What the step writes is declared with it in ``workflow.TRANSITIONS`` (``record``,
    ``effect``, ``after``); this function only runs them in order around the checks."""
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
    run = StepRun(
        actor=actor, reason=(reason or "").strip(), data=dict(data or {}), target=t.target
    )
    if t.may_take is not None and (refusal := t.may_take(case, actor)) is not None:
        raise CaseError(refusal, field="reason")
    if t.needs_reason and not run.reason:
        raise CaseError(ERR_REASON, field="reason")
    if case.state in t.sources:
        duty = workflow.duty_refusal(case, transition, actor)
        if duty is not None:
            raise CaseError(duty, field="state")
        if t.record is not None:
            t.record(case, run)
    refusal = t.refusal(case, today())
    if refusal is not None:
        raise CaseError(refusal, field="state")
    source = case.state
    if t.effect is not None:
        t.effect(case, run)
    if run.target != t.target and run.target not in t.also_to:  # only where it is declared
        raise ValueError(f"{transition} may not lead to {run.target}")
    case.state = run.target
    case.entered_at = timezone.now()
    if transition in workflow.APPROVAL_STEPS:
        case.last_approval = transition
        case.last_approval_by = actor if getattr(actor, "pk", None) else None
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
    if t.after is not None:
        t.after(case, run)
    _audit(
        case,
        actor=actor,
        action=t.event,
        from_state=source,
        to_state=case.state,
        reason=run.reason,
        data={**run.audit, **{k: _jsonable(v) for k, v in run.data.items()}},
    )
    return case


def _jsonable(value: Any) -> Any:
    if isinstance(value, (Money, Decimal, dt.date)):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return value


def case_payment_sync(*, case: Case, actor: Any) -> Case:
    """Move a case whose fund payment has succeeded to "paid" (a no-op otherwise)."""
    if case.state != State.PAYMENT_REQUESTED:
        return case
    if workflow.TRANSITIONS["payment_paid"].refusal(case, today()) is not None:
        return case
    return case_transition(case=case, transition="payment_paid", actor=actor)
