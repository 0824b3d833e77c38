"""The outer range of every year and date a user gives: one check, one message.

Fangpin's records begin in 2000 (the first fund year, the oldest year of the feeds) and
no input names a year after 2100. A value outside — ``year=0``, ``10000``, a date
``0001-01-01`` — is a typing error or a probe; unchecked, a year reached
``date(year, 1, 1)`` and came back as a server error (500). Refused here it
answers with a message naming the field: the API's parameters carry the bounds in the
OpenAPI document (``Year``, ``Day``), where django-ninja refuses them with its own 422;
a page's ``?year=`` goes through ``year_param``, whose ``RangeError`` is a ``DomainError``
(400 on a page through ``web.middleware.DomainErrorMiddleware``, 422 from the API).

Each app keeps its domain bounds on top (a fund year not in the future, a visit not
before 2013, an event within the claim's year); these are the ones every input shares.
Amounts are bounded in ``common.money`` (``MAX_YUAN``), API page numbers in
``common.pages`` (``PageNumbers``); Django's ``Paginator.get_page`` bounds a page's own.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field

from .errors import DomainError

FIRST_YEAR = 2000
LAST_YEAR = 2100
FIRST_DAY = dt.date(FIRST_YEAR, 1, 1)
LAST_DAY = dt.date(LAST_YEAR, 12, 31)

ERR_YEAR = "{field} must be a year from 2000 to 2100, not {value} (年度超出范围)"


class RangeError(DomainError):
    """An input outside the range every input shares (see the module's docstring)."""


# the API's parameter types: django-ninja checks them and the OpenAPI document shows the range
Year = Annotated[
    int, Field(ge=FIRST_YEAR, le=LAST_YEAR, description="a year from 2000 to 2100 (年度)")
]
Day = Annotated[
    dt.date,
    Field(ge=FIRST_DAY, le=LAST_DAY, description="a date from 2000-01-01 to 2100-12-31 (日期)"),
]


def year_checked(value: Any, *, field: str = "year") -> int:
    """``value`` (an int, or its digits as text) as a year from 2000 to 2100."""
    text = str(value).strip()
    if isinstance(value, bool) or not (isinstance(value, int) or text.isdecimal()):
        raise RangeError(ERR_YEAR.format(field=field, value=value), field=field)
    if len(text) > 4 or not FIRST_YEAR <= int(text) <= LAST_YEAR:
        raise RangeError(ERR_YEAR.format(field=field, value=value), field=field)
    return int(text)


def year_param(text: str | None, *, default: int, field: str = "year") -> int:
    """A page's ``?year=``: blank is ``default``, anything else a year in range."""
    if text is None or not text.strip():
        return default
    return year_checked(text, field=field)
