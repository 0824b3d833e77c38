"""The relief case workflow, declared in one place (STYLE.md, django-fsm / viewflow row).

A case's ``state`` names the step it waits for. Each ``Transition`` says from
which states it may be taken, where it leads, which permission action (roles, in
``fangpin.accounts.permissions.ACTIONS``) it needs and which guard must pass; a
guard returns ``None`` or a reason a user can read. ``services.case_transition``
is the only code that moves a case, and writes its audit row in the same
transaction.

intake → household check (入户核查) → data comparison (信息比对) → village review
(民主评议) → public notice (公示, 5 working days: the parameter
``procedure.public_notice_working_days``) → township review (乡镇审核) →
county decision (县级审定) → insurer loss determination (核损) → payment requested
(待支付) → paid (已支付) → follow-up (帮扶跟进). Any open step can reject with a
reason; a rejected case may be appealed once, reopening it at the township review.

Two steps have more than one outcome, declared as ``also_to``: a county decision of 0.00
(the claim was fully relieved already) closes the case without a payment (结案); an insurer's
loss determination that raises the amount above the county's decision sends the case back
to the county decision, and one that comes to 0.00 closes it.

Separation of duties (``duty_refusal``, setting ``FANGPIN_SEPARATION_OF_DUTIES``, on by
default): the user who took one approval step (``APPROVAL_STEPS``) may not take the next
one on the same case, and nobody decides a case they opened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from fangpin.common.audit import Action

from . import decisions, steps
from .errors import (  # noqa: F401 (asserted on as workflow's too)
    ERR_NOT_ELIGIBLE,
    ERR_REASON,
    ERR_REJECT_ROLE,
    ERR_REVIEW,
)
from .states import (  # noqa: F401 (the workflow's vocabulary, imported from here too)
    EDITABLE_STATES,
    INITIAL,
    OPEN_STATES,
    REJECTABLE_STATES,
    State,
)

# the steps that approve a case (审批环节): one user may not take two of them in a row
APPROVAL_STEPS = (
    "household_check",
    "village_review",
    "notice_close",
    "township_review",
    "county_decide",
    "loss_determine",
)

# guard reasons (English + Chinese), asserted on by the tests
ERR_WRONG_STATE = (
    "this case is at “{state}”; “{transition}” is not possible now (当前环节不能执行此操作)"
)
ERR_CONSENT = (
    "the household's signed consent to data comparison is required (须有农户签字的承诺授权书)"
)
ERR_VERIFIED = "record the verified members, income and self-paid amount first (请先录入核实的人口、收入和自付金额)"
ERR_NOTICE_RUNNING = "the public notice runs until {date}; it can close on {date} (公示期未满)"
ERR_OBJECTIONS_OPEN = "{n} objection(s) to the notice are not resolved (公示异议尚未处理完毕)"
ERR_APPEALED = "this household has already appealed once (已申诉过一次，不能再次申诉)"
ERR_NOT_PAID = "the fund has not paid this case yet (资金尚未到账)"
ERR_APPEAL_OPEN = (
    "case {number} is open for the same claim; add to it instead of appealing this one "
    "(同一事项已有在办案件 {number}，请在该案件中办理)"
)
ERR_DUTY_CONSECUTIVE = (
    "you took the previous approval step of this case ({step}); another officer takes this "
    "one (您已办理本案上一审批环节，本环节须由他人办理)"
)
ERR_DUTY_OPENER = "you opened this case; another officer decides it (您受理了本案，须由他人审定)"


@dataclass(frozen=True)
class Transition:
    name: str
    label: Any
    sources: frozenset[str]
    target: str
    action: str  # permission action in fangpin.accounts.permissions.ACTIONS
    guard: Callable[[Any, dt.date], str | None] | None = None
    forward: bool = True  # moves the case along its main path (work queues)
    also_to: frozenset[str] = frozenset()  # other targets the step's effect may choose
    # what the step writes (``steps.StepRun``): ``record`` the figures entered, checked before
    # the guard; ``effect`` what taking it changes or decides; ``after`` what follows once
    # the case is saved (the payment), all in the step's transaction
    record: Callable[[Any, Any], None] | None = None
    effect: Callable[[Any, Any], None] | None = None
    after: Callable[[Any, Any], None] | None = None
    needs_reason: bool = False
    may_take: Callable[[Any, Any], str | None] | None = None  # (case, actor): beyond the role

    @property
    def event(self) -> Action:
        """The audit row taking this step writes (``cases.case.<name>``)."""
        return Action(f"cases.case.{self.name}")

    def refusal(self, case: Any, today: dt.date) -> str | None:
        """``None`` if the case may take this transition now, else the reason."""
        if case.state not in self.sources:
            return ERR_WRONG_STATE.format(state=State(case.state).label, transition=self.label)
        return self.guard(case, today) if self.guard else None


# --- guards ---------------------------------------------------------------------------------


def _notice_may_close(case: Any, today: dt.date) -> str | None:
    if case.notice_end and today < case.notice_end:
        return ERR_NOTICE_RUNNING.format(date=case.notice_end.isoformat())
    open_objections = case.objections.filter(resolved_at__isnull=True).count()
    if open_objections:
        return ERR_OBJECTIONS_OPEN.format(n=open_objections)
    return None


def _household_checked(case: Any, today: dt.date) -> str | None:
    if case.verified_members is None or case.verified_income is None:
        return ERR_VERIFIED
    if case.verified_self_paid is None:
        return ERR_VERIFIED
    if not case.consent_signed:
        return ERR_CONSENT
    return None


def _may_appeal(case: Any, today: dt.date) -> str | None:
    if case.appeals >= 1:
        return ERR_APPEALED
    # reopening would make a second open case for the same claim (``cases_case_one_open``)
    other = (
        type(case)
        .objects.filter(
            household_id=case.household_id,
            circumstance=case.circumstance,
            period=case.period,
            claim_key=case.claim_key,
            is_open=True,
        )
        .exclude(pk=case.pk)
        .first()
    )
    return ERR_APPEAL_OPEN.format(number=other.number) if other is not None else None


def _payment_succeeded(case: Any, today: dt.date) -> str | None:
    from fangpin.funds.models import PaymentStatus

    decision = case.current_decision
    payment = decision.payment if decision is not None else None
    if payment is None or payment.status != PaymentStatus.SUCCEEDED:
        return ERR_NOT_PAID
    return None


def _may_reject(case: Any, actor: Any) -> str | None:
    """Only the officer of the current step (or a county officer) rejects at that step."""
    from fangpin.accounts import permissions

    step = STEP_OF_STATE.get(case.state)
    if permissions.can(actor, "cases.county_decide", case) or (
        step is not None and permissions.can(actor, step.action, case)
    ):
        return None
    return ERR_REJECT_ROLE


def _s(*states: str) -> frozenset[str]:
    return frozenset(states)


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        Transition(
            "household_check",
            _("Record household check 录入入户核查"),
            _s(State.HOUSEHOLD_CHECK),
            State.DATA_COMPARISON,
            "cases.household_check",
            _household_checked,
            record=steps.household_check_record,
        ),
        Transition(
            "data_compare",
            _("Confirm data comparison 确认信息比对"),
            _s(State.DATA_COMPARISON),
            State.VILLAGE_REVIEW,
            "cases.data_compare",
            record=steps.data_compare_record,
            effect=steps.data_compare_effect,
        ),
        Transition(
            "village_review",
            _("Record village review, open notice 录入民主评议并公示"),
            _s(State.VILLAGE_REVIEW),
            State.PUBLIC_NOTICE,
            "cases.village_review",
            record=steps.village_review_record,
        ),
        Transition(
            "notice_close",
            _("Close public notice 结束公示"),
            _s(State.PUBLIC_NOTICE),
            State.TOWNSHIP_REVIEW,
            "cases.notice_close",
            _notice_may_close,
        ),
        Transition(
            "township_review",
            _("Township review passed 乡镇审核通过"),
            _s(State.TOWNSHIP_REVIEW),
            State.COUNTY_DECISION,
            "cases.township_review",
        ),
        Transition(
            "county_decide",
            _("County decision 县级审定"),
            _s(State.COUNTY_DECISION),
            State.LOSS_DETERMINATION,
            "cases.county_decide",
            also_to=_s(State.CLOSED),
            effect=decisions.county_decide_effect,
        ),
        Transition(
            "loss_determine",
            _("Loss determination, request payment 核损并申请支付"),
            _s(State.LOSS_DETERMINATION),
            State.PAYMENT_REQUESTED,
            "cases.loss_determine",
            also_to=_s(State.COUNTY_DECISION, State.CLOSED),
            effect=decisions.loss_determine_effect,
            after=decisions.payment_request_after,
        ),
        Transition(
            "payment_paid",
            _("Mark paid from the fund 确认到账"),
            _s(State.PAYMENT_REQUESTED),
            State.PAID,
            "cases.payment_sync",
            _payment_succeeded,
        ),
        Transition(
            "follow_up",
            _("Start follow-up 转入帮扶跟进"),
            _s(State.PAID),
            State.FOLLOW_UP,
            "cases.follow_up",
        ),
        Transition(
            "reject",
            _("Reject 不予救助"),
            REJECTABLE_STATES,
            State.REJECTED,
            "cases.reject",
            forward=False,
            effect=steps.reject_effect,
            needs_reason=True,
            may_take=_may_reject,
        ),
        Transition(
            "appeal",
            _("Appeal, reopen at township review 申诉，重回乡镇审核"),
            _s(State.REJECTED),
            State.TOWNSHIP_REVIEW,
            "cases.appeal",
            _may_appeal,
            forward=False,
            effect=steps.appeal_effect,
            needs_reason=True,
        ),
    ]
}

# the step a case waits for -> the transition that completes it (work queues, deadlines)
STEP_OF_STATE: dict[str, Transition] = {
    source: t for t in TRANSITIONS.values() if t.forward for source in t.sources
}


def duty_refusal(case: Any, transition: str, actor: Any) -> str | None:
    """Separation of duties: why ``actor`` may not take ``transition`` on ``case``, or None.

    The case records who took its last approval step (``last_approval_by``); that user may
    not take the next approval step, and the user who opened the case may not take the
    county decision. Off only where ``FANGPIN_SEPARATION_OF_DUTIES`` is false.
    """
    from django.conf import settings

    if transition not in APPROVAL_STEPS or not getattr(
        settings, "FANGPIN_SEPARATION_OF_DUTIES", True
    ):
        return None
    actor_id = getattr(actor, "pk", None)
    if actor_id is None:
        return None
    if case.last_approval_by_id == actor_id:
        step = TRANSITIONS.get(case.last_approval)
        return ERR_DUTY_CONSECUTIVE.format(step=step.label if step else case.last_approval)
    if transition == "county_decide" and case.opened_by_id == actor_id:
        return ERR_DUTY_OPENER
    return None


def transition_get(name: str) -> Transition:
    try:
        return TRANSITIONS[name]
    except KeyError:
        raise ValueError(f"unknown transition {name!r}") from None


def states_waiting_for(user: Any) -> list[str]:
    """States whose next step the user's role performs (their work queue)."""
    from fangpin.accounts import permissions

    return [state for state, t in STEP_OF_STATE.items() if permissions.role_allows(user, t.action)]
