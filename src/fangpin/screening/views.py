"""Warning work list (预警核查): township officers see their warnings, filter and sort them,
export them, open one to see why it fired, and dismiss it with a reason; county officers
run the screening for a year, and override a data comparison's exclusion with a reason
(已比对排除 → 待核查).

Region-scoped through ``fangpin.accounts.permissions``: a warning outside the user's
scope is not found (404); an action the role may not take is refused (403).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fangpin.accounts import permissions
from fangpin.common.audit import audit_record
from fangpin.common.idnumber import mask_id_number, mask_if_id_number
from fangpin.feeds.schemas import SCHEMAS as FEED_SCHEMAS
from fangpin.policy import spec
from fangpin.regions.models import Level

from . import selectors, services
from .exports import warnings_xlsx
from .jobs import screening_submit
from .models import Circumstance, WarningStatus

PAGE_SIZE = 50


def _filters(request: HttpRequest) -> dict:
    g = request.GET
    year = g.get("year", "")
    return {
        "year": int(year) if year.isdigit() else None,
        "circumstance": g.get("circumstance", "")
        if g.get("circumstance") in Circumstance.values
        else "",
        "status": g.get("status", WarningStatus.OPEN)
        if g.get("status", WarningStatus.OPEN) in [*WarningStatus.values, ""]
        else WarningStatus.OPEN,
        "region": g.get("region", ""),
        "income_known": g.get("income_known", ""),
        "sort": g.get("sort", "relief") if g.get("sort") in selectors.SORTS else "relief",
    }


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "screening.view")
    f = _filters(request)
    qs = selectors.warning_list(user=request.user, **f)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {
        "page": page,
        "f": f,
        "query": query.urlencode(),
        "years": selectors.warning_years(user=request.user),
        "circumstances": Circumstance.choices,
        "statuses": WarningStatus.choices,
        "regions": permissions.regions_visible(request.user, level=Level.TOWNSHIP),
        "can_run": permissions.can(request.user, "screening.run"),
        "this_year": timezone.localdate().year,
    }
    template = (
        "screening/_rows.html" if request.headers.get("HX-Request") else "screening/index.html"
    )
    return render(request, template, ctx)


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "screening.view")
    qs = selectors.warning_list(user=request.user, **_filters(request))
    content = warnings_xlsx(qs.select_related("household__village").iterator(chunk_size=2000))
    audit_record(actor=request.user, action="screening.warnings.exported", data=_filters(request))
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = 'attachment; filename="warnings.xlsx"'
    return response


def _warning(request: HttpRequest, pk: int):
    permissions.require(request.user, "screening.view")
    warning = selectors.warning_get(user=request.user, pk=pk)
    if warning is None:  # absent or outside the user's region: the same answer
        raise Http404("no such warning in your region")
    return warning


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    warning = _warning(request, pk)
    refs = [mask_if_id_number(r) for r in warning.feed_refs]
    may_open = permissions.can(request.user, "cases.open_warning", warning)
    case_url = reverse("cases:from_warning", args=[warning.pk]) if may_open else ""
    excluded = warning.status == WarningStatus.EXCLUDED
    return render(
        request,
        "screening/detail.html",
        {
            "w": warning,
            "refs": refs,
            "excluded": excluded,
            "exclusion_names": [spec.EXCLUSION_LABELS.get(x, x) for x in warning.exclusions],
            "matches": [_match_shown(m) for m in warning.exclusion_matches],
            "can_dismiss": permissions.can(request.user, "screening.dismiss")
            and warning.status == WarningStatus.OPEN,
            "can_override": excluded
            and permissions.can(request.user, "screening.exclusion_override", warning),
            "case_url": case_url if warning.status == WarningStatus.OPEN else "",
        },
    )


def _match_shown(match: dict) -> dict:
    """A feed row behind an exclusion as the page shows it: labels, the ID number masked."""
    feed = FEED_SCHEMAS.get(match.get("feed", ""))
    return {
        **match,
        "label": spec.EXCLUSION_LABELS.get(match.get("exclusion", ""), match.get("exclusion")),
        "feed_title": f"{feed.title_zh} {feed.department_zh}" if feed else match.get("feed"),
        "id_number": mask_id_number(match.get("id_number", "")),
    }


@login_required
@require_POST
def dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    warning = _warning(request, pk)
    permissions.require(request.user, "screening.dismiss")
    try:
        services.warning_dismiss(
            warning=warning, actor=request.user, reason=request.POST.get("reason", "")
        )
    except services.ScreeningError as exc:
        messages.error(request, str(exc))
        return redirect("screening:detail", pk=warning.pk)
    messages.success(request, _("Warning dismissed."))
    return redirect("screening:index")


@login_required
@require_POST
def override_exclusion(request: HttpRequest, pk: int) -> HttpResponse:
    """A county officer puts an excluded warning back on the work list, with a reason."""
    warning = _warning(request, pk)
    permissions.require(request.user, "screening.exclusion_override", warning)
    try:
        services.warning_exclusion_override(
            warning=warning, actor=request.user, reason=request.POST.get("reason", "")
        )
    except services.ScreeningError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Exclusion overridden: the warning is open again."))
    return redirect("screening:detail", pk=warning.pk)


@login_required
@require_POST
def run(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "screening.run")
    year = request.POST.get("year", "")
    counties = list(permissions.visible_counties(request.user))
    scope = permissions.scope_path(request.user) or ""
    # a county officer screens their county; a city user screens every county
    county_code = counties[0].code if len(counties) == 1 and scope else ""
    try:
        year_number = int(year) if year.isdigit() else 0
        if not 2017 <= year_number <= timezone.localdate().year:
            raise services.ScreeningError(services.ERR_YEAR)
        job = screening_submit(year=year_number, county_code=county_code, actor=request.user)
    except services.ScreeningError as exc:
        messages.error(request, str(exc))
    else:
        return redirect("jobs:detail", pk=job.pk)
    return redirect("screening:index")
