"""Registry pages: household list, household detail, import upload."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from fangpin.accounts import permissions
from fangpin.common import uploads
from fangpin.common.audit import Action, audit_record
from fangpin.common.money import Money
from fangpin.regions.models import Level
from fangpin.registry.services import household_search_audit

from . import selectors
from .importer import COLUMNS, registry_import
from .models import HouseholdType

PAGE_SIZE = 50
REPORT_KEY = "registry_import_report"


@login_required
def household_list(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "registry.view")
    q = request.GET.get("q", "")
    region_code = request.GET.get("region", "")
    household_type = request.GET.get("type", "")
    if household_type not in HouseholdType.values:
        household_type = ""
    qs = selectors.household_list(
        user=request.user, q=q, region_code=region_code, household_type=household_type
    )
    household_search_audit(user=request.user, q=q, via="page")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    regions = (
        permissions.regions_visible(request.user)
        .filter(level__in=[Level.COUNTY, Level.TOWNSHIP])
        .only("code", "name", "level")
    )
    context = {
        "page": page,
        "q": q,
        "region_code": region_code,
        "household_type": household_type,
        "types": HouseholdType.choices,
        "regions": regions,
        "query": request.GET.copy(),
    }
    template = (
        "registry/_household_rows.html"
        if request.headers.get("HX-Request")
        else "registry/household_list.html"
    )
    return render(request, template, context)


@login_required
def household_detail(request: HttpRequest, household_no: str) -> HttpResponse:
    permissions.require(request.user, "registry.view_detail")
    household = selectors.household_get(user=request.user, household_no=household_no)
    if household is None:  # absent or outside the user's region: the same answer
        raise Http404("no such household in your region")
    # ID numbers are masked unless the user asks for them (显示完整身份证号), which is audited
    reveal = request.GET.get("reveal") == "1"
    audit_record(
        actor=request.user,
        action=Action.HOUSEHOLD_ID_NUMBERS_REVEALED if reveal else Action.HOUSEHOLD_VIEWED,
        obj=household,
        region_path=household.region_path,
    )
    members = list(household.members.all())
    incomes = list(selectors.household_incomes(household=household))
    for record in incomes:  # per-person income, the figure the income test compares with the line
        record.per_person = Money(record.annual_income.amount / len(members)) if members else None
    context = {
        "household": household,
        "members": members,
        "incomes": incomes,
        "ancestors": household.village.ancestors(),
        "reveal": reveal,
    }
    return render(request, "registry/household_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "registry.import")
    return uploads.import_page(
        request,
        template="registry/import.html",
        context={"columns": COLUMNS},
        run=registry_import,
        report_key=REPORT_KEY,
    )


@login_required
def import_report(request: HttpRequest) -> HttpResponse:
    """The last refused import's problems as XLSX (数据问题报告)."""
    permissions.require(request.user, "registry.import")
    return uploads.import_report_download(request, report_key=REPORT_KEY)
