"""Case pages: the work queue, the case list, intake, the case page with the actions this
user may take, evidence, objections, and the print-ready 审批表 and 公示.

Region-scoped through ``fangpin.accounts.permissions``: a case outside the user's
scope is not found (404); an action the role may not take is refused (403); a
refused step re-renders the case page with the reason (400).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from fangpin.accounts import permissions
from fangpin.policy import spec
from fangpin.registry.models import Household

from . import selectors, services, workflow
from .forms import EvidenceForm, IntakeForm
from .models import Case, EvidenceKind, Source

PAGE = 50

# form fields each step takes (besides ``reason``)
STEP_FIELDS = {
    "household_check": ["verified_members", "verified_income", "verified_self_paid"],
    "data_compare": ["override_reason"],
    "village_review": ["review_date", "review_attendees", "review_result"],
    "loss_determine": ["adjusted_self_paid"],
}


def _case(request: HttpRequest, pk: int) -> Case:
    permissions.require(request.user, "cases.view")
    return get_object_or_404(selectors.cases_visible(request.user), pk=pk)


def _rows(cases, today):
    return selectors.case_rows(cases, today)


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "cases.view")
    page = Paginator(selectors.case_queue(request.user), PAGE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    return render(
        request,
        "cases/queue.html",
        {
            "page": page,
            "rows": _rows(page.object_list, today),
            "title": _("Waiting for me 待我处理"),
            "can_open": permissions.can(request.user, "cases.open"),
        },
    )


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "cases.view")
    qs = selectors.cases_visible(request.user).order_by("-opened_at", "-id")
    state = request.GET.get("state", "")
    if state in workflow.State.values:
        qs = qs.filter(state=state)
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "cases/queue.html",
        {
            "page": page,
            "rows": _rows(page.object_list, timezone.localdate()),
            "title": _("All cases 全部案件"),
            "states": workflow.State.choices,
            "state": state,
            "can_open": permissions.can(request.user, "cases.open"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "cases.open")
    form = IntakeForm(request.POST or None, request.FILES or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        household = (
            permissions.scope_filter(
                request.user, Household.objects.select_related("village"), "village__path"
            )
            .filter(household_no=d["household_no"].strip())
            .first()
        )
        if household is None:
            form.add_error("household_no", _("no such household in your region (辖区内无此户)"))
        else:
            try:
                case, joined = services.case_open(
                    household=household,
                    circumstance=d["circumstance"],
                    period=d["period"],
                    source=d["source"],
                    description=d["description"],
                    amount_claimed=d["amount_claimed"],
                    reference=d["reference"],
                    actor=request.user,
                )
                if d.get("evidence"):
                    services.evidence_add(
                        case=case,
                        upload=d["evidence"],
                        kind=d.get("evidence_kind") or EvidenceKind.OTHER,
                        actor=request.user,
                    )
            except services.CaseError as exc:
                error = exc.message
            except PermissionDenied as exc:
                error = str(exc)
            else:
                if joined:
                    messages.info(
                        request,
                        _("An open case already exists; this intake joined it (已并入在办案件)"),
                    )
                return redirect("cases:detail", pk=case.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "cases/new.html", {"form": form, "error": error, "sources": Source}, status=status
    )


def _detail_context(request: HttpRequest, case: Case) -> dict:
    decision = case.current_decision
    members = list(case.household.members.all())
    head = next((m for m in members if m.is_head), members[0] if members else None)
    timeline = [(e, selectors.timeline_label(e.action)) for e in selectors.case_timeline(case)]
    return {
        "case": case,
        "household": case.household,
        "members": members,
        "head": head,
        "intakes": case.intakes.select_related("by"),
        "evidence": case.evidence.all(),
        "objections": case.objections.all(),
        "decisions": case.decisions.select_related("decided_by", "payment").order_by("round"),
        "decision": decision,
        "payment": decision.payment if decision else None,
        "timeline": timeline,
        "actions": selectors.case_actions(case, request.user),
        "due": selectors.case_due(case),
        "overdue": selectors.case_is_overdue(case),
        "exclusion_labels": spec.EXCLUSION_LABELS,
        "evidence_form": EvidenceForm(),
        "can_evidence": permissions.can(request.user, "cases.evidence", case)
        and case.state in workflow.EDITABLE_STATES,
        "can_object": permissions.can(request.user, "cases.objection", case)
        and case.state == workflow.State.PUBLIC_NOTICE,
        "can_override": permissions.can(request.user, "cases.exclusions_override", case),
        "history": case.household.cases.exclude(pk=case.pk).order_by("-opened_at")[:20],
    }


@login_required
def case_detail(request: HttpRequest, pk: int, *, error: str = "", status: int = 200):
    case = _case(request, pk)
    context = _detail_context(request, case)
    context["error"] = error
    return render(request, "cases/detail.html", context, status=status)


@login_required
@require_POST
def case_act(request: HttpRequest, pk: int, transition: str) -> HttpResponse:
    case = _case(request, pk)
    if transition not in workflow.TRANSITIONS:
        raise Http404("unknown step")
    data = {f: request.POST.get(f, "") for f in STEP_FIELDS.get(transition, [])}
    if transition == "household_check":
        data["consent_signed"] = request.POST.get("consent_signed") == "on"
    if transition == "data_compare":
        data["exclusions"] = request.POST.getlist("exclusions")
    try:
        services.case_transition(
            case=case,
            transition=transition,
            actor=request.user,
            reason=request.POST.get("reason", ""),
            data=data,
            version=request.POST.get("version") or None,
        )
    except services.CaseError as exc:
        return case_detail(request, pk, error=exc.message, status=400)
    messages.success(
        request, _("Done: %(step)s") % {"step": workflow.TRANSITIONS[transition].label}
    )
    return redirect("cases:detail", pk=pk)


@login_required
@require_POST
def evidence_upload(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return case_detail(request, pk, error=_("choose a file (请选择文件)"), status=400)
    try:
        services.evidence_add(
            case=case,
            upload=form.cleaned_data["file"],
            kind=form.cleaned_data["kind"],
            actor=request.user,
        )
    except services.CaseError as exc:
        return case_detail(request, pk, error=exc.message, status=400)
    return redirect("cases:detail", pk=pk)


@login_required
def evidence_file(request: HttpRequest, pk: int, evidence_pk: int) -> HttpResponse:
    case = _case(request, pk)
    evidence = get_object_or_404(case.evidence, pk=evidence_pk)
    return FileResponse(
        evidence.file.open("rb"),
        content_type=evidence.content_type,
        filename=evidence.original_name,
    )


@login_required
@require_POST
def objection_new(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    try:
        services.objection_record(case=case, text=request.POST.get("text", ""), actor=request.user)
    except services.CaseError as exc:
        return case_detail(request, pk, error=exc.message, status=400)
    return redirect("cases:detail", pk=pk)


@login_required
@require_POST
def objection_resolve(request: HttpRequest, pk: int, objection_pk: int) -> HttpResponse:
    case = _case(request, pk)
    objection = get_object_or_404(case.objections, pk=objection_pk)
    try:
        services.objection_resolve(
            objection=objection, resolution=request.POST.get("resolution", ""), actor=request.user
        )
    except services.CaseError as exc:
        return case_detail(request, pk, error=exc.message, status=400)
    return redirect("cases:detail", pk=pk)


@login_required
def decision_form(request: HttpRequest, pk: int) -> HttpResponse:
    """The print-ready approval form (审批表)."""
    case = _case(request, pk)
    return render(request, "cases/decision_form.html", _detail_context(request, case))


@login_required
def notice(request: HttpRequest, pk: int) -> HttpResponse:
    """The print-ready public notice (公示) with masked ID numbers."""
    case = _case(request, pk)
    return render(request, "cases/notice.html", _detail_context(request, case))
