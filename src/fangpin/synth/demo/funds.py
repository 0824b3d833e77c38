"""The demo's funded county (``make demo``): the earlier years raised, insured, paid and
settled; this year under way.

For each earlier year (``year − earlier`` … ``year − 1``, oldest first): contributions by
source (5,000,000), the insurance contract (800,000 rural people → 4,000,000 premium), 48
payments in monthly bank batches (the first fails, "account closed", and is paid again),
then the settlement, its surplus carried into the next year; for ``year`` the same to
date, with the last batch still with the bank. Every change goes through the fund's own
services (``fangpin.funds.services``, ``fangpin.funds.importer``); deterministic, and safe
to run again.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.db import transaction

from fangpin.common import clock
from fangpin.common.money import Money
from fangpin.funds import selectors
from fangpin.funds.importer import BankReturn, bank_returns_record
from fangpin.funds.models import InsuranceContract, Payment, PaymentStatus, Settlement
from fangpin.funds.services import (
    county_by_code,
    fund_contribution_record,
    fund_settle_year,
    insurance_contract_create,
    insurance_premium_pay,
    payment_batch_export,
    payment_request,
    payment_retry,
)
from fangpin.regions.models import Region
from fangpin.registry.models import Household

DEMO_INSURER = "中国人民财产保险股份有限公司 (PICC)"
DEMO_RURAL_POPULATION = (
    800_000  # POLICY.md: Wei County ~800k rural people → 80,000 insured × 50 = 4,000,000
)
DEMO_CONTRIBUTIONS = [  # (source, yuan): 5,000,000 raised a year
    ("central", 1_500_000),
    ("provincial", 1_000_000),
    ("city", 500_000),
    ("county", 500_000),
    ("budget", 1_300_000),
    ("donation", 200_000),
]


def _demo_year(
    *, county: Region, year: int, until: dt.date, households: list[Household], n_payments: int
) -> None:
    rng = random.Random(f"fangpin-demo-{county.code}-{year}")  # the same demo every time
    first = dt.date(year, 1, 1)
    span = max((until - first).days, 1)

    def day(fraction: float) -> dt.date:
        return first + dt.timedelta(days=min(int(span * fraction), span))

    for i, (source, yuan) in enumerate(DEMO_CONTRIBUTIONS):
        fund_contribution_record(
            county=county,
            year=year,
            source=source,
            amount=yuan,
            document_no=f"{county.name}财社〔{year}〕{i + 1}号",
            received_on=day(0.02 + 0.01 * i),
            actor=None,
            note="demo 演示数据",
        )
    contract = insurance_contract_create(
        county=county,
        year=year,
        insurer=DEMO_INSURER,
        rural_population=DEMO_RURAL_POPULATION,
        signed_on=day(0.05),
        policy_no=f"PICC-FP-{county.code}-{year}",
        actor=None,
    )
    insurance_premium_pay(contract=contract, actor=None, paid_on=day(0.06))

    # relief requested and paid in batches through the year; the first payment fails (account
    # closed) and is paid again with the next batch; in a year still running the last batch is with the bank
    chosen = rng.sample(households, min(n_payments, len(households)))
    groups = [chosen[i : i + 8] for i in range(0, len(chosen), 8)]
    running = until < dt.date(year, 12, 31)
    for g, group in enumerate(groups):
        for k, h in enumerate(group):
            payment_request(
                decision_key=f"demo-{county.code}-{year}-{g:02d}{k}",
                household=h,
                amount=Money.from_fen(rng.randrange(200_000, 4_000_000)),
                county=county,
                year=year,
                actor=None,
            )
        batch = payment_batch_export(county=county, year=year, actor=None)
        if running and g == len(groups) - 1:
            break
        paid_on = day(0.1 + 0.85 * (g + 1) / len(groups))
        returns = [
            BankReturn(
                reference=a.reference,
                ok=bool(g or k),
                paid_on=paid_on,
                reason="" if (g or k) else "账户已销户 account closed",
            )
            for k, a in enumerate(batch.attempts.order_by("id"))
        ]
        bank_returns_record(returns=returns, source="demo")
        if g == 0:
            for failed in Payment.objects.filter(
                county=county, year=year, status=PaymentStatus.FAILED
            ):
                payment_retry(payment=failed, actor=None)
    if not running:  # nothing left with the bank at year end
        batch = payment_batch_export(county=county, year=year, actor=None)
        if batch is not None:
            bank_returns_record(
                returns=[
                    BankReturn(reference=a.reference, ok=True, paid_on=until)
                    for a in batch.attempts.all()
                ],
                source="demo",
            )


EARLIER_YEARS = 2  # the demo's years before this one (synth.demo.county.DEMO_YEARS − 1)


@transaction.atomic
def fund_demo_seed(*, county: Region, year: int, earlier: int = EARLIER_YEARS) -> dict[str, Any]:
    """A funded county for the demo: the ``earlier`` years before ``year`` raised, insured,
    paid and settled; ``year`` under way.

    Contributions by source, the insurance contract and its premium, relief paid
    through bank batches (one payment fails and is paid again), then each earlier year
    settled with its surplus carried into the next; ``year`` has its own
    contributions, contract, premium and payments to date, a few still with the
    bank. Deterministic, and safe to run again (a year with a contract is left alone).
    """
    county = county_by_code(county.code)  # a county-level region, else FundError
    households = list(
        Household.objects.filter(village__path__startswith=county.path)
        .exclude(bank_account="")
        .select_related("village")
        .order_by("household_no")[:400]
    )
    today = clock.today()
    done = []
    for previous in range(year - earlier, year):  # oldest first: each settles into the next
        if not InsuranceContract.objects.filter(county=county, year=previous).exists():
            _demo_year(
                county=county,
                year=previous,
                until=dt.date(previous, 12, 31),
                households=households,
                n_payments=48,
            )
            done.append(previous)
        if selectors.settlement_current(county=county, year=previous) is None:
            fund_settle_year(county=county, year=previous, actor=None)
    if not InsuranceContract.objects.filter(county=county, year=year).exists():
        until = min(today, dt.date(year, 12, 31))
        share = Decimal((until - dt.date(year, 1, 1)).days + 1) / 365
        _demo_year(
            county=county,
            year=year,
            until=until,
            households=households,
            n_payments=max(4, int(48 * share)),
        )
        done.append(year)
    return {
        "county": county.code,
        "seeded_years": done,
        "settled": list(
            Settlement.objects.filter(county=county, reopened_at__isnull=True).values_list(
                "year", flat=True
            )
        ),
    }
