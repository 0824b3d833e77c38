"""Year-end settlement of the premium pool (年终结算, 多退少补), and reopening a settled
year: a surplus is carried into next year's fund, a shortfall made up by the county.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from fangpin.common import clock
from fangpin.common.audit import Action, audit_record
from fangpin.common.money import Money
from fangpin.regions.models import Region

from ..models import (
    OPEN_STATUSES,
    AccountKind,
    InsuranceContract,
    Leg,
    Payment,
    PaymentStatus,
    Settlement,
    TransactionKind,
)
from ..selectors import account_balances
from .checks import (
    FundError,
    _actor,
    _check_county,
    _check_year,
    _reason,
)
from .ledger import Entry, LegSpec, _accounts_locked, _post_many, _reverse, _settled

ERR_YEAR_NOT_OVER = "year {year} is not over yet; settle it from 1 January {next} (年度未结束)"
ERR_ALREADY_SETTLED = "{county} {year} is already settled (该年度已结算)"
ERR_NOT_SETTLED = "{county} {year} is not settled (该年度未结算)"
ERR_NEXT_YEAR_SETTLED = (
    "{county} {next} is settled; reopen {next} first (下一年度已结算，请先重新打开)"
)
ERR_PREVIOUS_NOT_SETTLED = (
    "{county} {previous} is not settled yet; settle it first (上一年度尚未结算)"
)
ERR_PAYMENTS_OPEN = (
    "{n} payment(s) of {year} still wait for the bank's return; import the return file first "
    "(尚有支付等待银行回盘)"
)


def _has_activity(county: Region, year: int) -> bool:
    return Leg.objects.filter(
        account__county=county, account__year=year, transaction__posted=True
    ).exists()


@transaction.atomic
def fund_settle_year(*, county: Region, year: int, actor: Any) -> Settlement:
    """Settle ``county``'s premium pool for ``year`` (多退少补) and close the year.

    result = premium pool − insurer fee (the pool being premiums paid in less
    relief paid out). A surplus is carried forward into next year's fund, with
    the fund's own unspent balance; a shortfall is booked as the county's top-up
    (a receivable of the pool). Posted as one transaction dated 31 December; the
    year then refuses further postings until reopened.
    """
    _check_county(county)
    _check_year(year)
    if year >= clock.today().year:
        raise FundError(ERR_YEAR_NOT_OVER.format(year=year, next=year + 1), field="year")
    _accounts_locked({(county.pk, year), (county.pk, year + 1)})
    settled = _settled({(county.pk, year - 1), (county.pk, year), (county.pk, year + 1)})
    if (county.pk, year) in settled:
        raise FundError(ERR_ALREADY_SETTLED.format(county=county.name, year=year), field="year")
    if (county.pk, year + 1) in settled:
        raise FundError(
            ERR_NEXT_YEAR_SETTLED.format(county=county.name, next=year + 1), field="year"
        )
    if (county.pk, year - 1) not in settled and _has_activity(county, year - 1):
        raise FundError(
            ERR_PREVIOUS_NOT_SETTLED.format(county=county.name, previous=year - 1), field="year"
        )
    waiting = Payment.objects.filter(county=county, year=year, status__in=OPEN_STATUSES).count()
    if waiting:
        raise FundError(ERR_PAYMENTS_OPEN.format(n=waiting, year=year), field="year")

    balances = account_balances(county=county, year=year)
    contract = InsuranceContract.objects.filter(county=county, year=year).first()
    premium = contract.premium if contract and contract.premium_transaction_id else Money(0)
    fee = Money(premium.amount * contract.fee_rate) if premium else Money(0)
    pool = balances[AccountKind.PREMIUM_POOL]
    result = pool - fee
    fund_remainder = balances[AccountKind.FUND]
    surplus = result if result.fen > 0 else Money(0)
    carried = surplus + fund_remainder
    legs = [
        LegSpec(AccountKind.PREMIUM_POOL, -pool),  # the pool closes to zero
        LegSpec(AccountKind.INSURER_FEE, fee),
        LegSpec(AccountKind.CARRIED_FORWARD, surplus + fund_remainder),  # carried out of this year
        LegSpec(AccountKind.FUND, -fund_remainder),
        # a shortfall is made up by the county: a receivable of the pool
        LegSpec(AccountKind.COUNTY_TOPUP, result if result.fen < 0 else Money(0)),
        LegSpec(AccountKind.CARRIED_FORWARD, -carried, year=year + 1),  # brought into next year
        LegSpec(AccountKind.FUND, carried, year=year + 1),
    ]
    legs = [leg for leg in legs if leg.amount.fen]
    tx = None
    if legs:
        (tx,) = _post_many(
            [
                Entry(
                    county=county,
                    year=year,
                    kind=TransactionKind.SETTLEMENT,
                    date=dt.date(year, 12, 31),
                    memo=f"Year-end settlement 年终结算 {year}",
                    legs=legs,
                )
            ],
            actor=actor,
        )
    relief_count = Payment.objects.filter(
        county=county, year=year, status=PaymentStatus.SUCCEEDED
    ).count()
    try:
        with transaction.atomic():
            s = Settlement.objects.create(
                county=county,
                year=year,
                premium=premium,
                relief_paid=balances[AccountKind.RELIEF_PAID],
                relief_count=relief_count,
                fee=fee,
                pool_balance=pool,
                result=result,
                fund_remainder=fund_remainder,
                carried_forward=carried,
                transaction=tx,
                settled_by=_actor(actor),
            )
    except IntegrityError:
        raise FundError(
            ERR_ALREADY_SETTLED.format(county=county.name, year=year), field="year"
        ) from None
    audit_record(
        actor=actor,
        action=Action.YEAR_SETTLED,
        obj=s,
        region_path=county.path,
        from_state="open",
        to_state="settled",
        data={
            "year": year,
            "premium": str(premium),
            "relief_paid": str(s.relief_paid),
            "fee": str(fee),
            "result": str(result),
            "carried_forward": str(carried),
            "transaction": tx.pk if tx else None,
        },
    )
    return s


@transaction.atomic
def fund_reopen_year(*, county: Region, year: int, actor: Any, reason: str) -> Settlement:
    """Reopen a settled year: its settlement transaction is reversed, the row kept."""
    _check_county(county)
    reason = _reason(reason)
    _accounts_locked({(county.pk, year), (county.pk, year + 1)})
    s = (
        Settlement.objects.select_for_update()
        .filter(county=county, year=year, reopened_at__isnull=True)
        .first()
    )
    if s is None:
        raise FundError(ERR_NOT_SETTLED.format(county=county.name, year=year), field="year")
    if _settled({(county.pk, year + 1)}):
        raise FundError(
            ERR_NEXT_YEAR_SETTLED.format(county=county.name, next=year + 1), field="year"
        )
    s.reopened_at = timezone.now()
    s.reopened_by = _actor(actor)
    s.reopen_reason = reason
    s.save(update_fields=["reopened_at", "reopened_by", "reopen_reason"])  # the year is open again
    if s.transaction_id:
        s.reversal = _reverse(s.transaction, actor=actor, reason=reason, on=s.transaction.date)
        s.save(update_fields=["reversal"])
    audit_record(
        actor=actor,
        action=Action.YEAR_REOPENED,
        obj=s,
        region_path=county.path,
        from_state="settled",
        to_state="open",
        reason=reason,
        data={"year": year, "reversal": s.reversal_id},
    )
    return s
