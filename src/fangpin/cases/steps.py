"""What each step of the workflow writes on a case (the effects the table in ``workflow``
names): the figures a step records — checked for sense, before the step's guard — and
what taking it changes. ``StepRun`` carries one step's inputs and what it decides: where
the case goes, the decision, the audit row's data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.common.clock import today
from fangpin.policy import spec
from fangpin.policy.loader import parameter_value
from fangpin.registry.models import Member

from . import comparison, workdays
from .claims import county_of
from .errors import (
    ERR_ATTENDEES,
    ERR_EXCLUSION,
    ERR_MEMBERS,
    ERR_MEMBERS_MAX,
    ERR_OVERRIDE_ROLE,
    ERR_REVIEW,
    ERR_REVIEW_DATE,
    MAX_ATTENDEES,
    MAX_MEMBERS,
    CaseError,
    money_input,
)
from .models import Case


@dataclass
class StepRun:
    """One step being taken: who, why, what was entered; where it leads and what it made."""

    actor: Any
    reason: str
    data: dict
    target: str  # the transition's target, unless its effect chooses one of ``also_to``
    decision: Any = None  # the Decision a step made (county decision, loss determination)
    audit: dict = field(default_factory=dict)  # extra data for the step's audit row


def household_check_record(case: Case, run: StepRun) -> None:
    """入户核查: the verified members, income and self-paid amount, and the signed consent."""
    data = run.data
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
            setattr(case, name, money_input(data[name], name))
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


def data_compare_record(case: Case, run: StepRun) -> None:
    """Exclusions from the feeds (always computed here, never typed in), plus any the officer
    found otherwise (``exclusions``: e.g. seen at the household visit). Only a county officer
    clears them, with a reason (``override_reason``), when a feed is wrong."""
    data, actor = run.data, run.actor
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


def village_review_record(case: Case, run: StepRun) -> None:
    """民主评议: date, attendees and result; opens the public notice (公示)."""
    data = run.data
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
    if not (opened <= review_date <= today()):
        raise CaseError(ERR_REVIEW_DATE.format(opened=opened), field="review_date")
    try:
        attendees = int(attendees)
    except (TypeError, ValueError, OverflowError):
        attendees = 0
    if not (1 <= attendees <= MAX_ATTENDEES):
        raise CaseError(ERR_ATTENDEES.format(max=MAX_ATTENDEES), field="review_attendees")
    case.review_date, case.review_attendees, case.review_result = review_date, attendees, result
    case.notice_start = today()
    # the notice's length is a policy parameter (公示 5 working days), in force when it opens
    days = parameter_value(
        spec.PUBLIC_NOTICE_WORKING_DAYS, on=case.notice_start, county=county_of(case.household).code
    )
    case.notice_end = workdays.notice_end(case.notice_start, days)


def data_compare_effect(case: Case, run: StepRun) -> None:
    """The audit row keeps what the comparison found, row by row."""
    run.audit = {
        "found": case.comparison["found"],
        "no_data": case.comparison["no_data"],
        "matches": [
            {k: m[k] for k in ("exclusion", "feed", "reference", "batch", "source_row")}
            for m in case.comparison["matches"]
        ],
    }


def reject_effect(case: Case, run: StepRun) -> None:
    case.rejected_reason = run.reason


def appeal_effect(case: Case, run: StepRun) -> None:
    case.appeals += 1
