"""The hit rates page (预警命中率) for the city and its counties, and its XLSX export.

Region-scoped through ``fangpin.accounts.permissions`` (``reports.hit_rates``): a city
user sees every county, a county officer their county, a department data officer the
rows of its own feeds in its region. The page says what each stage means
(``selectors``' definitions).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from fangpin.accounts import permissions
from fangpin.common.audit import audit_record
from fangpin.common.bounds import year_param

from . import selectors
from .exports import hit_rates_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filters(request: HttpRequest) -> dict:
    """``year`` (blank: the latest with warnings; "all": every year) and ``county``."""
    years = selectors.hit_rate_years(user=request.user)
    text = request.GET.get("year", "")
    latest = years[0] if years else 0
    year = None if text == "all" else (year_param(text, default=latest) or None)
    county = request.GET.get("county", "")
    codes = {c.code for c in selectors.hit_rate_counties(request.user)}
    return {"year": year, "county": county if county in codes else "", "years": years}


@login_required
@require_GET
def hit_rates(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "reports.hit_rates")
    f = _filters(request)
    rows = selectors.hit_rates(user=request.user, year=f["year"], county=f["county"])
    return render(
        request,
        "reports/hit_rates.html",
        {
            "rows": rows,
            "f": f,
            "counties": selectors.hit_rate_counties(request.user),
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_GET
def hit_rates_export(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "reports.hit_rates")
    f = _filters(request)
    rows = selectors.hit_rates(user=request.user, year=f["year"], county=f["county"])
    audit_record(
        actor=request.user,
        action="reports.hit_rates.exported",
        data={"year": f["year"], "county": f["county"], "rows": len(rows)},
    )
    response = HttpResponse(hit_rates_xlsx(rows), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="hit-rates.xlsx"'
    return response
