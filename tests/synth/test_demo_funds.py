"""``fund_demo_seed``: the demo's funded county — the earlier years settled, this year under
way."""

import datetime as dt

from fangpin.common.money import Money
from fangpin.funds import selectors
from fangpin.funds.models import Contribution, LedgerTransaction, Payment, PaymentStatus
from fangpin.synth.demo.funds import fund_demo_seed


def test_the_demo_county_has_settled_earlier_years_and_a_year_under_way(county):
    year = dt.date.today().year
    out = fund_demo_seed(county=county, year=year)
    assert out["seeded_years"] == [year - 2, year - 1, year]
    assert sorted(out["settled"]) == [year - 2, year - 1]
    # each earlier year's surplus is carried into the next
    first = selectors.settlement_current(county=county, year=year - 2)
    assert selectors.fund_summary(county=county, year=year - 1).brought_forward == (
        first.carried_forward
    )

    last = selectors.settlement_current(county=county, year=year - 1)
    assert last.premium == Money("4000000.00")  # 800,000 × 10% × 50
    assert (
        last.relief_count == 48
        and last.result == last.premium - last.relief_paid
        and last.is_surplus
    )
    repaid = Payment.objects.get(decision_key=f"demo-130434-{year - 1}-000")
    assert repaid.status == PaymentStatus.SUCCEEDED
    assert list(repaid.attempts.values_list("status", flat=True)) == ["failed", "succeeded"]

    now = selectors.fund_summary(county=county, year=year)
    assert now.raised == Money("5000000.00") and now.premium == Money("4000000.00")
    assert now.brought_forward == last.carried_forward
    assert now.relief_count > 0 and now.projected_relief is not None
    if dt.date.today() < dt.date(year, 12, 31):
        assert now.in_flight_count > 0  # the last batch is still with the bank
    assert selectors.ledger_totals(county=county)["all"] == Money(0)

    before = (
        Contribution.objects.count(),
        Payment.objects.count(),
        LedgerTransaction.objects.count(),
    )
    assert fund_demo_seed(county=county, year=year)["seeded_years"] == []  # safe to run again
    assert (
        Contribution.objects.count(),
        Payment.objects.count(),
        LedgerTransaction.objects.count(),
    ) == before
