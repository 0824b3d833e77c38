"""Fund API under /api/v1/funds: figures per county and year, the journal, payments,
recording contributions, settling and reopening a year.

Amounts are decimal strings of yuan ("4540.00"), never JSON numbers. Region-scoped
like the pages: a county outside the caller's region is 404, a role that may not
act is 403, bad input is 422 with the service's message and the field.

Relief payments are requested by the cases app (``services.payment_request``) for
an approved decision, not through this API.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from fangpin.accounts import permissions
from fangpin.common.api import NOT_FOUND, answers
from fangpin.common.bounds import Year
from fangpin.common.pages import PageRows, paginated
from fangpin.regions.models import Region

from . import selectors, services
from .models import PaymentStatus

try:  # django-ninja ≥ 1.5 answers a status code with Status; earlier versions with a tuple
    from ninja.responses import Status
except ImportError:  # pragma: no cover

    def Status(code: int, body: object) -> tuple[int, object]:  # noqa: N802
        return code, body


router = Router(tags=["funds"])


class BalanceOut(Schema):
    account: str
    label: str
    balance: str


class FundOut(Schema):
    county_code: str
    county_name: str
    year: int
    fund_balance: str
    raised: str
    brought_forward: str
    premium: str
    insurer_fee: str
    relief_paid: str
    relief_count: int
    in_flight: str
    failed_count: int
    loss_ratio: str | None
    result_to_date: str
    projected_relief: str | None
    projected_result: str | None
    settled: bool
    balances: list[BalanceOut]


class LegOut(Schema):
    account: str
    year: int
    amount: str


class TransactionOut(Schema):
    id: int
    date: dt.date
    kind: str
    memo: str
    reference: str
    reverses: int | None
    legs: list[LegOut]


class PaymentOut(Schema):
    decision_key: str
    household_no: str
    amount: str
    status: str
    paid_on: dt.date | None
    reference: str | None
    reason: str | None


class ContributionIn(Schema):
    source: str
    amount: str
    document_no: str
    received_on: dt.date
    note: str = ""


class ContributionOut(Schema):
    id: int
    year: int
    source: str
    amount: str
    document_no: str
    received_on: dt.date
    transaction: int


class ReasonIn(Schema):
    reason: str


class SettlementOut(Schema):
    year: int
    premium: str
    relief_paid: str
    relief_count: int
    fee: str
    result: str
    carried_forward: str
    settled: bool


def _county(request: HttpRequest, code: str, action: str = "funds.view") -> Region:
    permissions.require(request.user, "funds.view")
    county = selectors.fund_county_get(user=request.user, code=code)
    if county is None:
        raise HttpError(404, "no such county in your region (不在您的辖区内)")
    permissions.require(request.user, action, county)
    return county


def _fund_out(s: selectors.FundSummary) -> FundOut:
    return FundOut(
        county_code=s.county.code,
        county_name=s.county.name,
        year=s.year,
        fund_balance=str(s.fund_available),
        raised=str(s.raised),
        brought_forward=str(s.brought_forward),
        premium=str(s.premium),
        insurer_fee=str(s.fee),
        relief_paid=str(s.relief_paid),
        relief_count=s.relief_count,
        in_flight=str(s.in_flight),
        failed_count=s.failed_count,
        loss_ratio=None if s.loss_ratio is None else f"{s.loss_ratio:.4f}",
        result_to_date=str(s.result_to_date),
        projected_relief=None if s.projected_relief is None else str(s.projected_relief),
        projected_result=None if s.projected_result is None else str(s.projected_result),
        settled=s.is_settled,
        balances=[BalanceOut(account=r.kind, label=r.label, balance=str(r.amount)) for r in s.rows],
    )


@router.get("/counties", response=answers(list[FundOut]))
def list_counties(request, year: Year):
    """Every county in your region side by side for a year. 各县防贫资金"""
    permissions.require(request.user, "funds.view")
    return [
        _fund_out(s)
        for s in selectors.fund_summaries(
            counties=selectors.fund_counties(user=request.user), year=year
        )
    ]


@router.get("/{code}/{year}", response=answers(FundOut, NOT_FOUND))
def get_fund(request, code: str, year: Year):
    """One county's fund for a year: balances, premium, relief paid, loss ratio, projection. 防贫资金"""
    return _fund_out(selectors.fund_summary(county=_county(request, code), year=year))


@router.get("/{code}/{year}/transactions", response=answers(list[TransactionOut], NOT_FOUND))
@paginated(page_size=100)
def list_transactions(request, code: str, year: Year):
    """Posted ledger transactions touching the year, with their legs. 记账凭证"""

    def build(page: list) -> list[TransactionOut]:
        return [
            TransactionOut(
                id=tx.pk,
                date=tx.date,
                kind=tx.kind,
                memo=tx.memo,
                reference=tx.reference,
                reverses=tx.reversal_of_id,
                legs=[
                    LegOut(account=leg.account.kind, year=leg.account.year, amount=str(leg.amount))
                    for leg in tx.legs.all()
                ],
            )
            for tx in page
        ]

    return PageRows(selectors.journal(county=_county(request, code), year=year), build)


@router.get("/{code}/{year}/payments", response=answers(list[PaymentOut], NOT_FOUND))
@paginated(page_size=100)
def list_payments(request, code: str, year: Year, status: str = ""):
    """Relief payments of the year, newest first. 救助金支付"""
    if status and status not in PaymentStatus.values:
        raise HttpError(422, f"status must be one of {PaymentStatus.values}")

    def build(page: list) -> list[PaymentOut]:
        out = []
        for p in page:
            last = next(iter(p.attempts.all()), None)
            out.append(
                PaymentOut(
                    decision_key=p.decision_key,
                    household_no=p.household.household_no,
                    amount=str(p.amount),
                    status=p.status,
                    paid_on=p.paid_on,
                    reference=last.reference if last else None,
                    reason=(last.reason or None) if last else None,
                )
            )
        return out

    payments = selectors.payments_list(county=_county(request, code), year=year, status=status)
    return PageRows(payments, build)


@router.post("/{code}/{year}/contributions", response=answers({201: ContributionOut}, NOT_FOUND))
def record_contribution(request, code: str, year: Year, payload: ContributionIn):
    """Record money raised for the fund (资金筹集) under its document number (文号)."""
    county = _county(request, code, "funds.record_contribution")
    c = services.fund_contribution_record(
        county=county,
        year=year,
        source=payload.source,
        amount=payload.amount,
        document_no=payload.document_no,
        received_on=payload.received_on,
        note=payload.note,
        actor=request.user,
    )
    return Status(
        201,
        ContributionOut(
            id=c.pk,
            year=c.year,
            source=c.source,
            amount=str(c.amount),
            document_no=c.document_no,
            received_on=c.received_on,
            transaction=c.transaction_id,
        ),
    )


def _settlement_out(s) -> SettlementOut:
    return SettlementOut(
        year=s.year,
        premium=str(s.premium),
        relief_paid=str(s.relief_paid),
        relief_count=s.relief_count,
        fee=str(s.fee),
        result=str(s.result),
        carried_forward=str(s.carried_forward),
        settled=s.reopened_at is None,
    )


@router.post("/{code}/{year}/settle", response=answers(SettlementOut, NOT_FOUND))
def settle_year(request, code: str, year: Year):
    """Settle the year's premium pool (年终结算, 多退少补)."""
    county = _county(request, code, "funds.settle")
    return _settlement_out(services.fund_settle_year(county=county, year=year, actor=request.user))


@router.post("/{code}/{year}/reopen", response=answers(SettlementOut, NOT_FOUND))
def reopen_year(request, code: str, year: Year, payload: ReasonIn):
    """Reopen a settled year; the settlement is reversed."""
    county = _county(request, code, "funds.settle")
    return _settlement_out(
        services.fund_reopen_year(
            county=county, year=year, actor=request.user, reason=payload.reason
        )
    )
