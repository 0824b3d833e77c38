"""``hooks.payment_succeeded``: a bank return tells its subscribers which payments it paid,
in the return's own transaction."""

from __future__ import annotations

import datetime as dt

import pytest

from fangpin.funds import hooks, services
from fangpin.funds.importer import BankReturn, bank_returns_record
from fangpin.funds.models import LedgerTransaction, Payment, PaymentStatus, TransactionKind
from fangpin.funds.services import FundError

from .conftest import Y1

pytestmark = pytest.mark.django_db


@pytest.fixture
def exported(county, households):
    """Three payments of Y1 sent to the bank in one batch; their attempts in batch order."""
    contract = services.insurance_contract_create(
        county=county, year=Y1, insurer="PICC", rural_population=10_000, actor=None
    )
    services.insurance_premium_pay(contract=contract, actor=None, paid_on=dt.date(Y1, 1, 10))
    for i, h in enumerate(households[:3]):
        services.payment_request(
            decision_key=f"K-{i}", household=h, amount="1000", county=county, year=Y1, actor=None
        )
    batch = services.payment_batch_export(county=county, year=Y1, actor=None)
    return list(batch.attempts.order_by("id"))


@pytest.fixture
def heard():
    """Subscribe a listener for the test; what it heard, call by call."""
    calls: list[dict] = []

    def listener(*, payments, actor):
        calls.append({"payments": payments, "actor": actor})

    hooks.payment_succeeded_subscribe(listener)
    hooks.payment_succeeded_subscribe(listener)  # once, however often subscribed
    yield calls
    hooks.payment_succeeded_unsubscribe(listener)


def test_a_bank_return_tells_the_subscribers_which_payments_it_paid(exported, heard):
    paid_on = dt.date(Y1, 3, 1)
    result = bank_returns_record(
        returns=[
            BankReturn(exported[0].reference, True, paid_on=paid_on),
            BankReturn(exported[1].reference, False, reason="账户已销户 account closed"),
            BankReturn(exported[2].reference, True, paid_on=paid_on),
        ]
    )
    assert result.ok, result.error_lines()
    assert len(heard) == 1 and heard[0]["actor"] is None
    told = heard[0]["payments"]
    assert sorted(p.pk for p in told) == sorted([exported[0].payment_id, exported[2].payment_id])
    assert all(p.status == PaymentStatus.SUCCEEDED and p.paid_on == paid_on for p in told)
    # a return that pays nothing new (the same file again) tells nobody
    assert bank_returns_record(returns=[BankReturn(exported[0].reference, True)]).ok
    assert len(heard) == 1


def test_a_subscriber_that_refuses_rolls_the_whole_return_back(exported):
    def refuse(*, payments, actor):
        raise FundError("the cases cannot follow (案件无法跟进)", field="reference")

    hooks.payment_succeeded_subscribe(refuse)
    try:
        result = bank_returns_record(
            returns=[BankReturn(a.reference, True, paid_on=dt.date(Y1, 3, 1)) for a in exported]
        )
    finally:
        hooks.payment_succeeded_unsubscribe(refuse)
    assert result.error_lines() == ["api: the cases cannot follow (案件无法跟进)"]
    assert set(Payment.objects.values_list("status", flat=True)) == {PaymentStatus.EXPORTED}
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.RELIEF).exists()
    # unsubscribed: the same return now goes through
    assert bank_returns_record(
        returns=[BankReturn(a.reference, True, paid_on=dt.date(Y1, 3, 1)) for a in exported]
    ).ok
    assert LedgerTransaction.objects.filter(kind=TransactionKind.RELIEF).count() == 3
