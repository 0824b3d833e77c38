"""What produced a relief amount: the explanation every result carries.

ARCHITECTURE.md: "Every computed amount can say which parameters (path, date,
value, source) produced it." An ``Explanation`` records each parameter read, the
income test's numbers, each bracket's slice and what it earned, whether the cap
bound, and the netting of relief already paid. ``as_dict()`` gives the JSON the
command and the API print; ``reasons()`` gives the sentences (Chinese / English)
a household or an officer reads.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fangpin.policy import spec
from fangpin.policy.loader import canonical

ROUNDING_NOTE = (
    "ROUND_HALF_UP to the fen (0.01 yuan) at: per-capita income, each bracket's earned "
    "amount, the total; nothing else is rounded (四舍五入到分)"
)


def yuan(value: Decimal) -> str:
    """Two places, no separators: the form amounts take in JSON ("4540.00")."""
    return f"{value:.2f}"


def shown(value: Decimal) -> str:
    """Two places with thousands separators: the form amounts take in sentences."""
    return f"{value:,.2f}"


@dataclass(frozen=True, slots=True)
class ParameterRead:
    """One parameter the calculation read (path, effective date, value, source mark)."""

    path: str
    kind: str
    effective: datetime.date
    value: Any
    source: str
    origin: str  # "city" or the county code whose override was in force
    reference: str
    key: str | None = None  # the household type, for a parameter keyed by it

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "key": self.key,
            "kind": self.kind,
            "effective": self.effective.isoformat(),
            "value": canonical(self.value),
            "source": self.source,
            "origin": self.origin,
            "reference": self.reference,
        }


@dataclass(frozen=True, slots=True)
class IncomeTest:
    """The income test: per-capita income on the chosen basis against the line."""

    basis: str
    annual_income: Decimal
    deducted: Decimal  # the self-paid rigid expense, on the after-rigid-expense basis
    members: int
    per_capita: Decimal  # rounded half up to the fen (rounding point "per_capita_income")
    line: Decimal
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "annual_income": yuan(self.annual_income),
            "deducted": yuan(self.deducted),
            "members": self.members,
            "per_capita": yuan(self.per_capita),
            "line": yuan(self.line),
            "passed": self.passed,
        }


@dataclass(frozen=True, slots=True)
class BracketStep:
    """The slice of the amount above the start line that fell in one bracket."""

    index: int  # 1-based
    lower: Decimal
    upper: Decimal | None  # None for the open top bracket
    rate: Decimal
    part: Decimal
    earned: Decimal  # part × rate, rounded half up to the fen (rounding point "bracket_earned")

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "lower": yuan(self.lower),
            "upper": None if self.upper is None else yuan(self.upper),
            "rate": canonical(self.rate),
            "part": yuan(self.part),
            "earned": yuan(self.earned),
        }


@dataclass(frozen=True, slots=True)
class CapCheck:
    amount: Decimal
    scope: str
    ladder_total: Decimal
    bound: bool  # the ladder total exceeded the cap

    def as_dict(self) -> dict[str, Any]:
        return {
            "amount": yuan(self.amount),
            "scope": self.scope,
            "ladder_total": yuan(self.ladder_total),
            "bound": self.bound,
        }


@dataclass(frozen=True, slots=True)
class Netting:
    """Relief already paid in the cap's scope is subtracted, never below zero."""

    paid_this_year: Decimal
    before: Decimal
    after: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "paid_this_year": yuan(self.paid_this_year),
            "before": yuan(self.before),
            "after": yuan(self.after),
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    parameter_version: str
    date: datetime.date
    county: str
    household_type: str
    circumstance: str
    parameters: tuple[ParameterRead, ...]
    income_test: IncomeTest
    exclusions_claimed: tuple[str, ...]  # flags set on the case
    exclusions_hit: tuple[str, ...]  # those whose parameter applies on the date
    start_line: Decimal
    self_paid: Decimal
    above_start_line: Decimal  # max(0, self_paid − start line)
    brackets: tuple[BracketStep, ...]  # empty when not eligible
    bracket_reached: int  # highest bracket with a positive slice; 0 when not eligible
    cap: CapCheck | None  # None when not eligible
    netting: Netting | None  # None when not eligible
    eligible: bool
    amount: Decimal
    rounding: str = field(default=ROUNDING_NOTE)

    def as_dict(self) -> dict[str, Any]:
        return {
            "parameter_version": self.parameter_version,
            "date": self.date.isoformat(),
            "county": self.county,
            "household_type": self.household_type,
            "circumstance": self.circumstance,
            "parameters": [p.as_dict() for p in self.parameters],
            "income_test": self.income_test.as_dict(),
            "exclusions": {
                "claimed": list(self.exclusions_claimed),
                "hit": list(self.exclusions_hit),
            },
            "start_line": yuan(self.start_line),
            "self_paid": yuan(self.self_paid),
            "above_start_line": yuan(self.above_start_line),
            "brackets": [b.as_dict() for b in self.brackets],
            "bracket_reached": self.bracket_reached,
            "cap": None if self.cap is None else self.cap.as_dict(),
            "netting": None if self.netting is None else self.netting.as_dict(),
            "eligible": self.eligible,
            "amount": yuan(self.amount),
            "rounding": self.rounding,
        }

    @property
    def cap_applied(self) -> bool:
        return self.cap is not None and self.cap.bound

    def reasons(self) -> list[str]:
        """Sentences, Chinese then English, saying why the case came out as it did."""
        out: list[str] = []
        test = self.income_test
        basis_zh = "扣除刚性支出后" if test.basis == spec.BASIS_AFTER_RIGID_EXPENSE else ""
        basis_en = " after rigid expense" if test.basis == spec.BASIS_AFTER_RIGID_EXPENSE else ""
        if test.passed:
            out.append(
                f"人均收入（{basis_zh or '家庭'}）{shown(test.per_capita)} 元低于收入线 "
                f"{shown(test.line)} 元 / Per-capita income{basis_en} {shown(test.per_capita)} "
                f"is below the income line {shown(test.line)}"
            )
        else:
            out.append(
                f"人均收入（{basis_zh or '家庭'}）{shown(test.per_capita)} 元不低于收入线 "
                f"{shown(test.line)} 元，不符合条件 / Per-capita income{basis_en} "
                f"{shown(test.per_capita)} is not below the income line {shown(test.line)}: "
                "not eligible"
            )
        for exclusion in self.exclusions_hit:
            out.append(
                f"信息比对排除：{spec.EXCLUSION_LABELS[exclusion]} / Excluded by data "
                f"comparison: {exclusion}"
            )
        if self.self_paid > self.start_line:
            out.append(
                f"自付 {shown(self.self_paid)} 元超过起付线 {shown(self.start_line)} 元 / "
                f"Self-paid {shown(self.self_paid)} is above the start line "
                f"{shown(self.start_line)}"
            )
        else:
            out.append(
                f"自付 {shown(self.self_paid)} 元未超过起付线 {shown(self.start_line)} 元，"
                f"不予救助 / Self-paid {shown(self.self_paid)} is not above the start line "
                f"{shown(self.start_line)}: no relief"
            )
        if self.eligible and self.cap is not None and self.netting is not None:
            steps = " + ".join(
                f"{shown(b.part)} × {canonical(b.rate)}" for b in self.brackets if b.part > 0
            )
            out.append(
                f"阶梯救助 {steps} = {shown(self.cap.ladder_total)} 元 / Stepped relief "
                f"{steps} = {shown(self.cap.ladder_total)}"
            )
            if self.cap.bound:
                out.append(
                    f"超过封顶线，按 {shown(self.cap.amount)} 元封顶 / Above the cap: capped at "
                    f"{shown(self.cap.amount)} ({self.cap.scope})"
                )
            if self.netting.paid_this_year > 0:
                out.append(
                    f"扣除本年已救助 {shown(self.netting.paid_this_year)} 元 / Less relief "
                    f"already paid {shown(self.netting.paid_this_year)}"
                )
            out.append(f"救助金额 {shown(self.amount)} 元 / Relief {shown(self.amount)} yuan")
        else:
            out.append("不予救助，金额 0.00 元 / No relief: 0.00 yuan")
        return out


@dataclass(frozen=True, slots=True)
class ReliefResult:
    """The answer for one case: eligible, amount, reasons, and the full explanation."""

    eligible: bool
    amount: Decimal
    explanation: Explanation

    @property
    def reasons(self) -> list[str]:
        return self.explanation.reasons()

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of the command and the API."""
        return {
            "eligible": self.eligible,
            "amount": yuan(self.amount),
            "reasons": self.reasons,
            "explanation": self.explanation.as_dict(),
        }
