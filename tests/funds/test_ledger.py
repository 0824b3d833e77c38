"""The ledger's invariants: random valid transactions always balance; an unbalanced or
edited transaction is refused by the database itself (raw SQL, past the services).

The same file runs on SQLite and on PostgreSQL (``DATABASE_URL=postgres://…``). On
PostgreSQL the balance check is a DEFERRABLE INITIALLY DEFERRED constraint trigger,
so inside a test's transaction it is forced with ``SET CONSTRAINTS ALL IMMEDIATE``,
which runs every pending check at once, as a commit would.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fangpin.common.money import Money
from fangpin.funds import selectors, services
from fangpin.funds.models import Account, AccountKind, LedgerTransaction, Leg
from fangpin.funds.services import FundError, LegSpec

from .conftest import Y1, Y2

KINDS = AccountKind.values
FEN = st.integers(min_value=-(10**12), max_value=10**12).filter(bool)


@st.composite
def balanced(draw):
    """2–6 legs on distinct accounts of one year whose amounts sum to zero fen."""
    n = draw(st.integers(min_value=2, max_value=6))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n, unique=True))
    amounts = draw(st.lists(FEN, min_size=n - 1, max_size=n - 1))
    last = -sum(amounts)
    assume(last != 0)
    return list(zip(kinds, [*amounts, last], strict=True))


@st.composite
def unbalanced(draw):
    legs = draw(balanced())
    kind, fen = legs[-1]
    off = draw(FEN)
    assume(fen + off != 0)
    return [*legs[:-1], (kind, fen + off)]


def check_deferred_now():
    """Run PostgreSQL's deferred balance checks now (SQLite checked at the posting UPDATE)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


def accounts(county, year) -> dict[str, int]:
    return {k: a.pk for (_, _, k), a in services._accounts_locked({(county.pk, year)}).items()}


def raw_transaction(county, legs: list[tuple[int, int]], *, posted_at_insert: bool = False) -> int:
    """Insert a header and its legs with plain SQL, then post it — no service, no model."""
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO funds_ledgertransaction (county_id, year, kind, date, memo, reference, posted, posted_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            [
                county.pk,
                Y1,
                "contribution",
                dt.date(Y1, 5, 1),
                "raw",
                "",
                posted_at_insert,
                now if posted_at_insert else None,
            ],
        )
        tx_id = cur.fetchone()[0]
        for account_id, fen in legs:
            cur.execute(
                "INSERT INTO funds_leg (transaction_id, account_id, amount) VALUES (%s, %s, %s)",
                [tx_id, account_id, fen],
            )
        if not posted_at_insert:
            cur.execute(
                "UPDATE funds_ledgertransaction SET posted = %s, posted_at = %s WHERE id = %s",
                [True, now, tx_id],
            )
    check_deferred_now()
    return tx_id


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(balanced(), min_size=1, max_size=6))
def test_random_valid_transactions_always_leave_the_ledger_balanced(county, batch):
    with transaction.atomic():
        expected: dict[str, int] = defaultdict(int)
        for legs in batch:
            services.ledger_post(
                county=county,
                year=Y1,
                kind="contribution",
                date=dt.date(Y1, 5, 1),
                memo="random",
                legs=[LegSpec(k, Money.from_fen(f)) for k, f in legs],
                actor=None,
            )
            for k, f in legs:
                expected[k] += f
        check_deferred_now()  # the database agrees: every posted transaction balances
        balances = selectors.account_balances(county=county, year=Y1)
        assert {k: v.fen for k, v in balances.items() if v} == {
            k: v for k, v in expected.items() if v
        }
        assert set(selectors.ledger_totals(county=county).values()) <= {Money(0)}
        transaction.set_rollback(True)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(legs=unbalanced())
def test_an_unbalanced_transaction_is_refused_by_the_service_and_by_the_database(county, legs):
    with transaction.atomic():
        with pytest.raises(FundError) as refused:
            services.ledger_post(
                county=county,
                year=Y1,
                kind="contribution",
                date=dt.date(Y1, 5, 1),
                memo="bad",
                legs=[LegSpec(k, Money.from_fen(f)) for k, f in legs],
                actor=None,
            )
        assert refused.value.message.endswith("(借贷不平衡)")
        ids = accounts(county, Y1)
        with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
            raw_transaction(county, [(ids[k], f) for k, f in legs])
        assert not LedgerTransaction.objects.filter(memo="raw").exists()
        transaction.set_rollback(True)


def test_a_balanced_raw_transaction_is_accepted_so_the_refusals_above_are_about_balance(county):
    ids = accounts(county, Y1)
    tx_id = raw_transaction(county, [(ids["fund"], 12_345), (ids["source_central"], -12_345)])
    assert LedgerTransaction.objects.get(pk=tx_id).posted
    assert selectors.account_balances(county=county, year=Y1)["fund"] == Money("123.45")


def test_a_single_leg_or_a_header_inserted_posted_is_refused(county):
    ids = accounts(county, Y1)
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_transaction(county, [])  # no legs: sums to zero but is not a transaction
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_transaction(
            county, [(ids["fund"], 100), (ids["source_city"], -100)], posted_at_insert=True
        )


@pytest.fixture
def posted(county):
    return services.fund_contribution_record(
        county=county,
        year=Y1,
        source="central",
        amount="1000.00",
        document_no="T-1",
        received_on=dt.date(Y1, 1, 5),
        actor=None,
    ).transaction


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE funds_leg SET amount = amount + 1 WHERE transaction_id = %s",
        "UPDATE funds_leg SET amount = -amount WHERE transaction_id = %s",
        "DELETE FROM funds_leg WHERE transaction_id = %s",
        "UPDATE funds_ledgertransaction SET memo = 'edited' WHERE id = %s",
        "UPDATE funds_ledgertransaction SET posted = FALSE WHERE id = %s",
        "DELETE FROM funds_ledgertransaction WHERE id = %s",
    ],
    ids=[
        "leg-amount",
        "leg-both-signs",
        "leg-delete",
        "header-memo",
        "header-unpost",
        "header-delete",
    ],
)
def test_a_posted_transaction_cannot_be_changed_in_sql(posted, sql):
    with pytest.raises(IntegrityError, match="cannot be changed"), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(sql, [posted.pk])
        check_deferred_now()
    assert Leg.objects.filter(transaction=posted).count() == 2


def test_legs_cannot_be_added_to_a_posted_transaction_even_balanced(posted, county):
    ids = accounts(county, Y1)
    with (
        pytest.raises(IntegrityError, match="cannot be changed"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        for account, fen in ((ids["premium_pool"], 500), (ids["relief_paid"], -500)):
            cur.execute(
                "INSERT INTO funds_leg (transaction_id, account_id, amount) VALUES (%s, %s, %s)",
                [posted.pk, account, fen],
            )


def test_the_orm_cannot_change_a_posted_transaction_either(posted):
    posted.memo = "edited"
    with pytest.raises(IntegrityError), transaction.atomic():
        posted.save()


def test_a_correction_is_a_reversing_transaction_and_happens_once(posted, county):
    rev = services.ledger_transaction_reverse(
        tx=posted, actor=None, reason="wrong amount", date=dt.date(Y1, 2, 1)
    )
    assert rev.reversal_of == posted and rev.kind == "reversal"
    assert sorted(rev.legs.values_list("amount", flat=True)) == [
        Money("-1000.00"),
        Money("1000.00"),
    ]
    assert all(v == 0 for v in selectors.account_balances(county=county, year=Y1).values())
    assert (
        LedgerTransaction.objects.get(pk=posted.pk).memo == posted.memo
    )  # the original stays as it was
    with pytest.raises(FundError, match="already reversed"):
        services.ledger_transaction_reverse(tx=posted, actor=None, reason="again")
    with pytest.raises(FundError, match="not reversed again"):
        services.ledger_transaction_reverse(tx=rev, actor=None, reason="undo the undo")


def test_posting_into_a_settled_year_is_refused(county):
    services.fund_contribution_record(
        county=county,
        year=Y1,
        source="city",
        amount="10",
        document_no="S-1",
        received_on=dt.date(Y1, 1, 2),
        actor=None,
    )
    services.fund_settle_year(county=county, year=Y1, actor=None)
    with pytest.raises(FundError) as refused:
        services.ledger_post(
            county=county,
            year=Y1,
            kind="contribution",
            date=dt.date(Y1, 6, 1),
            memo="late",
            legs=[LegSpec("fund", Money(5)), LegSpec("source_city", Money(-5))],
            actor=None,
        )
    assert refused.value.message == services.ERR_YEAR_SETTLED.format(year=Y1)


def test_an_entry_dated_outside_its_fund_year_is_refused_but_a_later_correction_is_not(
    posted, county
):
    legs = [LegSpec("fund", Money(5)), LegSpec("source_city", Money(-5))]
    for date, message in [
        (dt.date(Y1 - 1, 12, 31), services.ERR_BEFORE_FUND_YEAR),
        (dt.date(Y1 + 1, 1, 1), services.ERR_AFTER_FUND_YEAR),
    ]:
        with pytest.raises(FundError) as refused:
            services.ledger_post(
                county=county,
                year=Y1,
                kind="contribution",
                date=date,
                memo="x",
                legs=legs,
                actor=None,
            )
        assert refused.value.message == message.format(date=date.isoformat(), year=Y1)
    # a correction is dated when it is made, years later if need be
    rev = services.ledger_transaction_reverse(tx=posted, actor=None, reason="typing error")
    assert rev.year == Y1 and rev.date.year > Y1


def test_legs_that_cancel_out_or_name_no_account_are_refused(county):
    for legs, message in [
        ([LegSpec("fund", Money(5)), LegSpec("fund", Money(-5))], services.ERR_TOO_FEW_LEGS),
        (
            [LegSpec("fund", Money(5)), LegSpec("petty_cash", Money(-5))],
            services.ERR_ACCOUNT_KIND.format(kind="petty_cash"),
        ),
    ]:
        with pytest.raises(FundError) as refused:
            services.ledger_post(
                county=county,
                year=Y1,
                kind="contribution",
                date=dt.date(Y1, 1, 1),
                memo="x",
                legs=legs,
                actor=None,
            )
        assert refused.value.message == message


def test_purging_a_synthetic_county_removes_its_fund_and_relocks_the_ledger(
    posted, county, households
):
    services.insurance_contract_create(
        county=county, year=Y2, insurer="PICC", rural_population=1000, actor=None
    )
    services.payment_request(
        decision_key="P-1", household=households[0], amount="10", county=county, year=Y2, actor=None
    )
    assert services.fund_data_purge(county=county) == 1
    assert not LedgerTransaction.objects.filter(county=county).exists()
    assert not Account.objects.filter(county=county).exists()
    again = services.fund_contribution_record(
        county=county,
        year=Y1,
        source="central",
        amount="1",
        document_no="T-2",
        received_on=dt.date(Y1, 1, 5),
        actor=None,
    ).transaction
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerTransaction.objects.filter(pk=again.pk).delete()
