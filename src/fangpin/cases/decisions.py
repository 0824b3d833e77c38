"""Relief decisions (救助决定) of a case: the policy engine's amount on the case's verified
figures, under the parameters of the case's own date, netted against the relief already
decided for the same claim; locked in numbered rounds; paid through the fund."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Sum

from fangpin.common.clock import today
from fangpin.common.money import Money
from fangpin.funds.services import FundError, payment_request
from fangpin.policy.loader import PolicyInputError
from fangpin.policy.scalar import Case as PolicyCase
from fangpin.policy.scalar import relief_calculate

from .claims import county_of, deciding_date
from .errors import ERR_CHANGED, ERR_NOT_ELIGIBLE, ERR_POLICY, ERR_REASON, CaseError, money_input
from .models import Case, Decision, DecisionKind
from .states import State
from .steps import StepRun


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


def decision_create(
    case: Case, *, actor: Any, kind: str, reason: str, self_paid: Money | None = None
) -> Decision:
    inputs, result = relief_for(case, self_paid=self_paid)
    if not result.eligible:
        raise CaseError(ERR_NOT_ELIGIBLE.format(reasons="; ".join(result.reasons)), field="state")
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


def county_decide_effect(case: Case, run: StepRun) -> None:
    """县级审定: the engine's amount, locked in a new decision round; a decision of 0.00 (the
    claim was relieved in full already) closes the case without a payment (结案)."""
    run.decision = decision_create(
        case, actor=run.actor, kind=DecisionKind.COUNTY, reason=run.reason
    )
    run.audit = {"decision": run.decision.pk, "amount": str(run.decision.amount)}
    if run.decision.amount.amount == 0:
        run.target = State.CLOSED


def loss_determine_effect(case: Case, run: StepRun) -> None:
    """保险核损: the insurer confirms the county's decision, or adjusts the verified self-paid
    amount with a reason — which recomputes the relief into a new decision superseding the
    old. Up to the county's amount the payment is requested (``payment_request_after``);
    above it the case goes back to the county decision, which decides again on the
    insurer's figures; an amount of 0.00 closes the case."""
    county = case.current_decision
    decision = county
    adjusted = run.data.get("adjusted_self_paid")
    if adjusted not in (None, ""):
        amount = money_input(adjusted, "adjusted_self_paid")
        if amount != case.verified_self_paid:
            if not run.reason:
                raise CaseError(ERR_REASON, field="reason")
            case.verified_self_paid = amount
            decision = decision_create(
                case, actor=run.actor, kind=DecisionKind.LOSS, reason=run.reason
            )
    run.decision = decision
    run.audit = {"decision": decision.pk, "amount": str(decision.amount)}
    if decision.amount.amount > county.amount.amount:
        run.target = State.COUNTY_DECISION
    elif decision.amount.amount == 0:
        run.target = State.CLOSED


def payment_request_after(case: Case, run: StepRun) -> None:
    """The fund pays the decision (funds' idempotency key ``decision:<id>``), in the step's
    transaction: a refusal (no bank account, no contract, a settled year) undoes the step."""
    if case.state != State.PAYMENT_REQUESTED:
        return
    decision, actor = run.decision, run.actor
    household = case.household
    try:
        payment = payment_request(
            decision_key=decision.key,
            household=household,
            amount=decision.amount,
            county=county_of(household),
            year=today().year,
            actor=actor,
        )
    except FundError as exc:
        raise CaseError(exc.message, field=exc.field or "payment") from None
    if decision.payment_id != payment.pk:
        Decision.objects.filter(pk=decision.pk).update(payment=payment)
        decision.payment = payment
