"""A bank return that pays moves its cases to "paid" with no click (``cases.handlers``,
subscribed to the fund's ``payment_succeeded``); a failed line leaves its case waiting;
a return whose cases cannot move is refused whole."""

from __future__ import annotations

import pytest
from django.utils import timezone

from fangpin.cases import handlers, services
from fangpin.cases.models import Case
from fangpin.common.models import AuditEvent
from fangpin.funds import services as fund_services
from fangpin.funds.importer import BankReturn, bank_returns_record
from fangpin.funds.models import LedgerTransaction, Payment, PaymentStatus, TransactionKind
from fangpin.funds.services import FundError, ReturnLine, bank_returns_write
from fangpin.registry.models import Household
from tests.funds.conftest import bank_pays

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def neighbour(household):
    """Another household of the same village and type, with a bank account."""
    return (
        Household.objects.filter(village=household.village, household_type=household.household_type)
        .exclude(pk=household.pk)
        .exclude(bank_account="")
        .select_related("village")
        .order_by("household_no")
        .first()
    )


@pytest.fixture
def waiting(household, neighbour, roles, contract, walk):
    """Two cases whose payments were requested (loss determined), the premium paid."""
    fund_services.insurance_premium_pay(contract=contract, actor=None, paid_on=TODAY)
    cases = []
    for h in (household, neighbour):
        case, _ = services.case_open(
            household=h,
            circumstance="medical",
            period=TODAY.year,
            source="application",
            description="住院 hospital stay",
            amount_claimed="30000",
            actor=roles["village_cadre"],
        )
        cases.append(walk(case))
    assert [c.state for c in cases] == ["payment_requested"] * 2
    return cases


def state(case) -> str:
    return Case.objects.get(pk=case.pk).state


def payment_of(case) -> Payment:
    return Case.objects.get(pk=case.pk).current_decision.payment


def test_a_bank_return_that_pays_moves_its_cases_to_paid_without_a_click(
    waiting, roles, county, tmp_path
):
    officer = roles["county_officer"]
    bank_pays(tmp_path, county=county, year=TODAY.year, actor=officer, paid_on=TODAY)
    assert [state(c) for c in waiting] == ["paid", "paid"]
    moved = AuditEvent.objects.filter(action="cases.case.payment_paid").order_by("object_id")
    assert [(e.object_id, e.actor_id, e.from_state, e.to_state, e.reason) for e in moved] == [
        (str(c.pk), officer.pk, "payment_requested", "paid", handlers.REASON) for c in waiting
    ]
    # the button has nothing left to do
    case = services.case_payment_sync(case=Case.objects.get(pk=waiting[0].pk), actor=officer)
    assert case.state == "paid" and moved.count() == 2


def test_a_failed_line_leaves_its_case_waiting_until_the_bank_pays_it_again(
    waiting, roles, county, tmp_path, neighbour
):
    officer = roles["insurer_adjuster"]
    paid, failed = waiting
    bank_pays(
        tmp_path,
        county=county,
        year=TODAY.year,
        actor=officer,
        paid_on=TODAY,
        failures={neighbour.bank_account: "账户已销户 account closed"},
    )
    assert (state(paid), state(failed)) == ("paid", "payment_requested")
    assert payment_of(failed).status == PaymentStatus.FAILED

    fund_services.payment_retry(payment=payment_of(failed), actor=officer)
    bank_pays(tmp_path, county=county, year=TODAY.year, actor=officer, paid_on=TODAY, name="again")
    assert state(failed) == "paid" and payment_of(failed).status == PaymentStatus.SUCCEEDED


def test_a_return_recorded_by_nobody_that_pays_a_case_is_refused_whole(waiting, roles, county):
    batch = fund_services.payment_batch_export(county=county, year=TODAY.year, actor=None)
    returns = [BankReturn(a.reference, True, paid_on=TODAY) for a in batch.attempts.all()]
    result = bank_returns_record(returns=returns, actor=None)  # the operator's command line
    numbers = ", ".join(Case.objects.get(pk=c.pk).number for c in waiting)
    assert result.error_lines() == ["api: " + handlers.ERR_NO_USER.format(numbers=numbers)]
    assert [state(c) for c in waiting] == ["payment_requested"] * 2
    assert set(Payment.objects.values_list("status", flat=True)) == {PaymentStatus.EXPORTED}
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.RELIEF).exists()
    # the same return, recorded by a user who may confirm payments: the money and the cases
    assert bank_returns_record(returns=returns, actor=roles["city_admin"]).ok
    assert [state(c) for c in waiting] == ["paid", "paid"]


def test_a_case_the_recorder_may_not_move_rolls_the_return_back(waiting, roles, county):
    batch = fund_services.payment_batch_export(county=county, year=TODAY.year, actor=None)
    lines = [ReturnLine(a.pk, True, "", TODAY) for a in batch.attempts.order_by("id")]
    township = roles["township_officer"]  # may not confirm payments (确认到账)
    with pytest.raises(FundError) as refused:
        bank_returns_write(lines=lines, actor=township, source_path="test")
    first = Case.objects.get(pk=min(c.pk for c in waiting))
    assert refused.value.message.startswith(
        handlers.ERR_CASE_NOT_PAID.split("{reason}")[0].format(number=first.number)
    )
    assert "cases.payment_sync" in refused.value.message
    assert [state(c) for c in waiting] == ["payment_requested"] * 2
    assert set(Payment.objects.values_list("status", flat=True)) == {PaymentStatus.EXPORTED}
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.RELIEF).exists()
    assert not AuditEvent.objects.filter(action="funds.payment.succeeded").exists()
