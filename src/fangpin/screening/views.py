"""Warning work list (预警核查): township officers and village cadres see their warnings,
filter and sort them, export them, open one to see why it fired and the department rows
behind it; officers assign warnings to be checked and dismiss them with a reason, one at
a time or selected on the list (``triage``); county officers run the screening for a
year, and override a data comparison's exclusion with a reason (已比对排除 → 新预警).

Region-scoped through ``fangpin.accounts.permissions``: a warning outside the user's
scope is not found (404); an action the role may not take is refused (403).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fangpin.accounts import permissions
from fangpin.common.audit import audit_record
from fangpin.common.idnumber import mask_id_number, mask_if_id_number
from fangpin.feeds.schemas import SCHEMAS as FEED_SCHEMAS
from fangpin.jobs.exports import export_submit
from fangpin.policy import spec
from fangpin.regions.models import Level

from . import selectors, services, triage
from .exports import warnings_xlsx
from .facts import warning_facts
from .jobs import screening_submit
from .models import Circumstance, DismissReason, WarningStatus

PAGE_SIZE = 50


def _filters(request: HttpRequest) -> dict:
    g = request.GET
    year = g.get("year", "")
    return {
        "year": int(year) if year.isdigit() else None,
        "circumstance": g.get("circumstance", "")
        if g.get("circumstance") in Circumstance.values
        else "",
        "status": g.get("status", selectors.OPEN)
        if g.get("status", selectors.OPEN) in [*selectors.STATUS_FILTERS, ""]
        else selectors.OPEN,
        "region": g.get("region", ""),
        "income_known": g.get("income_known", ""),
        "sort": g.get("sort", "relief") if g.get("sort") in selectors.SORTS else "relief",
        "mine": g.get("mine", "") == "1",
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
    can_assign = permissions.can(request.user, "screening.assign")
    ctx = {
        "page": page,
        "rows": triage.warning_rows(page.object_list),
        "f": f,
        "query": query.urlencode(),
        "here": request.get_full_path(),
        "years": selectors.warning_years(user=request.user),
        "circumstances": Circumstance.choices,
        "statuses": [(selectors.OPEN, _("Open: new or checking")), *WarningStatus.choices],
        "regions": permissions.regions_visible(request.user, level=Level.TOWNSHIP),
        "can_run": permissions.can(request.user, "screening.run"),
        "can_assign": can_assign,
        "can_dismiss": permissions.can(request.user, "screening.dismiss"),
        "checkers": triage.checkers(user=request.user).order_by("region__path", "username")
        if can_assign
        else [],
        "dismiss_reasons": DismissReason.choices,
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
    if qs.count() > settings.FANGPIN_EXPORT_INLINE_ROWS:  # too big to build while the page waits
        job = export_submit(
            exporter="screening.warnings",
            params={"filters": _filters(request)},
            actor=request.user,
            label=_("Warnings export"),
            region_path=permissions.scope_path(request.user) or "",
        )
        audit_record(
            actor=request.user,
            action="screening.warnings.exported",
            data={**_filters(request), "job": job.pk},
        )
        return redirect("jobs:detail", pk=job.pk)
    content = warnings_xlsx(
        qs.select_related("household__village__parent", "assigned_to").iterator(chunk_size=2000)
    )
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
    open_ = warning.status in selectors.OPEN_STATES
    may_open = permissions.can(request.user, "cases.open_warning", warning)
    excluded = warning.status == WarningStatus.EXCLUDED
    [(_w, due, overdue)] = triage.warning_rows([warning])
    can_assign = open_ and permissions.can(request.user, "screening.assign", warning)
    return render(
        request,
        "screening/detail.html",
        {
            "w": warning,
            "refs": refs,
            "facts": warning_facts(warning),
            "due": due,
            "overdue": overdue,
            "excluded": excluded,
            "exclusion_names": [spec.EXCLUSION_LABELS.get(x, x) for x in warning.exclusions],
            "matches": [_match_shown(m) for m in warning.exclusion_matches],
            "can_dismiss": open_ and permissions.can(request.user, "screening.dismiss", warning),
            "can_assign": can_assign,
            "checkers": triage.checkers(user=request.user)
            .filter(region__path__in=_paths_above(warning.region_path))
            .order_by("region__path", "username")
            if can_assign
            else [],
            "dismiss_reasons": DismissReason.choices,
            "can_override": excluded
            and permissions.can(request.user, "screening.exclusion_override", warning),
            "case_url": reverse("cases:from_warning", args=[warning.pk])
            if (open_ and may_open) or warning.status == WarningStatus.CONFIRMED
            else "",
            "confirmed": warning.status == WarningStatus.CONFIRMED,
            "feeds_url": reverse("feeds:index"),
        },
    )


def _paths_above(path: str) -> list[str]:
    """The region paths of a node and of every node above it ("a/b/c/" → "a/", "a/b/", …)."""
    codes = path.strip("/").split("/")
    return ["/".join(codes[: i + 1]) + "/" for i in range(len(codes))]


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
        triage.warning_dismiss(
            warning=warning,
            actor=request.user,
            reason_code=request.POST.get("reason_code", ""),
            reason=request.POST.get("reason", ""),
        )
    except services.ScreeningError as exc:
        messages.error(request, str(exc))
        return redirect("screening:detail", pk=warning.pk)
    messages.success(request, _("Warning dismissed."))
    return redirect("screening:index")


@login_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """One warning to a checker (the detail page's form)."""
    warning = _warning(request, pk)
    permissions.require(request.user, "screening.assign")
    try:
        triage.warnings_assign(warnings=[warning], assignee=_assignee(request), actor=request.user)
    except services.ScreeningError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Warning assigned for checking."))
    return redirect("screening:detail", pk=warning.pk)


def _assignee(request: HttpRequest):
    pk = request.POST.get("assignee", "")
    return get_user_model().objects.filter(pk=int(pk)).first() if pk.isdigit() else None


@login_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """The warnings selected on the list: assign them to a checker, or dismiss them with a
    reason — all or none (``triage``), one audit row each."""
    permissions.require(request.user, "screening.view")
    ids = request.POST.getlist("warning")
    action = request.POST.get("action", "")
    try:
        if action == "assign":
            permissions.require(request.user, "screening.assign")
            done = triage.warnings_assign(
                warnings=ids, assignee=_assignee(request), actor=request.user
            )
            messages.success(request, _("%(n)d warnings assigned for checking.") % {"n": len(done)})
        elif action == "dismiss":
            permissions.require(request.user, "screening.dismiss")
            done = triage.warnings_dismiss(
                warnings=ids,
                actor=request.user,
                reason_code=request.POST.get("reason_code", ""),
                reason=request.POST.get("reason", ""),
            )
            messages.success(request, _("%(n)d warnings dismissed.") % {"n": len(done)})
        else:
            messages.error(request, _("Choose what to do with the selected warnings."))
    except services.ScreeningError as exc:
        messages.error(request, str(exc))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("screening:index")
    return redirect(back)


@login_required
@require_POST
def override_exclusion(request: HttpRequest, pk: int) -> HttpResponse:
    """A county officer puts an excluded warning back on the work list, with a reason."""
    warning = _warning(request, pk)
    permissions.require(request.user, "screening.exclusion_override", warning)
    try:
        triage.warning_exclusion_override(
            warning=warning, actor=request.user, reason=request.POST.get("reason", "")
        )
    except services.ScreeningError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Exclusion overridden: the warning is new again."))
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
