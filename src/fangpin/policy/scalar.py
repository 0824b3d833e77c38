"""The scalar evaluator: one case, exact ``Decimal`` arithmetic, full explanation.

The rule (POLICY.md, "Who is protected" and "The four circumstances"):

1. **Income test** — per-capita income is below the income line for the year.
   On the default basis the self-paid expense is first taken off the household's
   annual income (``per_capita_income_after_rigid_expense``); on the stated
   basis it is not (``per_capita_income``). Per-capita income is rounded half up
   to the fen before it is compared (rounding point ``per_capita_income``).
2. **Start line** — the annual cumulative self-paid amount (or loss) must be
   above the start line for the circumstance and the household type.
3. **Exclusions** — no exclusion found by data comparison whose parameter applies.
4. **Stepped relief** — the part above the start line is cut into the ladder's
   brackets; each slice earns its bracket's rate, rounded half up to the fen
   (rounding point ``bracket_earned``); the earnings are summed.
5. **Cap** — the sum is capped; the cap's scope says what it is counted over.
6. **Netting** — relief already paid in the same scope is subtracted, never
   below zero (so a second hospital stay in a year does not apply the start
   line again); the total is rounded half up to the fen (rounding point ``total``).

The batch builder (``batch.py``) applies the same steps to a whole table.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fangpin.common.money import round_fen
from fangpin.policy import spec
from fangpin.policy.explain import (
    BracketStep,
    CapCheck,
    Explanation,
    IncomeTest,
    Netting,
    ParameterRead,
    ReliefResult,
)
from fangpin.policy.loader import InForce, ParameterSet, PolicyInputError, parameters_default
from fangpin.policy.schema import Ladder

ERR_HOUSEHOLD_TYPE = "unknown household type {value!r}; expected one of {expected}"
ERR_CIRCUMSTANCE = "unknown circumstance {value!r}; expected one of {expected}"
ERR_MEMBERS = "members must be a whole number of at least 1, got {value!r}"
ERR_AMOUNT_TYPE = "must be a Decimal amount in yuan, got {value!r}"
ERR_AMOUNT_NEGATIVE = "must not be negative, got {value}"
ERR_AMOUNT_FEN = "must be to the fen (at most two decimal places), got {value}"
ERR_AMOUNT_LARGE = "must be at most {max}, got {value}"
ERR_EXCLUSION = "unknown exclusion {value!r}; expected some of {expected}"
ERR_DATE = "must be a date, got {value!r}"

_ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Case:
    """One household's claim for one circumstance, as of a date, in a county.

    ``self_paid`` is the cumulative self-paid amount (or loss) in the cap's
    scope — the household's year, the student's year or the event — and
    ``paid_this_year`` the relief already paid in that same scope.
    ``exclusions`` holds the exclusions data comparison found (``spec.EXCLUSIONS``).
    """

    date: datetime.date
    county: str
    household_type: str
    circumstance: str
    members: int
    annual_income: Decimal
    self_paid: Decimal
    paid_this_year: Decimal = _ZERO
    exclusions: frozenset[str] = field(default_factory=frozenset)


def case_check(case: Case) -> None:
    """Refuse a case the rules cannot evaluate, naming the field (``PolicyInputError``)."""
    if not isinstance(case.date, datetime.date) or isinstance(case.date, datetime.datetime):
        raise PolicyInputError("date", ERR_DATE.format(value=case.date))
    if case.household_type not in spec.HOUSEHOLD_TYPES:
        raise PolicyInputError(
            "household_type",
            ERR_HOUSEHOLD_TYPE.format(
                value=case.household_type, expected=", ".join(spec.HOUSEHOLD_TYPES)
            ),
        )
    if case.circumstance not in spec.CIRCUMSTANCES:
        raise PolicyInputError(
            "circumstance",
            ERR_CIRCUMSTANCE.format(
                value=case.circumstance, expected=", ".join(spec.CIRCUMSTANCES)
            ),
        )
    if isinstance(case.members, bool) or not isinstance(case.members, int) or case.members < 1:
        raise PolicyInputError("members", ERR_MEMBERS.format(value=case.members))
    for name in ("annual_income", "self_paid", "paid_this_year"):
        amount_check(name, getattr(case, name))
    unknown = set(case.exclusions) - set(spec.EXCLUSIONS)
    if unknown:
        raise PolicyInputError(
            "exclusions",
            ERR_EXCLUSION.format(value=sorted(unknown)[0], expected=", ".join(spec.EXCLUSIONS)),
        )


def amount_check(name: str, value: object) -> Decimal:
    """An input amount: a finite, non-negative Decimal to the fen, at most ``MAX_AMOUNT``."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise PolicyInputError(name, ERR_AMOUNT_TYPE.format(value=value))
    if value < 0:
        raise PolicyInputError(name, ERR_AMOUNT_NEGATIVE.format(value=value))
    if value > spec.MAX_AMOUNT:
        raise PolicyInputError(name, ERR_AMOUNT_LARGE.format(max=spec.MAX_AMOUNT, value=value))
    if value != round_fen(value):
        raise PolicyInputError(name, ERR_AMOUNT_FEN.format(value=value))
    return value


def relief_calculate(case: Case, *, parameters: ParameterSet | None = None) -> ReliefResult:
    """Decide one case: eligible or not, the relief amount, and what produced it.

    Raises ``PolicyInputError`` naming the field for a case the rules cannot
    evaluate (unknown county, a date before the policy existed, bad amounts).
    """
    case_check(case)
    params = parameters if parameters is not None else parameters_default()
    force = params.in_force(case.county, case.date)
    reads: list[ParameterRead] = []
    circumstance = case.circumstance

    line: Decimal = _read(force, spec.LINE, reads)
    basis: str = _read(force, spec.BASIS, reads)
    start: Decimal = _read(force, spec.start_line_path(circumstance), reads, case.household_type)
    ladder = _read(force, spec.brackets_path(circumstance), reads)
    cap: Decimal = _read(force, spec.cap_path(circumstance), reads)
    scope: str = _read(force, spec.cap_scope_path(circumstance), reads)
    hits = tuple(
        exclusion
        for exclusion in spec.EXCLUSIONS
        if _read(force, spec.exclusion_path(exclusion), reads) and exclusion in case.exclusions
    )

    # 1. Income test (rounding point "per_capita_income").
    deducted = case.self_paid if basis == spec.BASIS_AFTER_RIGID_EXPENSE else _ZERO
    per_capita = round_fen((case.annual_income - deducted) / case.members)
    income_test = IncomeTest(
        basis=basis,
        annual_income=case.annual_income,
        deducted=deducted,
        members=case.members,
        per_capita=per_capita,
        line=line,
        passed=per_capita < line,
    )
    # 2.–3. Start line and exclusions.
    above = max(_ZERO, case.self_paid - start)
    eligible = income_test.passed and case.self_paid > start and not hits

    steps: tuple[BracketStep, ...] = ()
    cap_check: CapCheck | None = None
    netting: Netting | None = None
    amount = _ZERO
    reached = 0
    if eligible:
        # 4. Stepped relief (rounding point "bracket_earned").
        steps = tuple(_ladder_steps(ladder, above))
        reached = sum(1 for step in steps if step.part > 0)
        ladder_total = sum((step.earned for step in steps), _ZERO)
        # 5. Cap.
        cap_check = CapCheck(
            amount=cap, scope=scope, ladder_total=ladder_total, bound=ladder_total > cap
        )
        capped = min(ladder_total, cap)
        # 6. Netting (rounding point "total").
        amount = round_fen(max(_ZERO, capped - case.paid_this_year))
        netting = Netting(paid_this_year=case.paid_this_year, before=capped, after=amount)

    explanation = Explanation(
        parameter_version=force.version,
        date=case.date,
        county=case.county,
        household_type=case.household_type,
        circumstance=circumstance,
        parameters=tuple(reads),
        income_test=income_test,
        exclusions_claimed=tuple(x for x in spec.EXCLUSIONS if x in case.exclusions),
        exclusions_hit=hits,
        start_line=start,
        self_paid=case.self_paid,
        above_start_line=above,
        brackets=steps,
        bracket_reached=reached,
        cap=cap_check,
        netting=netting,
        eligible=eligible,
        amount=amount,
    )
    return ReliefResult(eligible=eligible, amount=amount, explanation=explanation)


def _read(force: InForce, path: str, reads: list[ParameterRead], key: str | None = None) -> Any:
    """Read one parameter in force and record the reading for the explanation."""
    reading = force.reading(path)
    value = reading.value if key is None else reading.value[key]
    reads.append(
        ParameterRead(
            path=path,
            kind=reading.kind,
            effective=reading.effective,
            value=value,
            source=reading.source,
            origin=reading.origin,
            reference=reading.reference,
            key=key,
        )
    )
    return value


def _ladder_steps(ladder: Ladder, above: Decimal) -> Iterator[BracketStep]:
    """Cut ``above`` into the ladder's slices; each earns its rate, rounded half up to the fen."""
    for index, bracket in enumerate(ladder):
        upper = ladder[index + 1].threshold if index + 1 < len(ladder) else None
        top = above if upper is None else min(above, upper)
        part = max(_ZERO, top - bracket.threshold)
        yield BracketStep(
            index=index + 1,
            lower=bracket.threshold,
            upper=upper,
            rate=bracket.rate,
            part=part,
            earned=round_fen(part * bracket.rate),
        )
