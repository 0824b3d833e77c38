"""Year-end settlement (多退少补): once per year, in order, reopened by reversal; its report."""

from __future__ import annotations

import datetime as dt

import fastexcel
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fangpin.common.money import Money
from fangpin.funds import exports, selectors, services
from fangpin.funds.importer import BankReturn, bank_returns_record
from fangpin.funds.models import ContributionSource, Settlement
from fangpin.funds.services import FundError

from .conftest import Y1, Y2


@pytest.fixture
def year_of_activity(county, households):
    """2018: 300,000 raised, 10,000 × 10% × 50 = 50,000 premium, 12,345.67 relief paid."""
    services.fund_contribution_record(
        county=county,
        year=Y1,
        source="budget",
        amount="300000",
        document_no="B-1",
        received_on=dt.date(Y1, 1, 20),
        actor=None,
    )
    k = services.insurance_contract_create(
        county=county, year=Y1, insurer="PICC", rural_population=10_000, actor=None
    )
    services.insurance_premium_pay(contract=k, actor=None, paid_on=dt.date(Y1, 2, 1))
    p = services.payment_request(
        decision_key="S-1",
        household=households[0],
        amount="12345.67",
        county=county,
        year=Y1,
        actor=None,
    )
    services.payment_batch_export(county=county, year=Y1, actor=None)
    assert bank_returns_record(
        returns=[BankReturn(p.attempts.get().reference, True, paid_on=dt.date(Y1, 7, 1))]
    ).ok
    return k


def test_a_year_settles_once_and_reopening_reverses_it(county, year_of_activity):
    before = selectors.account_balances(county=county, year=Y1)
    s = services.fund_settle_year(county=county, year=Y1, actor=None)
    assert (s.premium, s.relief_paid, s.relief_count, s.result) == (
        Money("50000"),
        Money("12345.67"),
        1,
        Money("37654.33"),
    )
    assert s.carried_forward == Money("37654.33") + Money("250000")
    with pytest.raises(FundError) as refused:
        services.fund_settle_year(county=county, year=Y1, actor=None)
    assert refused.value.message == services.ERR_ALREADY_SETTLED.format(county="魏县", year=Y1)

    with pytest.raises(FundError, match="give a reason"):
        services.fund_reopen_year(county=county, year=Y1, actor=None, reason=" ")
    reopened = services.fund_reopen_year(
        county=county, year=Y1, actor=None, reason="late bank return"
    )
    assert reopened.reversal.reversal_of_id == s.transaction_id
    assert selectors.account_balances(county=county, year=Y1) == before
    assert all(v == 0 for v in selectors.account_balances(county=county, year=Y2).values())
    assert selectors.settlement_current(county=county, year=Y1) is None

    again = services.fund_settle_year(county=county, year=Y1, actor=None)
    assert (
        again.result == s.result and Settlement.objects.filter(county=county, year=Y1).count() == 2
    )


def test_settlement_goes_year_by_year(county, year_of_activity):
    this_year = dt.date.today().year
    with pytest.raises(FundError) as refused:
        services.fund_settle_year(county=county, year=this_year, actor=None)
    assert refused.value.message == services.ERR_YEAR_NOT_OVER.format(
        year=this_year, next=this_year + 1
    )
    with pytest.raises(FundError) as refused:
        services.fund_settle_year(county=county, year=Y2, actor=None)
    assert refused.value.message == services.ERR_PREVIOUS_NOT_SETTLED.format(
        county="魏县", previous=Y1
    )
    services.fund_settle_year(county=county, year=Y1, actor=None)
    services.fund_settle_year(county=county, year=Y2, actor=None)  # only what 2018 carried in
    with pytest.raises(FundError) as refused:
        services.fund_reopen_year(county=county, year=Y1, actor=None, reason="x")
    assert refused.value.message == services.ERR_NEXT_YEAR_SETTLED.format(county="魏县", next=Y2)
    with pytest.raises(FundError) as refused:
        services.fund_reopen_year(county=county, year=Y2 + 1, actor=None, reason="x")
    assert refused.value.message == services.ERR_NOT_SETTLED.format(county="魏县", year=Y2 + 1)


def test_a_quiet_year_settles_without_a_transaction(county):
    s = services.fund_settle_year(county=county, year=Y1, actor=None)
    assert s.transaction is None and s.result == Money(0)


def test_the_settle_reopen_status_and_report_commands(
    tmp_path, county, year_of_activity, capsys, make_user, townships
):
    call_command("fund", "status", "--county", "130434", "--year", str(Y1))
    out = capsys.readouterr().out
    assert (
        "loss ratio 赔付率 24.7%" in out and "surplus/shortfall to date 结余/缺口 37,654.33" in out
    )
    call_command("fund", "settle", "--county", "130434", "--year", str(Y1))
    assert "= 37,654.33 surplus 结余; carried into 2019: 287,654.33" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already settled"):
        call_command("fund", "settle", "--county", "130434", "--year", str(Y1))
    make_user("township_officer", townships[0], username="town")
    with pytest.raises(CommandError, match="your role may not"):
        call_command(
            "fund",
            "reopen",
            "--county",
            "130434",
            "--year",
            str(Y1),
            "--reason",
            "x",
            "--as-user",
            "town",
        )
    call_command(
        "fund", "reopen", "--county", "130434", "--year", str(Y1), "--reason", "bank correction"
    )
    assert "reopened" in capsys.readouterr().out
    with pytest.raises(CommandError, match="unknown county code"):
        call_command("fund", "settle", "--county", "999999", "--year", str(Y1))

    out = tmp_path / "report.xlsx"
    call_command("fund", "report", "--county", "130434", "--year", str(Y1), "--out", str(out))
    reader = fastexcel.read_excel(str(out))
    assert reader.sheet_names == [
        "结算 Settlement",
        "资金来源 Sources",
        "救助支付 Payments",
        "科目余额 Balances",
        "凭证 Journal",
    ]
    payments = reader.load_sheet("救助支付 Payments", dtypes="string").to_polars()
    assert payments.height == 1 and payments["Amount 金额"][0] == "12345.67"


def test_the_settlement_report_lines(county, year_of_activity):
    services.fund_settle_year(county=county, year=Y1, actor=None)
    report = exports.settlement_report(county=county, year=Y1)
    lines = dict(report.lines)
    assert lines["Premium paid into the pool 保费"] == Money("50000")
    assert lines["Surplus (+) or shortfall (−) 结余(+)/缺口(−)"] == Money("37654.33")
    assert lines["Carried into 2019 结转下年"] == Money("287654.33")
    assert dict(report.sources)[str(ContributionSource.BUDGET.label)] == Money("300000")
    assert [(m.month, n, amount) for m, n, amount in report.months] == [(7, 1, Money("12345.67"))]
    assert exports.settlement_report_xlsx(report=report).content[:2] == b"PK"
