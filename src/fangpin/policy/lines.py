"""The income line (收入线) of a year, read from the parameters.

A household's annual income is measured against a yearly line: pairing's 返贫/新致贫
outcomes and its risk-elimination income check compare per-capita income with the
line *of the income's year*. That line is ``income_test.line`` — the same line the
relief rule's income test applies — as in force on 31 December of the year, for the
county (its own value where it has one, else the city's).

A pure read of a ``ParameterSet``: no Django, like the rest of the engine.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from . import spec
from .loader import ParameterSet, PolicyInputError


def income_line_of_year(parameters: ParameterSet, *, county: str, year: int) -> Decimal | None:
    """``income_test.line`` in force on 31 December of ``year`` for ``county``.

    ``None`` when the parameters have no line then: a year before the policy began
    (2017 in the reference set), or a county the set does not know.
    """
    try:
        value = parameters.in_force(county, dt.date(year, 12, 31)).value(spec.LINE)
    except (PolicyInputError, KeyError):
        return None
    return None if value is None else Decimal(value)
