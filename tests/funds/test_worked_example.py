"""A worked example of two years of 魏县's fund, every balance to the fen (STYLE.md, beancount).

2018: 400,619.75 yuan raised from six sources; the insurance frames 50,005 × 10% =
5,000.5 → 5,001 people × 50 = 250,050.00 premium (fee 2%); four households paid
179,540.55, one of them only after its bank account was fixed; the pool ends with
70,509.45, less the 5,001.00 fee = a 65,508.45 surplus, carried into 2019 with the
fund's own unspent 150,569.75.

2019: 41,000.00 raised on top of the 216,078.20 brought forward; the same premium
(fee 0%); two households paid 280,000.10 — more than the pool holds, paid anyway —
so the year settles with a 29,950.10 shortfall the county makes up.
"""

import datetime as dt

from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.funds import selectors, services
from fangpin.funds.models import LedgerTransaction, Payment, PaymentStatus

from .conftest import Y1, Y2, bank_pays

Z = Money(0)


def raw(county, year):
    return selectors.account_balances(county=county, year=year)


def expect(county, year, **nonzero):
    """Every account of the year: the ones named hold exactly that (signed, yuan), the rest zero."""
    balances = raw(county, year)
    want = {k: Z for k in balances} | {k: Money(v) for k, v in nonzero.items()}
    assert balances == want, {k: str(v) for k, v in balances.items() if v != want[k]}
    assert sum(balances.values(), Z) == Z  # each year's ledger balances on its own


def test_two_years_of_the_fund_to_the_fen(tmp_path, county, households, county_officer):
    a, b, c, d, e, f = households[:6]
    actor = county_officer

    # --- 2018: contributions by source --------------------------------------------------------
    for i, (source, amount) in enumerate(
        [
            ("central", "200000"),
            ("provincial", "100000"),
            ("city", "50000"),
            ("county", "30000"),
            ("budget", "19999.50"),
            ("donation", "620.25"),
        ]
    ):
        services.fund_contribution_record(
            county=county,
            year=Y1,
            source=source,
            amount=amount,
            document_no=f"魏财社〔2018〕{i + 1}号",
            received_on=dt.date(Y1, 2, 10 + i),
            actor=actor,
        )
    expect(
        county,
        Y1,
        fund="400619.75",
        source_central="-200000",
        source_provincial="-100000",
        source_city="-50000",
        source_county="-30000",
        source_budget="-19999.50",
        source_donation="-620.25",
    )

    # --- the insurance contract and its premium ---------------------------------------------------
    contract = services.insurance_contract_create(
        county=county,
        year=Y1,
        insurer="中国人保",
        rural_population=50_005,
        fee_rate="0.02",
        signed_on=dt.date(Y1, 3, 1),
        actor=actor,
    )
    assert contract.insured_persons == 5_001  # 5,000.5 rounds half up to a whole person
    assert contract.premium == Money("250050.00")
    assert [(p["field"], p.get("path"), p["source"]) for p in contract.parameters] == [
        ("insured_share", "insurance.frame_rate", "stated"),
        ("premium_per_person", "insurance.premium_per_person", "stated"),
        ("fee_rate", None, "contract"),  # the signed contract's 2%, not the policy's default 0
    ]
    services.insurance_premium_pay(contract=contract, actor=actor, paid_on=dt.date(Y1, 3, 5))
    sources = dict(
        source_central="-200000",
        source_provincial="-100000",
        source_city="-50000",
        source_county="-30000",
        source_budget="-19999.50",
        source_donation="-620.25",
    )
    expect(county, Y1, fund="150569.75", premium_pool="250050.00", **sources)

    # --- payments: one fails, the account is fixed, it is paid again --------------------------
    for key, household, amount in [
        ("D-2018-1", a, "4540.00"),
        ("D-2018-2", b, "60000"),
        ("D-2018-3", c, "15000.55"),
        ("D-2018-4", d, "100000"),
    ]:
        services.payment_request(
            decision_key=key,
            household=household,
            amount=amount,
            county=county,
            year=Y1,
            actor=actor,
        )
    bank_pays(
        tmp_path,
        county=county,
        year=Y1,
        actor=actor,
        failures={c.bank_account: "账户已销户 account closed"},
        paid_on=dt.date(Y1, 4, 10),
        name="r1",
    )
    failed = Payment.objects.get(decision_key="D-2018-3")
    assert failed.status == PaymentStatus.FAILED and failed.transaction is None
    assert failed.attempts.get().reason == "账户已销户 account closed"
    expect(
        county, Y1, fund="150569.75", premium_pool="85510.00", relief_paid="164540.00", **sources
    )

    c.bank_account = "6228480011112222333"  # the registry fixes the household's account
    c.save(update_fields=["bank_account"])
    services.payment_retry(payment=failed, actor=actor)
    bank_pays(tmp_path, county=county, year=Y1, actor=actor, paid_on=dt.date(Y1, 6, 1), name="r2")
    failed.refresh_from_db()
    assert failed.status == PaymentStatus.SUCCEEDED and failed.paid_on == dt.date(Y1, 6, 1)
    assert list(failed.attempts.values_list("status", "bank_account")) == [
        ("failed", failed.attempts.first().bank_account),
        ("succeeded", "6228480011112222333"),
    ]
    expect(
        county, Y1, fund="150569.75", premium_pool="70509.45", relief_paid="179540.55", **sources
    )

    s = selectors.fund_summary(county=county, year=Y1, today=dt.date(Y1, 12, 31))
    assert (s.premium, s.relief_paid, s.relief_count, s.fee) == (
        Money("250050.00"),
        Money("179540.55"),
        4,
        Money("5001.00"),
    )
    assert s.result_to_date == Money("65508.45")
    assert s.loss_ratio_percent == "71.8%"  # 179,540.55 / 250,050.00

    # --- settlement: a surplus, carried forward with the unspent fund -------------------------------
    settled = services.fund_settle_year(county=county, year=Y1, actor=actor)
    assert (settled.pool_balance, settled.fee, settled.result) == (
        Money("70509.45"),
        Money("5001.00"),
        Money("65508.45"),
    )
    assert (settled.fund_remainder, settled.carried_forward) == (
        Money("150569.75"),
        Money("216078.20"),
    )
    expect(
        county,
        Y1,
        relief_paid="179540.55",
        insurer_fee="5001.00",
        carried_forward="216078.20",
        **sources,
    )
    expect(county, Y2, fund="216078.20", carried_forward="-216078.20")
    assert AuditEvent.objects.filter(
        action="funds.year.settled", object_id=str(settled.pk), actor=actor
    ).exists()

    # --- 2019: raised, insured (fee 0 from the policy), paid beyond the pool ------------------------
    services.fund_contribution_record(
        county=county,
        year=Y2,
        source="central",
        amount="40000",
        document_no="魏财社〔2019〕1号",
        received_on=dt.date(Y2, 2, 1),
        actor=actor,
    )
    services.fund_contribution_record(
        county=county,
        year=Y2,
        source="捐赠",
        amount="1000",
        document_no="魏捐〔2019〕1号",
        received_on=dt.date(Y2, 2, 2),
        actor=actor,
    )
    contract2 = services.insurance_contract_create(
        county=county, year=Y2, insurer="中国人保", rural_population=50_005, actor=actor
    )
    assert contract2.fee_rate == 0 and contract2.premium == Money("250050.00")
    services.insurance_premium_pay(contract=contract2, actor=actor, paid_on=dt.date(Y2, 3, 1))
    services.payment_request(
        decision_key="D-2019-1", household=e, amount="200000", county=county, year=Y2, actor=actor
    )
    services.payment_request(
        decision_key="D-2019-2", household=f, amount="80000.10", county=county, year=Y2, actor=actor
    )
    bank_pays(tmp_path, county=county, year=Y2, actor=actor, paid_on=dt.date(Y2, 9, 1), name="r3")
    y2_sources = dict(
        source_central="-40000", source_donation="-1000", carried_forward="-216078.20"
    )
    expect(
        county, Y2, fund="7028.20", premium_pool="-29950.10", relief_paid="280000.10", **y2_sources
    )
    s2 = selectors.fund_summary(county=county, year=Y2, today=dt.date(Y2, 12, 31))
    assert s2.result_to_date == Money("-29950.10") and s2.brought_forward == Money("216078.20")

    # --- settlement: a shortfall the county makes up -------------------------------------------------
    settled2 = services.fund_settle_year(county=county, year=Y2, actor=actor)
    assert (settled2.result, settled2.carried_forward) == (Money("-29950.10"), Money("7028.20"))
    expect(
        county,
        Y2,
        relief_paid="280000.10",
        county_topup="-29950.10",
        source_central="-40000",
        source_donation="-1000",
        carried_forward="-209050.00",
    )
    expect(county, Y2 + 1, fund="7028.20", carried_forward="-7028.20")

    # the whole ledger of the county balances, and every transaction in it is posted
    assert selectors.ledger_totals(county=county)["all"] == Z
    assert not LedgerTransaction.objects.filter(county=county, posted=False).exists()
