"""Fund pages (防贫资金): the city's counties side by side, one county's fund for a year,
imports, bank files, the journal and the settlement report.

Region-scoped through ``fangpin.accounts.permissions``: a county outside the
user's region is not found (404), an action the role may not take is refused
(403). Writes are POST-redirect-GET; a refused write re-renders the page with
the service's message on the field (status 400).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fangpin.accounts import permissions
from fangpin.common import clock
from fangpin.common.audit import Action, audit_record
from fangpin.common.bounds import year_param
from fangpin.common.money import Money
from fangpin.common.uploads import import_page, import_report_download
from fangpin.regions.models import Region

from . import exports, selectors, services
from .forms import ContractForm, ContributionForm, ReasonForm, RetryForm
from .importer import CONTRIBUTION_COLUMNS, RETURN_COLUMNS, bank_return_import, contributions_import
from .models import BankBatch, Contribution, InsuranceContract, Payment, PaymentStatus
from .services import FundError

JOURNAL_PAGE = 100


REPORT_KEY = "funds_import_report"


def _year_or_404(year: int) -> int:
    if year < services.FIRST_YEAR or year > clock.today().year + 1:
        raise Http404("no such fund year")
    return year


def _county(request: HttpRequest, code: str, action: str = "funds.view") -> Region:
    """The county if the user may see its fund (else 404) and take ``action`` there (else 403)."""
    permissions.require(request.user, "funds.view")
    county = selectors.fund_county_get(user=request.user, code=code)
    if county is None:  # absent or outside the user's region: the same answer
        raise Http404("no such county in your region")
    if action != "funds.view":
        permissions.require(request.user, action, county)
    return county


def _page(request: HttpRequest, county: Region, year: int) -> str:
    return reverse("funds:county", args=[county.code, year])


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The city's counties side by side; a single-county user goes straight to their county."""
    permissions.require(request.user, "funds.view")
    counties = list(selectors.fund_counties(user=request.user))
    if not counties:
        raise Http404("no county in your region")
    today = clock.today()
    year = _year_or_404(year_param(request.GET.get("year"), default=today.year))
    if len(counties) == 1:
        return redirect("funds:county", counties[0].code, year)
    rows = selectors.fund_summaries(counties=counties, year=year, today=today)
    totals = {
        "premium": sum((r.premium for r in rows), Money(0)),
        "raised": sum((r.raised for r in rows), Money(0)),
        "relief_paid": sum((r.relief_paid for r in rows), Money(0)),
        "result": sum((r.result_to_date for r in rows), Money(0)),
        "projected": sum((r.projected_result or Money(0) for r in rows), Money(0)),
    }
    return render(
        request,
        "funds/overview.html",
        {
            "rows": rows,
            "year": year,
            "totals": totals,
            "years": list(range(today.year, today.year - 6, -1)),
        },
    )


def _county_context(
    request: HttpRequest, county: Region, year: int, **forms: Any
) -> dict[str, Any]:
    user = request.user
    summary = selectors.fund_summary(county=county, year=year)
    payments = selectors.payments_list(county=county, year=year)
    return {
        "county": county,
        "year": year,
        "s": summary,
        "contributions": selectors.contributions_list(county=county, year=year),
        "failed": payments.filter(status=PaymentStatus.FAILED),
        "recent": payments[:20],
        "requested_count": payments.filter(status=PaymentStatus.REQUESTED).count(),
        "batches": selectors.batches_list(county=county, year=year)[:10],
        "history": selectors.settlement_history(county=county, year=year),
        "contribution_form": forms.get("contribution_form") or ContributionForm(),
        "contract_form": forms.get("contract_form") or ContractForm(),
        "reopen_form": forms.get("reopen_form") or ReasonForm(),
        "can_record": permissions.can(user, "funds.record_contribution", county),
        "can_contract": permissions.can(user, "funds.contract", county),
        "can_pay": permissions.can(user, "funds.pay", county),
        "can_settle": permissions.can(user, "funds.settle", county),
        "year_over": year < clock.today().year,
        "prev_year": year - 1,
        "next_year": year + 1 if year < clock.today().year else None,
        "many_counties": selectors.fund_counties(user=user).count() > 1,
    }


def _download(out: Any) -> HttpResponse:
    """A file of ``exports`` (content, content type, file name) as a download."""
    response = HttpResponse(out.content, content_type=out.content_type)
    response["Content-Disposition"] = f'attachment; filename="{out.filename}"'
    return response


def _refused(
    request: HttpRequest, county: Region, year: int, exc: FundError, **forms: Any
) -> HttpResponse:
    """Re-render the county page with the service's message on its field (or on top)."""
    for form in forms.values():
        if exc.field in form.fields:
            form.add_error(exc.field, exc.message)
            break
    else:
        messages.error(request, exc.message)
    return render(
        request, "funds/county.html", _county_context(request, county, year, **forms), status=400
    )


@login_required
@require_GET
def county_page(request: HttpRequest, code: str, year: int) -> HttpResponse:
    county = _county(request, code)
    year = _year_or_404(year)
    return render(request, "funds/county.html", _county_context(request, county, year))


def _form_post(
    request: HttpRequest, code: str, year: int, *, action: str, form: Any, name: str, write: Any
) -> HttpResponse:
    """A form of the county page: checked, then ``write(county, year, cleaned_data)`` (a
    service, returning the success message); the page again with the refusal (400) at the
    form's field, or the county page with the message."""
    county = _county(request, code, action)
    year = _year_or_404(year)
    bound = form(request.POST)
    if not bound.is_valid():
        return render(
            request,
            "funds/county.html",
            _county_context(request, county, year, **{name: bound}),
            status=400,
        )
    try:
        message = write(county, year, bound.cleaned_data)
    except FundError as exc:
        return _refused(request, county, year, exc, **{name: bound})
    messages.success(request, message)
    return redirect(_page(request, county, year))


@login_required
@require_POST
def contribution_create(request: HttpRequest, code: str, year: int) -> HttpResponse:
    def record(county: Region, year: int, d: dict) -> str:
        c = services.fund_contribution_record(
            county=county,
            year=year,
            source=d["source"],
            amount=d["amount"].strip(),
            document_no=d["document_no"],
            received_on=d["received_on"],
            note=d["note"],
            actor=request.user,
        )
        return _("Recorded %(amount)s yuan under %(doc)s.") % {
            "amount": c.amount,
            "doc": c.document_no,
        }

    return _form_post(
        request,
        code,
        year,
        action="funds.record_contribution",
        form=ContributionForm,
        name="contribution_form",
        write=record,
    )


@login_required
@require_POST
def contribution_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    c = get_object_or_404(Contribution.objects.select_related("county"), pk=pk)
    county = _county(request, c.county.code, "funds.record_contribution")
    form = ReasonForm(request.POST)
    try:
        if not form.is_valid():
            raise FundError(services.ERR_REASON_REQUIRED, field="reason")
        services.fund_contribution_reverse(
            contribution=c, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except FundError as exc:
        messages.error(request, exc.message)
        return redirect(_page(request, county, c.year))
    messages.success(request, _("Contribution %(doc)s reversed.") % {"doc": c.document_no})
    return redirect(_page(request, county, c.year))


@login_required
@require_POST
def contract_create(request: HttpRequest, code: str, year: int) -> HttpResponse:
    def create(county: Region, year: int, d: dict) -> str:
        services.insurance_contract_create(
            county=county,
            year=year,
            insurer=d["insurer"],
            policy_no=d["policy_no"],
            rural_population=d["rural_population"],
            signed_on=d["signed_on"],
            actor=request.user,
            insured_share=d["insured_share"].strip() or None,
            premium_per_person=d["premium_per_person"].strip() or None,
            fee_rate=d["fee_rate"].strip() or None,
        )
        return _("Insurance contract recorded.")

    return _form_post(
        request,
        code,
        year,
        action="funds.contract",
        form=ContractForm,
        name="contract_form",
        write=create,
    )


@login_required
@require_POST
def premium_pay(request: HttpRequest, code: str, year: int) -> HttpResponse:
    county = _county(request, code, "funds.contract")
    contract = get_object_or_404(InsuranceContract, county=county, year=_year_or_404(year))
    try:
        services.insurance_premium_pay(contract=contract, actor=request.user)
    except FundError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Premium of %(amount)s yuan paid into the pool.") % {"amount": contract.premium},
        )
    return redirect(_page(request, county, year))


@login_required
@require_POST
def batch_export(request: HttpRequest, code: str, year: int) -> HttpResponse:
    county = _county(request, code, "funds.pay")
    try:
        batch = services.payment_batch_export(
            county=county, year=_year_or_404(year), actor=request.user
        )
    except FundError as exc:
        messages.error(request, exc.message)
        return redirect(_page(request, county, year))
    if batch is None:
        messages.info(request, _("No payment waits to be sent to the bank."))
    else:
        messages.success(
            request,
            _("Bank batch %(id)s: %(n)s payments, %(total)s yuan.")
            % {"id": batch.pk, "n": batch.count, "total": batch.total},
        )
    return redirect(_page(request, county, year))


@login_required
@require_GET
def batch_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    batch = get_object_or_404(BankBatch.objects.select_related("county"), pk=pk)
    county = _county(request, batch.county.code, "funds.pay")
    if fmt not in ("xlsx", "csv"):
        raise Http404("xlsx or csv")
    out = exports.bank_batch_file(batch=batch, fmt=fmt)
    audit_record(
        actor=request.user,
        action=Action.BATCH_DOWNLOADED,
        obj=batch,
        region_path=county.path,
        data={"format": fmt},
    )
    return _download(out)


@login_required
@require_POST
def payment_retry(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(
        Payment.objects.select_related("county", "household__village"), pk=pk
    )
    county = _county(request, payment.county.code, "funds.pay")
    form = RetryForm(request.POST)
    year = form.cleaned_data["year"] if form.is_valid() else None
    try:
        services.payment_retry(payment=payment, actor=request.user, year=year)
    except FundError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Payment %(key)s requested again.") % {"key": payment.decision_key}
        )
    return redirect(_page(request, county, payment.year))


@login_required
@require_POST
def settle(request: HttpRequest, code: str, year: int) -> HttpResponse:
    county = _county(request, code, "funds.settle")
    try:
        s = services.fund_settle_year(county=county, year=_year_or_404(year), actor=request.user)
    except FundError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("%(year)s settled: %(result)s yuan.") % {"year": year, "result": s.result}
        )
    return redirect(_page(request, county, year))


@login_required
@require_POST
def reopen(request: HttpRequest, code: str, year: int) -> HttpResponse:
    county = _county(request, code, "funds.settle")
    year = _year_or_404(year)
    form = ReasonForm(request.POST)
    try:
        if not form.is_valid():
            raise FundError(services.ERR_REASON_REQUIRED, field="reason")
        services.fund_reopen_year(
            county=county, year=year, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except FundError as exc:
        return _refused(request, county, year, exc, reopen_form=form)
    messages.success(request, _("%(year)s reopened; the settlement is reversed.") % {"year": year})
    return redirect(_page(request, county, year))


@login_required
@require_GET
def settlement_report(request: HttpRequest, code: str, year: int) -> HttpResponse:
    county = _county(request, code)
    report = exports.settlement_report(county=county, year=_year_or_404(year))
    return render(
        request,
        "funds/settlement_report.html",
        {"r": report, "s": report.summary, "county": county, "year": year},
    )


@login_required
@require_GET
def settlement_report_xlsx(request: HttpRequest, code: str, year: int) -> HttpResponse:
    county = _county(request, code)
    out = exports.settlement_report_xlsx(
        report=exports.settlement_report(county=county, year=_year_or_404(year))
    )
    audit_record(
        actor=request.user,
        action=Action.FUND_REPORT_DOWNLOADED,
        obj=county,
        region_path=county.path,
        data={"year": year},
    )
    return _download(out)


@login_required
@require_GET
def ledger(request: HttpRequest, code: str, year: int) -> HttpResponse:
    county = _county(request, code)
    page = Paginator(
        selectors.journal(county=county, year=_year_or_404(year)), JOURNAL_PAGE
    ).get_page(request.GET.get("page"))
    return render(request, "funds/ledger.html", {"county": county, "year": year, "page": page})


@login_required
@require_http_methods(["GET", "POST"])
def import_contributions(request: HttpRequest) -> HttpResponse:
    return _import_page(
        request,
        action="funds.record_contribution",
        kind="contributions",
        title=_("Import contributions"),
        columns=CONTRIBUTION_COLUMNS,
        run=contributions_import,
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_bank_return(request: HttpRequest) -> HttpResponse:
    return _import_page(
        request,
        action="funds.pay",
        kind="bank_return",
        title=_("Import the bank's return file"),
        columns=RETURN_COLUMNS,
        run=bank_return_import,
    )


def _import_page(request: HttpRequest, *, action: str, kind: str, title: str, columns, run):
    """One page for both fund files: checked whole, problems listed (HTTP 400) or imported."""
    permissions.require(request.user, action)
    context: dict[str, Any] = {"columns": columns, "kind": kind, "title": title}
    return import_page(
        request, template="funds/import.html", context=context, run=run, report_key=REPORT_KEY
    )


@login_required
@require_GET
def import_report(request: HttpRequest) -> HttpResponse:
    """The last refused contribution or bank-return file's problems as XLSX."""
    if not permissions.can(request.user, "funds.pay"):  # either import's role may download
        permissions.require(request.user, "funds.record_contribution")
    return import_report_download(request, report_key=REPORT_KEY)
