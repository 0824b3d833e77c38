"""The numbers of pairing's rules, read from the policy parameters, and the calendar they use.

POLICY.md: "Every number here is a parameter". Pairing reads:

- ``pairing.visit_period_months`` — the visit period (a calendar quarter in the
  reference parameters: "visits at least once a quarter"), for overdue and compliance;
- ``risk.stable_days``, ``risk.working_age.minimum`` / ``maximum`` — risk elimination
  (``risk.py``);
- ``income_test.line`` — the income line of a year (``fangpin.policy.lines``), for the
  risk-elimination income check and the 返贫/新致贫 outcomes (``outcomes.py``).

Each is read for the household's county — its own value where it has one, else the
city's — in force on the day the rule is applied, once per call and never per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext

from fangpin.accounts import permissions
from fangpin.common.money import Money
from fangpin.policy import spec
from fangpin.policy.lines import income_line_of_year
from fangpin.policy.loader import ParameterSet, parameters_default
from fangpin.regions.selectors import county_code_of


def own_county(parameters: ParameterSet, county_code: str | None) -> str | None:
    """The county whose own parameters apply, or None for the city's (a county without
    overrides — or a region outside the parameter set — follows the city)."""
    return county_code if county_code and county_code in parameters.overrides else None


# --- the visit period ---------------------------------------------------------------------


def period_start(on: dt.date, months: int) -> dt.date:
    """The first day of ``on``'s calendar period of ``months`` months.

    ``months`` divides 12 (the loader allows 1, 2, 3, 4, 6, 12), so periods begin on
    1 January: 3 gives the quarter, 1 the month, 12 the year.
    """
    return dt.date(on.year, months * ((on.month - 1) // months) + 1, 1)


def quarter_start(on: dt.date) -> dt.date:
    """The first day of ``on``'s calendar quarter (1 Jan, 1 Apr, 1 Jul or 1 Oct)."""
    return period_start(on, 3)


@dataclass(frozen=True)
class VisitPeriod:
    """The visit period in force on a day (POLICY.md: the contact "visits at least once a
    quarter"): the current calendar period of ``months`` months, which began on ``start``."""

    months: int
    start: dt.date

    @property
    def name(self) -> str:
        """The period as the pages name it: "this quarter" (本季度) in the reference
        parameters; "this month", "this half-year", "this year" or "this period of N
        months" otherwise."""
        if self.months == 1:
            return gettext("this month")
        if self.months == 3:
            return gettext("this quarter")
        if self.months == 6:
            return gettext("this half-year")
        if self.months == 12:
            return gettext("this year")
        return gettext("this period of %(n)s months") % {"n": self.months}


def visit_period(
    *, today: dt.date, county_code: str | None = None, parameters: ParameterSet | None = None
) -> VisitPeriod:
    """The visit period on ``today`` (``pairing.visit_period_months``): the county's own
    where it has one, else the city's (``county_code`` None: the city's)."""
    params = parameters if parameters is not None else parameters_default()
    months = params.value(
        spec.VISIT_PERIOD_MONTHS, on=today, county=own_county(params, county_code)
    )
    return VisitPeriod(months, period_start(today, months))


def visit_period_of_user(*, user: Any, today: dt.date) -> VisitPeriod:
    """The visit period a user's pages speak of: their county's where their region lies in
    one county, else the city's."""
    return visit_period(today=today, county_code=county_code_of(permissions.scope_path(user) or ""))


# --- risk elimination's numbers -----------------------------------------------------------


@dataclass(frozen=True)
class RiskRules:
    """The numbers of risk elimination in force on a day for a county (``risk.*``)."""

    stable_days: int  # income above the line on record for this many days (six months: 183)
    working_age: tuple[int, int]  # no labour recorded: able to work at these ages, inclusive


def risk_rules(
    *, on: dt.date, county_code: str | None = None, parameters: ParameterSet | None = None
) -> RiskRules:
    """``risk.stable_days`` and ``risk.working_age.*`` in force on ``on``: the county's own
    where it has them, else the city's. Raises ``PolicyInputError`` (field ``date``) on a
    day before they have a value (before the policy began, 2017 in the reference set)."""
    params = parameters if parameters is not None else parameters_default()
    county = own_county(params, county_code)
    return RiskRules(
        stable_days=params.value(spec.STABLE_DAYS, on=on, county=county),
        working_age=(
            params.value(spec.WORKING_AGE_MINIMUM, on=on, county=county),
            params.value(spec.WORKING_AGE_MAXIMUM, on=on, county=county),
        ),
    )


# --- the income line and per-capita income ------------------------------------------------


class IncomeLines:
    """The income line (收入线) of a year for a county, from the policy parameters.

    The line of year Y is ``income_test.line`` in force on 31 December of Y for the
    county (``fangpin.policy.lines.income_line_of_year``); ``None`` when the policy
    has no value then (a year before the policy began, an unknown county). Each
    (county, year) is read once per instance: one instance serves one call.
    """

    def __init__(self) -> None:
        self._params = parameters_default()
        self._cache: dict[tuple[str, int], Decimal | None] = {}

    def line(self, county_code: str, year: int) -> Decimal | None:
        key = (county_code, year)
        if key not in self._cache:
            self._cache[key] = income_line_of_year(self._params, county=county_code, year=year)
        return self._cache[key]


def per_capita(income: Money, members: int) -> Money:
    return Money(income.amount / members)
