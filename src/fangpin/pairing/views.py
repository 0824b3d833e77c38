"""Pairing pages (结对帮扶): a cadre's households overdue first, the visit form (phone first),
a household's follow-up, the county's rule page with bulk assignment, risk elimination,
outcomes (返贫/新致贫), cadres and their import.

Region-scoped through ``fangpin.accounts.permissions``: a household outside the
user's scope is not found (404), an action the role may not take is refused
(403). Writes are POST-redirect-GET; a refused write re-renders the page with the
service's message (status 400).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from fangpin.accounts import permissions
from fangpin.common import clock
from fangpin.common.audit import Action, audit_record
from fangpin.common.bounds import year_param
from fangpin.common.uploads import import_page, import_report_download
from fangpin.regions.models import Level
from fangpin.registry import selectors as registry_selectors
from fangpin.registry.models import Household

from . import selectors, services, visits
from .errors import PairingError, check_date
from .forms import (
    AssignForm,
    PlacementFormSet,
    ProblemFormSet,
    RiskCloseForm,
    SolveForm,
    VisitForm,
)
from .home import home_outcome
from .importer import COLUMNS, cadre_import
from .models import RURAL_LEVELS, Cadre, Problem, active_on_q
from .outcomes import income_years, outcome_report
from .risk import risk_checks
from .rules import visit_period_of_user
from .visits import PlacementIn, ProblemIn

PAGE_SIZE = 50
REPORT_KEY = "pairing_cadre_import_report"


def _household(request: HttpRequest, household_no: str, action: str = "pairing.view") -> Household:
    """The household if in the user's scope (else 404) and ``action`` allowed (else 403)."""
    permissions.require(request.user, action)
    household = registry_selectors.household_get(user=request.user, household_no=household_no)
    if household is None:  # absent or outside the user's region: the same answer
        raise Http404("no such household in your region")
    return household


def _context(request: HttpRequest, **extra) -> dict:
    user = request.user
    today = clock.today()
    return {
        "today": today,
        # the visit period the pages speak of (a quarter in the reference parameters)
        "period": visit_period_of_user(user=user, today=today),
        "can_assign": permissions.can(user, "pairing.assign"),
        "can_visit": permissions.can(user, "pairing.visit"),
        "can_close": permissions.can(user, "pairing.close_risk"),
        "can_import": permissions.can(user, "pairing.import"),
        "can_outcomes": permissions.can(user, "pairing.outcomes"),
        **extra,
    }


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """A cadre's own households, overdue first; the region's compliance, problems and totals."""
    permissions.require(request.user, "pairing.view")
    ctx = _context(request)
    today = ctx["today"]
    cadre = selectors.cadre_of(user=request.user)
    ctx["cadre"] = cadre
    if cadre is not None:
        mine = selectors.followup_households(user=request.user, today=today, cadre=cadre)
        ctx["mine"] = Paginator(mine, PAGE_SIZE).get_page(request.GET.get("page"))
        ctx["mine_overdue"] = mine.filter(overdue=True).count()
    ctx["compliance"] = selectors.compliance_by_region(user=request.user, today=today)
    ctx["compliance_total"] = selectors.ComplianceRow(
        "",
        _("Total"),
        sum(r.paired for r in ctx["compliance"]),
        sum(r.visited for r in ctx["compliance"]),
    )
    ctx["problems"] = selectors.problem_counts(user=request.user)
    ctx["problems_open"] = sum(p.open for p in ctx["problems"])
    ctx["problems_solved"] = sum(p.solved for p in ctx["problems"])
    ctx["totals"] = selectors.totals_by_year(user=request.user)
    return render(request, "pairing/index.html", ctx)


@login_required
def overdue(request: HttpRequest) -> HttpResponse:
    """Households not visited this visit period (本季度未走访), oldest last visit first."""
    permissions.require(request.user, "pairing.view")
    ctx = _context(request)
    region_code = request.GET.get("region", "")
    qs = selectors.followup_households(
        user=request.user, today=ctx["today"], overdue_only=True, region_code=region_code
    )
    ctx["page"] = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx["region_code"] = region_code
    ctx["regions"] = permissions.regions_visible(request.user).filter(
        level__in=[Level.COUNTY, Level.TOWNSHIP]
    )
    return render(request, "pairing/overdue.html", ctx)


# --- the pairing rule: relief paid without a rural contact -----------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def rule(request: HttpRequest) -> HttpResponse:
    """Households that received relief without a rural contact; suggested cadres; bulk assign."""
    permissions.require(request.user, "pairing.view")
    ctx = _context(request)
    today = ctx["today"]
    everyone = request.GET.get("all") == "1"
    breaches = selectors.rule_breaches(user=request.user, today=today, everyone=everyone)
    if request.method == "POST":
        permissions.require(request.user, "pairing.assign")
        try:
            if request.POST.get("action") == "all":
                households = list(breaches)
                suggested = selectors.cadre_suggestions(households=households, today=today)
                assignments = [
                    (h.pk, suggested[h.pk][0].cadre_id) for h in households if suggested[h.pk]
                ]
            else:
                assignments = []
                for raw in request.POST.getlist("household"):
                    cadre_id = request.POST.get(f"cadre_{raw}", "")
                    if raw.isdigit() and cadre_id.isdigit():
                        assignments.append((int(raw), int(cadre_id)))
            result = services.pairing_assign_bulk(
                assignments=assignments,
                start_date=request.POST.get("start_date") or None,
                reason=request.POST.get("reason", ""),
                actor=request.user,
            )
        except PairingError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("%(created)d households paired (%(ended)d reassigned, %(same)d unchanged).")
                % {"created": len(result.created), "ended": result.ended, "same": result.unchanged},
            )
        return redirect(request.get_full_path())
    page = Paginator(breaches, PAGE_SIZE).get_page(request.GET.get("page"))
    suggestions = selectors.cadre_suggestions(households=list(page), today=today)
    ctx.update(
        page=page,
        rows=[(h, suggestions.get(h.pk, [])) for h in page],
        everyone=everyone,
        query=request.GET.copy(),
    )
    return render(request, "pairing/rule.html", ctx)


# --- one household -------------------------------------------------------------------------


def _cadres_for(household: Household, today) -> list[tuple[str, str]]:
    """Active cadres who may be paired with or visit ``household``: rural ones first, then by load."""
    paths = [household.village.path]
    path = household.village.path
    while path.count("/") > 1:  # the village's township, county and city
        path = path[: path[:-1].rfind("/") + 1]
        paths.append(path)
    cadres = (
        Cadre.objects.filter(active=True, region__path__in=paths)
        .select_related("region")
        .annotate(pairs=Count("pairings", filter=active_on_q(today, "pairings__")))
    )
    ordered = sorted(
        cadres, key=lambda c: (c.level not in RURAL_LEVELS, -len(c.region.path), c.pairs, c.name)
    )
    return [
        (str(c.pk), f"{c.name} · {c.work_unit} · {c.get_level_display()} ({c.pairs})")
        for c in ordered[:200]
    ]


@login_required
def household(request: HttpRequest, household_no: str) -> HttpResponse:
    """A household's follow-up: its contact and pairing history, visits, problems, help, closure."""
    h = _household(request, household_no)
    ctx = _context(request)
    followup = selectors.household_followup(household=h, today=ctx["today"])
    audit_record(
        actor=request.user, action=Action.PAIRING_HOUSEHOLD_VIEWED, obj=h, region_path=h.region_path
    )
    ctx.update(
        household=h,
        f=followup,
        solve_form=SolveForm(),
        assign_form=AssignForm(cadre_choices=_cadres_for(h, ctx["today"]))
        if ctx["can_assign"]
        else None,
    )
    return render(request, "pairing/household.html", ctx)


@login_required
@require_POST
def assign(request: HttpRequest, household_no: str) -> HttpResponse:
    h = _household(request, household_no, "pairing.assign")
    form = AssignForm(request.POST, cadre_choices=_cadres_for(h, clock.today()))
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("pairing:household", h.household_no)
    cadre = get_object_or_404(Cadre, pk=int(form.cleaned_data["cadre"]))
    try:
        services.pairing_assign(
            household=h,
            cadre=cadre,
            start_date=form.cleaned_data["start_date"],
            reason=form.cleaned_data["reason"],
            actor=request.user,
        )
    except PairingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s is now the household's contact.") % {"name": cadre})
    return redirect("pairing:household", h.household_no)


def _visit_forms(request: HttpRequest, household: Household, own_cadre: Cadre | None):
    members = [(str(m.pk), f"{m.name} ({m.relation})") for m in household.members.all()]
    cadre_choices = None if own_cadre else _cadres_for(household, clock.today())
    data = request.POST if request.method == "POST" else None
    visit = VisitForm(data, cadre_choices=cadre_choices)
    problems = ProblemFormSet(data, prefix="problems")
    placements = PlacementFormSet(
        data, prefix="placements", form_kwargs={"member_choices": members}
    )
    return visit, problems, placements


@login_required
@require_http_methods(["GET", "POST"])
def visit_new(request: HttpRequest, household_no: str) -> HttpResponse:
    """Record a visit (登记走访): phone first — date, how, who, findings, problems, a job found."""
    h = _household(request, household_no, "pairing.visit")
    own = selectors.cadre_of(user=request.user)
    form, problems, placements = _visit_forms(request, h, own)
    status = 200
    error = ""
    if request.method == "POST":
        if form.is_valid() and problems.is_valid() and placements.is_valid():
            d = form.cleaned_data
            cadre = own
            if "cadre" in d and d.get("cadre"):
                cadre = Cadre.objects.filter(pk=int(d["cadre"])).first()
            try:
                visits.visit_record(
                    household=h,
                    cadre=cadre,
                    visited_on=d["visited_on"],
                    mode=d["mode"],
                    met=d["met"],
                    findings=d["findings"],
                    help_given=d["help_given"],
                    problems=[
                        ProblemIn(p["category"], p["description"])
                        for p in problems.cleaned_data
                        if p.get("category")
                    ],
                    placements=[
                        PlacementIn(
                            member_id=p["member"],
                            employer=p["employer"],
                            job=p["job"],
                            daily_wage=p["daily_wage"],
                            started_on=p.get("started_on"),
                        )
                        for p in placements.cleaned_data
                        if p.get("member")
                    ],
                    actor=request.user,
                )
            except PairingError as exc:
                if exc.field in form.fields:
                    form.add_error(exc.field, exc.message)
                error = exc.message
                status = 400
            else:
                messages.success(request, _("Visit to %(no)s recorded.") % {"no": h.household_no})
                if own is not None:
                    return redirect("pairing:index")
                return redirect("pairing:household", h.household_no)
        else:
            status = 400
    ctx = _context(
        request,
        household=h,
        form=form,
        problems=problems,
        placements=placements,
        error=error,
        own_cadre=own,
        head=h.members.filter(relation__in=["户主", "head", "本人"]).first(),
    )
    return render(request, "pairing/visit_form.html", ctx, status=status)


@login_required
@require_POST
def problem_solve(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require(request.user, "pairing.visit")
    problem = get_object_or_404(
        permissions.scope_filter(
            request.user,
            Problem.objects.select_related("household", "household__village"),
            "household__village__path",
        ),
        pk=pk,
    )
    form = SolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    else:
        try:
            visits.problem_solve(
                problem=problem,
                solution=form.cleaned_data["solution"],
                solved_on=form.cleaned_data["solved_on"],
                actor=request.user,
            )
        except PairingError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Problem marked solved."))
    return redirect("pairing:household", problem.household.household_no)


@login_required
@require_http_methods(["GET", "POST"])
def risk(request: HttpRequest, household_no: str) -> HttpResponse:
    """Risk elimination (风险消除): the checks on a date, and closing when all hold."""
    h = _household(request, household_no, "pairing.close_risk")
    ctx = _context(request, household=h)
    form = RiskCloseForm(request.POST or None)
    on = ctx["today"]
    status = 200
    if request.method == "POST":
        if form.is_valid():
            on = form.cleaned_data["closed_on"]
            try:
                services.risk_close(
                    household=h,
                    closed_on=on,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except PairingError as exc:
                ctx["error"] = exc.message
                status = 400
            else:
                messages.success(request, _("Risk eliminated; monitoring closed."))
                return redirect("pairing:household", h.household_no)
        else:
            status = 400
    elif request.GET.get("on"):
        try:
            on = check_date(request.GET["on"], "on")
        except PairingError as exc:
            ctx["error"] = exc.message
    ctx.update(
        form=form,
        on=on,
        checks=risk_checks(household=h, on=on),
        running=h.pairings.filter(end_date__isnull=True).select_related("cadre").first(),
    )
    return render(request, "pairing/risk.html", ctx, status=status)


# --- outcomes --------------------------------------------------------------------------------


@login_required
def outcomes(request: HttpRequest) -> HttpResponse:
    """返贫 and 新致贫 by year: counts by region and the households by name."""
    permissions.require(request.user, "pairing.outcomes")
    ctx = _context(request)
    years = income_years(user=request.user)
    # first the current year's, or the latest before it with incomes on record
    this_year = ctx["today"].year
    year = year_param(
        request.GET.get("year"),
        default=next((y for y in years if y <= this_year), this_year),
    )
    report = outcome_report(user=request.user, year=year)
    ctx.update(
        years=years,
        year=year,
        report=report,
        page=Paginator(report.rows, 100).get_page(request.GET.get("page")),
    )
    return render(request, "pairing/outcomes.html", ctx)


@login_required
def home_outcomes(request: HttpRequest) -> HttpResponse:
    """The home page's 返贫/新致贫 cards, loaded after the page (htmx)."""
    permissions.require(request.user, "pairing.outcomes")
    outcome = home_outcome(user=request.user, today=clock.today())
    return render(request, "pairing/_home_outcomes.html", {"outcome": outcome})


# --- cadres ----------------------------------------------------------------------------------


@login_required
def cadres(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "pairing.view")
    ctx = _context(request)
    q = request.GET.get("q", "")
    qs = selectors.cadre_list(user=request.user, today=ctx["today"], q=q)
    counts = qs.aggregate(
        rural=Count("pk", filter=Q(level__in=RURAL_LEVELS)),
        others=Count("pk", filter=~Q(level__in=RURAL_LEVELS)),
    )
    ctx.update(page=Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page")), q=q, **counts)
    return render(request, "pairing/cadres.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def cadre_import_view(request: HttpRequest) -> HttpResponse:
    """Upload the cadre file (.xlsx or .csv): checked whole, nothing written on a problem."""
    permissions.require(request.user, "pairing.import")
    return import_page(
        request,
        template="pairing/cadre_import.html",
        context=_context(request, columns=COLUMNS),
        run=cadre_import,
        report_key=REPORT_KEY,
    )


@login_required
def cadre_import_report(request: HttpRequest) -> HttpResponse:
    """The last refused cadre import's problems as XLSX."""
    permissions.require(request.user, "pairing.import")
    return import_report_download(request, report_key=REPORT_KEY)
