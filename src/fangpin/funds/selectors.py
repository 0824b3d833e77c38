"""Reads of the fund: balances, the fund page's figures, lists, the journal.

Balances are sums of posted legs only (an unposted header is a draft in the
middle of its own database transaction). Figures for many counties are computed
set-based: a fixed number of queries whatever the number of counties.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from fangpin.accounts import permissions
from fangpin.common import clock
from fangpin.common.money import Money
from fangpin.regions.models import Region

from .models import (
    CREDIT_NORMAL,
    OPEN_STATUSES,
    AccountKind,
    BankBatch,
    Contribution,
    InsuranceContract,
    LedgerTransaction,
    Leg,
    Payment,
    PaymentAttempt,
    PaymentStatus,
    Settlement,
)

SOURCE_KINDS = [k for k in AccountKind.values if k.startswith("source_")]


def natural(kind: str, raw: Money) -> Money:
    """A balance on its normal side: credit-normal accounts (sources…) shown positive."""
    return -raw if kind in CREDIT_NORMAL else raw


def _balances(*, county_ids: Iterable[int], year: int) -> dict[int, dict[str, Money]]:
    out: dict[int, dict[str, Money]] = defaultdict(
        lambda: {k: Money(0) for k in AccountKind.values}
    )
    rows = (
        Leg.objects.filter(
            transaction__posted=True, account__county_id__in=list(county_ids), account__year=year
        )
        .values("account__county_id", "account__kind")
        .annotate(total=Sum("amount"))
    )
    for r in rows:
        out[r["account__county_id"]][r["account__kind"]] = Money(r["total"] or 0)
    return out


def account_balances(*, county: Region, year: int) -> dict[str, Money]:
    """Signed balance (debit +, credit −) of every account of ``county``'s ``year``."""
    return dict(_balances(county_ids=[county.pk], year=year)[county.pk])


def ledger_totals(*, county: Region | None = None) -> dict[str, Money]:
    """Sum of all posted legs, overall and per (county, year): the trial balance, always zero."""
    qs = Leg.objects.filter(transaction__posted=True)
    if county is not None:
        qs = qs.filter(account__county=county)
    rows = qs.values("account__county_id", "account__year").annotate(total=Sum("amount"))
    out = {f"{r['account__county_id']}/{r['account__year']}": Money(r["total"] or 0) for r in rows}
    out["all"] = Money(qs.aggregate(total=Sum("amount"))["total"] or 0)
    return out


@dataclass
class BalanceRow:
    kind: str
    label: str
    amount: Money


@dataclass
class FundSummary:
    """What the fund page shows for one county and year."""

    county: Region
    year: int
    balances: dict[str, Money]  # natural side
    contract: InsuranceContract | None
    settlement: Settlement | None
    brought_forward: Money
    raised: Money
    premium: Money
    fee: Money
    relief_paid: Money
    relief_count: int
    in_flight: Money
    in_flight_count: int
    failed: Money
    failed_count: int
    elapsed_days: int
    days_in_year: int
    projected_relief: Money | None
    rows: list[BalanceRow] = field(default_factory=list)

    @property
    def result_to_date(self) -> Money:
        """Premium − relief paid − fee: + surplus, − shortfall so far (结余/缺口)."""
        return self.premium - self.relief_paid - self.fee

    @property
    def loss_ratio(self) -> Decimal | None:
        """Relief paid ÷ premium (赔付率), None without a premium."""
        if not self.premium:
            return None
        return self.relief_paid.amount / self.premium.amount

    @property
    def loss_ratio_percent(self) -> str:
        ratio = self.loss_ratio
        if ratio is None:
            return "—"
        return f"{(ratio * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"

    @property
    def projected_result(self) -> Money | None:
        """Premium − fee − projected relief at year end."""
        if self.projected_relief is None:
            return None
        return self.premium - self.fee - self.projected_relief

    @property
    def fund_available(self) -> Money:
        return self.balances[AccountKind.FUND]

    @property
    def pool(self) -> Money:
        return self.balances[AccountKind.PREMIUM_POOL]

    @property
    def is_settled(self) -> bool:
        return self.settlement is not None


def _projection(committed: Money, year: int, today: dt.date) -> tuple[Money | None, int, int]:
    """Relief at year end if payments go on at the pace so far: committed × days in year ÷ days elapsed."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    days = (end - start).days + 1
    if today < start:
        return None, 0, days
    elapsed = min((today - start).days + 1, days)
    return Money(committed.amount * days / elapsed), elapsed, days


def fund_summaries(
    *, counties: Iterable[Region], year: int, today: dt.date | None = None
) -> list[FundSummary]:
    """The fund page's figures for each county (set-based: one query per kind of figure)."""
    counties = list(counties)
    today = today or clock.today()
    ids = [c.pk for c in counties]
    balances = _balances(county_ids=ids, year=year)
    contracts = {
        c.county_id: c for c in InsuranceContract.objects.filter(county_id__in=ids, year=year)
    }
    settlements = {
        s.county_id: s
        for s in Settlement.objects.filter(
            county_id__in=ids, year__in=[year], reopened_at__isnull=True
        )
    }
    brought = {
        s.county_id: s.carried_forward
        for s in Settlement.objects.filter(
            county_id__in=ids, year=year - 1, reopened_at__isnull=True
        )
    }
    pays: dict[tuple[int, str], tuple[int, Money]] = {}
    for r in (
        Payment.objects.filter(county_id__in=ids, year=year)
        .values("county_id", "status")
        .annotate(n=Count("id"), total=Sum("amount"))
    ):
        pays[(r["county_id"], r["status"])] = (r["n"], Money(r["total"] or 0))

    def pay(cid: int, *statuses: str) -> tuple[int, Money]:
        found = [pays.get((cid, s), (0, Money(0))) for s in statuses]
        return sum(n for n, _ in found), sum((m for _, m in found), Money(0))

    out = []
    for county in counties:
        raw = balances[county.pk]
        nat = {k: natural(k, v) for k, v in raw.items()}
        contract = contracts.get(county.pk)
        premium = contract.premium if contract and contract.premium_transaction_id else Money(0)
        fee = Money(premium.amount * contract.fee_rate) if premium else Money(0)
        paid_n, _ = pay(county.pk, PaymentStatus.SUCCEEDED)
        flight_n, flight = pay(county.pk, *OPEN_STATUSES)
        failed_n, failed = pay(county.pk, PaymentStatus.FAILED)
        relief = nat[AccountKind.RELIEF_PAID]
        projected, elapsed, days = _projection(relief + flight, year, today)
        out.append(
            FundSummary(
                county=county,
                year=year,
                balances=nat,
                contract=contract,
                settlement=settlements.get(county.pk),
                brought_forward=brought.get(county.pk, Money(0)),
                raised=sum((nat[k] for k in SOURCE_KINDS), Money(0)),
                premium=premium,
                fee=fee,
                relief_paid=relief,
                relief_count=paid_n,
                in_flight=flight,
                in_flight_count=flight_n,
                failed=failed,
                failed_count=failed_n,
                elapsed_days=elapsed,
                days_in_year=days,
                projected_relief=projected,
                rows=[BalanceRow(k, str(AccountKind(k).label), nat[k]) for k in AccountKind.values],
            )
        )
    return out


def fund_summary(*, county: Region, year: int, today: dt.date | None = None) -> FundSummary:
    return fund_summaries(counties=[county], year=year, today=today)[0]


def fund_counties(*, user: Any) -> QuerySet[Region]:
    """Counties whose fund the user may see (their own; every county in a city scope)."""
    if not permissions.can(user, "funds.view"):
        return Region.objects.none()
    prefix = permissions.scope_path(user)
    return permissions.visible_counties(user).filter(path__startswith=prefix or "")


def fund_county_get(*, user: Any, code: str) -> Region | None:
    return fund_counties(user=user).filter(code=code).first()


def contributions_list(*, county: Region, year: int) -> QuerySet[Contribution]:
    return (
        Contribution.objects.filter(county=county, year=year)
        .select_related("recorded_by")
        .order_by("received_on", "id")
    )


def payments_list(*, county: Region, year: int, status: str = "") -> QuerySet[Payment]:
    qs = Payment.objects.filter(county=county, year=year).select_related(
        "household", "household__village"
    )
    if status:
        qs = qs.filter(status=status)
    last = PaymentAttempt.objects.order_by("-number")
    return qs.prefetch_related(Prefetch("attempts", queryset=last)).order_by("-requested_at", "-id")


def batches_list(*, county: Region, year: int) -> QuerySet[BankBatch]:
    return BankBatch.objects.filter(county=county, year=year).order_by("-created_at", "-id")


def journal(*, county: Region, year: int) -> QuerySet[LedgerTransaction]:
    """Posted transactions touching ``county``'s ``year``, with their legs (记账凭证)."""
    legs = Leg.objects.select_related("account").order_by("id")
    return (
        LedgerTransaction.objects.filter(county=county, posted=True)
        .filter(Q(year=year) | Q(legs__account__year=year))
        .distinct()
        .select_related("created_by", "reversal_of")
        .prefetch_related(Prefetch("legs", queryset=legs))
        .order_by("date", "id")
    )


def settlement_current(*, county: Region, year: int) -> Settlement | None:
    return Settlement.objects.filter(county=county, year=year, reopened_at__isnull=True).first()


def settlement_history(*, county: Region, year: int) -> QuerySet[Settlement]:
    return Settlement.objects.filter(county=county, year=year).order_by("-settled_at", "-id")


def relief_by_month(*, county: Region, year: int) -> list[tuple[dt.date, int, Money]]:
    """(month, payments, amount) of relief paid in the fund year, by the month the bank paid."""
    rows = (
        Payment.objects.filter(county=county, year=year, status=PaymentStatus.SUCCEEDED)
        .annotate(month=TruncMonth("paid_on"))
        .values("month")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by("month")
    )
    return [(r["month"], r["n"], Money(r["total"] or 0)) for r in rows]
