"""Reports API under /api/v1/reports: the hit rates of the department feeds (预警命中率).

Region-scoped like the page: a city user every county, a county officer their county, a
department data officer the rows of its own feeds in its region (403 for the other
roles). A county outside the caller's region is 404. Amounts are decimal strings of yuan.
Each stage's definition is in the description of ``HitRateOut``.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from fangpin.accounts import permissions
from fangpin.common.api import NOT_FOUND, answers
from fangpin.common.bounds import Year

from . import selectors
from .selectors import HitRow

router = Router(tags=["reports"])


class StagesOut(Schema):
    """A count per stage (warnings, or distinct households)."""

    warned: int
    excluded: int
    checked: int
    confirmed: int
    verified: int
    paid: int


class HitRateOut(Schema):
    """One row of the hit rates: a year, a county ("" for all counties) and a feed with its
    circumstance ("" for all feeds).

    Stages of a warning: **warned** — recorded by the screening, excluded ones included;
    **excluded** — still excluded by data comparison; **checked** — left "new" (checking,
    confirmed or dismissed); **confirmed** — relief cases were opened from it; **verified**
    — a case opened from it passed the county decision with an amount above 0 and is at
    loss determination, payment requested, paid or follow-up; **paid** — the payment of
    such a case succeeded. ``hit_rate``: verified ÷ warned households, percent.
    """

    year: int
    county_code: str
    county_name: str
    feed: str
    circumstance: str
    warnings: StagesOut
    households: StagesOut
    estimated_relief: str
    verified_relief: str
    paid: str
    hit_rate: str | None

    @staticmethod
    def resolve_estimated_relief(r: HitRow) -> str:
        return str(r.estimated)

    @staticmethod
    def resolve_verified_relief(r: HitRow) -> str:
        return str(r.verified_yuan)

    @staticmethod
    def resolve_paid(r: HitRow) -> str:
        return str(r.paid_yuan)

    @staticmethod
    def resolve_hit_rate(r: HitRow) -> str | None:
        return None if r.hit_rate is None else str(r.hit_rate)


@router.get("/hit-rates", response=answers(list[HitRateOut], NOT_FOUND))
def hit_rates(request: HttpRequest, year: Year | None = None, county: str = ""):
    """The hit rates per year, county and feed, then per year and feed over the counties,
    then per year; ``year`` one year (all when absent), ``county`` one county code."""
    reason = permissions.why_not(request.user, "reports.hit_rates")
    if reason:
        raise HttpError(403, reason)
    if county and county not in {c.code for c in selectors.hit_rate_counties(request.user)}:
        raise HttpError(404, "no such county in your region (不在您的辖区内或不存在)")
    return selectors.hit_rates(user=request.user, year=year, county=county)
