"""What every fund service shares: ``FundError`` with the messages several of them
raise, and the small checks of a county, a year, a date, an amount, a text and a reason.

A date of fund year Y lies in Y (``_check_in_year``): money received for the fund, a
premium, a settlement. The bank may confirm a year's relief after its end (until the year
is settled) and a correction is dated when it is made, but neither before 1 January of Y
(``ledger._post_many`` holds both for every posting).

A check returns the cleaned value or raises ``FundError`` naming the field; nothing here
writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fangpin.common import clock
from fangpin.common.bounds import FIRST_DAY, FIRST_YEAR
from fangpin.common.errors import DomainError
from fangpin.common.money import Money, round_fen, to_decimal
from fangpin.regions.models import Level, Region

MAX_FEN = 10**15  # ten trillion yuan: anything larger is a typing error

ERR_NOT_A_COUNTY = "{code} is not a county-level region (不是县级行政区划)"
ERR_UNKNOWN_COUNTY = "unknown county code {code!r} (县代码不存在)"
ERR_YEAR = "year must be a whole number from 2000 (年度无效)"
ERR_FUTURE_YEAR = "year {year} is in the future (年度晚于今年)"
ERR_FUTURE_DATE = "date {date} is in the future (日期晚于今天)"
ERR_OLD_DATE = "date {date} is before 2000 (日期早于2000年)"
ERR_BEFORE_FUND_YEAR = "date {date} is before fund year {year} (日期早于资金年度)"
ERR_AFTER_FUND_YEAR = "date {date} is after fund year {year} (日期晚于资金年度)"
ERR_AMOUNT = (
    "amount must be a number of yuan with at most two decimals, e.g. 12345.60 (金额格式错误)"
)
ERR_NOT_POSITIVE = "amount must be more than zero (金额必须大于零)"
ERR_TOO_LARGE = "amount is too large (金额过大)"
ERR_REQUIRED = "{field} is required (必填)"
ERR_TOO_LONG = "{field} is longer than {n} characters (内容过长)"
ERR_REASON_REQUIRED = "give a reason (请填写原因)"
ERR_YEAR_SETTLED = (
    "year {year} is settled; reopen it before posting to it (该年度已结算，请先重新打开)"
)


class FundError(DomainError):
    """Bad input to a fund service: ``message`` says what, ``field`` which input."""


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def county_by_code(code: str) -> Region:
    """The county with ``code``, or ``FundError`` naming the bad code."""
    region = Region.objects.filter(code=str(code).strip()).first()
    if region is None:
        raise FundError(ERR_UNKNOWN_COUNTY.format(code=code), field="county")
    _check_county(region)
    return region


def _check_county(county: Region) -> None:
    if county.level != Level.COUNTY:
        raise FundError(ERR_NOT_A_COUNTY.format(code=county.code), field="county")


def _check_year(year: Any) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or year < FIRST_YEAR:
        raise FundError(ERR_YEAR, field="year")
    if year > clock.today().year:
        raise FundError(ERR_FUTURE_YEAR.format(year=year), field="year")
    return year


def _check_date(value: dt.date, field_name: str) -> dt.date:
    if value > clock.today():
        raise FundError(ERR_FUTURE_DATE.format(date=value.isoformat()), field=field_name)
    if value < FIRST_DAY:
        raise FundError(ERR_OLD_DATE.format(date=value.isoformat()), field=field_name)
    return value


def _check_in_year(
    value: dt.date, year: int, field_name: str, *, later_ok: bool = False
) -> dt.date:
    """A date of fund ``year``: not before its 1 January, nor after its 31 December unless
    ``later_ok`` (the bank's confirmation of the year's relief, a correction)."""
    if value < dt.date(year, 1, 1):
        raise FundError(
            ERR_BEFORE_FUND_YEAR.format(date=value.isoformat(), year=year), field=field_name
        )
    if not later_ok and value > dt.date(year, 12, 31):
        raise FundError(
            ERR_AFTER_FUND_YEAR.format(date=value.isoformat(), year=year), field=field_name
        )
    return value


def _money(value: Any, field_name: str = "amount") -> Money:
    """A positive amount of yuan given exactly to the fen (12.345 is refused, not rounded)."""
    if isinstance(value, Money):
        amount = value
    else:
        try:
            exact = to_decimal(value)
        except (TypeError, ValueError):
            raise FundError(ERR_AMOUNT, field=field_name) from None
        if exact != round_fen(exact):
            raise FundError(ERR_AMOUNT, field=field_name)
        amount = Money(exact)
    if amount.fen <= 0:
        raise FundError(ERR_NOT_POSITIVE, field=field_name)
    if amount.fen >= MAX_FEN:
        raise FundError(ERR_TOO_LARGE, field=field_name)
    return amount


def _text(value: Any, field_name: str, n: int, *, required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise FundError(ERR_REQUIRED.format(field=field_name), field=field_name)
    if len(text) > n:
        raise FundError(ERR_TOO_LONG.format(field=field_name, n=n), field=field_name)
    return text


def _reason(value: Any) -> str:
    if not str(value or "").strip():
        raise FundError(ERR_REASON_REQUIRED, field="reason")
    return _text(value, "reason", 500)
