"""Case pages: the work queue, the case list, intake, the case page with the actions this
user may take, evidence, objections, and the print-ready 审批表 and 公示.

Region-scoped through ``fangpin.accounts.permissions``: a case outside the user's
scope is not found (404); an action the role may not take is refused (403); a
refused step re-renders the case page with the reason (400).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from fangpin.accounts import permissions
from fangpin.common import clock
from fangpin.common.idnumber import mask_id_number
from fangpin.feeds import schemas as feed_schemas
from fangpin.policy import spec
from fangpin.policy.exclusions import EXCLUSION_FEEDS
from fangpin.registry.models import HouseholdType
from fangpin.registry.services import MemberIn, RegistryError

from . import selectors, services, workflow
from .forms import RELATIONS, EvidenceForm, IntakeForm, MemberFormSet
from .models import Case, Source

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
    today = clock.today()
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
    state = request.GET.get("state", "")
    if state not in workflow.State.values:
        state = ""
    qs = selectors.case_list(request.user, state=state)
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "cases/queue.html",
        {
            "page": page,
            "rows": _rows(page.object_list, clock.today()),
            "title": _("All cases 全部案件"),
            "states": workflow.State.choices,
            "state": state,
            "can_open": permissions.can(request.user, "cases.open"),
        },
    )


def _registration(form: IntakeForm, members: Any) -> tuple[dict[str, Any], list[int]]:
    """The new household of the intake form as ``household_register`` arguments, and the
    form row of each member given (blank rows are skipped)."""
    d = form.cleaned_data
    given = [(i, m) for i, m in enumerate(members.forms) if not m.is_blank()]
    registration = {
        "village": d["village"].strip(),
        "household_no": d["new_household_no"],
        "household_type": d["household_type"] or HouseholdType.ORDINARY,
        "bank": d["bank"],
        "bank_account": d["bank_account"],
        "head": MemberIn(
            name=d["head_name"],
            id_number=d["head_id_number"],
            sex=d["head_sex"],
            birth_date=d["head_birth_date"],
            labour=d["head_labour"],
        ),
        "members": [
            MemberIn(
                name=m.cleaned_data["name"],
                id_number=m.cleaned_data["id_number"],
                relation=m.cleaned_data["relation"],
                sex=m.cleaned_data["sex"],
                birth_date=m.cleaned_data["birth_date"],
                labour=m.cleaned_data["labour"],
            )
            for _, m in given
        ],
    }
    return registration, [i for i, _ in given]


# a problem's field in ``household_register`` -> the intake form's field
REGISTRATION_FIELDS = {
    "village": "village",
    "household_no": "new_household_no",
    "household_type": "household_type",
    "bank": "bank",
    "bank_account": "bank_account",
}


def _registration_errors(
    form: IntakeForm, members: Any, rows: list[int], exc: RegistryError
) -> None:
    """Put each problem of a refused registration on the field it names."""
    for problem in exc.problems:
        where, _sep, name = problem.field.partition(".")
        if where == "head":
            form.add_error(f"head_{name}", problem.message)
        elif where.startswith("members["):
            index = int(where[len("members[") : -1]) - 1
            members.forms[rows[index]].add_error(name, problem.message)
        else:
            form.add_error(REGISTRATION_FIELDS.get(where), problem.message)


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    """Intake (受理): a registered household by its number, or a new one registered here."""
    permissions.require(request.user, "cases.open")
    form = IntakeForm(request.POST or None, request.FILES or None, user=request.user)
    # the member rows count only when a new household is registered
    registering = request.method == "POST" and bool(request.POST.get("register"))
    members = MemberFormSet(request.POST if registering else None, prefix="members")
    error = ""
    if request.method == "POST" and form.is_valid() and (not registering or members.is_valid()):
        d = form.cleaned_data
        case_fields = {
            "circumstance": d["circumstance"],
            "period": d["period"],
            "source": d["source"],
            "description": d["description"],
            "amount_claimed": d["amount_claimed"],
            "reference": d["reference"],
            "member_id_number": d["member_id_number"],
            "event_date": d["event_date"],
            "actor": request.user,
        }
        registration, rows = _registration(form, members) if d["register"] else (None, [])
        try:
            intaken = services.case_intake(
                household_no=d["household_no"],
                registration=registration,
                evidence=d.get("evidence"),
                evidence_kind=d.get("evidence_kind") or "",
                **case_fields,
            )
        except RegistryError as exc:
            _registration_errors(form, members, rows, exc)
            error = _(
                "The new household was not registered; see the fields marked below. (新户未登记，请修改标出的内容)"
            )
        except services.CaseError as exc:
            error = exc.message
            if exc.field in form.fields:  # shown at the field too
                form.add_error(exc.field, exc.message)
        except PermissionDenied as exc:
            error = str(exc)
        else:
            if intaken.joined:
                messages.info(
                    request,
                    _("An open case already exists; this intake joined it (已并入在办案件)"),
                )
            if intaken.registered:
                messages.success(
                    request,
                    _("Household %(no)s registered 已登记新户")
                    % {"no": intaken.household.household_no},
                )
            return redirect("cases:detail", pk=intaken.case.pk)
    status = 400 if request.method == "POST" else 200
    show_household = bool(form["register"].value()) or any(
        form[name].errors for name in (*IntakeForm.HOUSEHOLD_FIELDS, *IntakeForm.HEAD_FIELDS)
    )
    return render(
        request,
        "cases/new.html",
        {
            "form": form,
            "members": members,
            "relations": RELATIONS,
            "show_household": show_household,
            "error": error,
            "sources": Source,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def case_from_warning(request: HttpRequest, warning_pk: int) -> HttpResponse:
    """POST: open the relief cases of a screening warning (one per student or accident),
    then go to the first; the others are listed in a message. GET: the cases opened from
    it (the warning page's link): the case, or the list of them. The hand-off is the
    cases app's."""
    from fangpin.screening.selectors import warning_get

    permissions.require(request.user, "screening.view")
    warning = warning_get(user=request.user, pk=warning_pk)
    if warning is None:  # absent or outside the user's region: the same answer
        raise Http404("no such warning in your region")
    if request.method == "GET":
        return _cases_of_warning(request, warning.pk)
    permissions.require(request.user, "cases.open_warning", warning)
    try:
        opened = services.case_open_from_warning(warning=warning, actor=request.user)
    except services.CaseError as exc:
        messages.error(request, exc.message)
        return redirect("screening:detail", pk=warning.pk)
    if len(opened) > 1:
        messages.info(
            request,
            _("%(n)d cases opened: %(numbers)s")
            % {"n": len(opened), "numbers": ", ".join(case.number for case, _ in opened)},
        )
    return redirect("cases:detail", pk=opened[0][0].pk)


def _cases_of_warning(request: HttpRequest, warning_pk: int) -> HttpResponse:
    permissions.require(request.user, "cases.view")
    qs = selectors.case_list(request.user, warning=warning_pk)
    cases = list(qs[:PAGE])
    if len(cases) == 1:
        return redirect("cases:detail", pk=cases[0].pk)
    return render(
        request,
        "cases/queue.html",
        {
            "page": Paginator(cases, PAGE).get_page(1),
            "rows": _rows(cases, clock.today()),
            "title": _("Cases opened from screening warning %(n)d") % {"n": warning_pk},
            "can_open": False,
        },
    )


def _comparison_context(case: Case, members: list, actions: list) -> dict | None:
    """The data comparison (信息比对) as the case page shows it: what was recorded at the step,
    or — while the case waits there for this user — what the feeds show now (a preview)."""
    data, preview = case.comparison or None, False
    waiting = case.state == workflow.State.DATA_COMPARISON
    if not data and waiting and any(a.name == "data_compare" for a in actions):
        data, preview = services.case_comparison(case).as_dict(), True
    if not data:
        return None
    names = {m.id_number: m.name for m in members}

    def feed_title(exclusion: str) -> str:
        feed = feed_schemas.SCHEMAS[EXCLUSION_FEEDS[exclusion]]
        return f"{feed.title_zh} {feed.title_en}"

    return {
        "preview": preview,
        "year": data["year"],
        "checked_at": dt.datetime.fromisoformat(data["checked_at"])
        if data.get("checked_at")
        else None,
        "found": [spec.EXCLUSION_LABELS[x] for x in data["found"]],
        "otherwise": [spec.EXCLUSION_LABELS[x] for x in data.get("otherwise", [])],
        "no_data": [
            {"exclusion": x, "label": spec.EXCLUSION_LABELS[x], "feed": feed_title(x)}
            for x in data["no_data"]
        ],
        "all_missing": len(data["no_data"]) == len(spec.EXCLUSIONS),
        "matches": [
            {
                **m,
                "label": spec.EXCLUSION_LABELS[m["exclusion"]],
                "feed_title": feed_title(m["exclusion"]),
                "name": names.get(m["id_number"], ""),
                "masked": mask_id_number(m["id_number"]),
            }
            for m in data["matches"]
        ],
    }


def _detail_context(request: HttpRequest, case: Case) -> dict:
    decision = case.current_decision
    members = list(case.household.members.all())
    head = next((m for m in members if m.is_head), members[0] if members else None)
    timeline = [(e, selectors.timeline_label(e.action)) for e in selectors.case_timeline(case)]
    actions = selectors.case_actions(case, request.user)
    return {
        "comparison": _comparison_context(case, members, actions),
        "case": case,
        "household": case.household,
        "members": members,
        "head": head,
        "claim_member": next((m for m in members if m.id_number == case.member_id_number), None),
        "deciding_date": services.case_deciding_date(case),
        "intakes": case.intakes.select_related("by"),
        "evidence": case.evidence.all(),
        "objections": case.objections.all(),
        "decisions": case.decisions.select_related("decided_by", "payment").order_by("round"),
        "decision": decision,
        "payment": decision.payment if decision else None,
        "timeline": timeline,
        "actions": actions,
        "due": selectors.case_due(case),
        "overdue": selectors.case_is_overdue(case),
        "exclusion_labels": spec.EXCLUSION_LABELS,
        "exclusion_names": [spec.EXCLUSION_LABELS.get(x, x) for x in case.exclusions],
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
    services.evidence_opened(case=case, evidence=evidence, actor=request.user)
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
