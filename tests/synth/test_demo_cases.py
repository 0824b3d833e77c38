"""The demo seed: cases wait at every step, some are paid through a bank batch and its
return (booked in the ledger), one is in follow-up; the household check records the
synthetic generator's true figures."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from django.utils import timezone

from fangpin.cases.models import Case
from fangpin.cases.workflow import State
from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.funds import selectors as fund_selectors
from fangpin.funds import services as fund_services
from fangpin.funds.models import PaymentStatus
from fangpin.screening.models import ScreeningRun, Warning
from fangpin.synth.demo.cases import PLAN, SYSTEM_USERNAME, cases_demo_seed, true_figures
from fangpin.synth.population import county_population
from tests.conftest import SMALL_HOUSEHOLDS, SMALL_SEED

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lake(settings, tmp_path):
    """Each test's own lake, empty: the cases' data comparison reads it."""
    settings.LAKE_DIR = tmp_path / "lake"
    return settings.LAKE_DIR


@pytest.fixture
def contract(county):
    return fund_services.insurance_contract_create(
        county=county,
        year=timezone.localdate().year,
        insurer="PICC",
        rural_population=10_000,
        actor=None,
    )


def test_the_demo_leaves_cases_at_every_step_and_pays_some(county, contract):
    counts = cases_demo_seed(county=county)
    states = set(Case.objects.values_list("state", flat=True))
    assert set(State.values) - {"rejected"} <= states, counts
    # the plan, and one paid claim brought in again: relieved in full, closed (结案)
    assert sum(counts.values()) == Case.objects.count() == sum(n for _, n in PLAN) + 1
    assert counts[State.CLOSED] == 1, counts
    assert counts[State.PAID] == 3 and counts[State.FOLLOW_UP] == 1, counts

    # paid through the bank: the payments succeeded, the ledger booked them and balances
    year = timezone.localdate().year
    paid = Case.objects.filter(state__in=[State.PAID, State.FOLLOW_UP])
    payments = [c.current_decision.payment for c in paid]
    assert all(p.status == PaymentStatus.SUCCEEDED and p.transaction_id for p in payments)
    waiting = Case.objects.filter(state=State.PAYMENT_REQUESTED)
    assert {c.current_decision.payment.status for c in waiting} == {PaymentStatus.EXPORTED}
    totals = fund_selectors.ledger_totals(county=county)
    assert all(v.amount == 0 for v in totals.values()), totals
    balances = fund_selectors.account_balances(county=county, year=year)
    booked = sum((p.amount.amount for p in payments), Decimal(0))
    assert balances["relief_paid"].amount == booked > 0
    assert balances["premium_pool"].amount == -booked
    assert AuditEvent.objects.filter(action="cases.case.payment_paid").count() == 4
    assert AuditEvent.objects.filter(action="cases.case.follow_up").count() == 1

    assert cases_demo_seed(county=county) == {}  # safe to run again


def test_the_household_check_records_the_generators_true_figures(county, contract):
    cases_demo_seed(county=county)
    checked = list(Case.objects.exclude(verified_income__isnull=True).select_related("household"))
    assert checked
    # the generator's own figures, drawn again from the seed the county was built with
    pop = county_population(seed=SMALL_SEED, county_code=county.code, households=SMALL_HOUSEHOLDS)
    numbers = [c.household.household_no for c in checked]
    sizes = dict(
        pop.households.filter(pl.col("household_no").is_in(numbers))
        .select("household_no", "size")
        .iter_rows()
    )
    truth = {no: (size, {}) for no, size in sizes.items()}
    for no, year, fen in (
        pop.incomes.filter(pl.col("household_no").is_in(numbers))
        .select("household_no", "year", "annual_income_fen")
        .iter_rows()
    ):
        truth[no][1][year] = Money.from_fen(fen)
    assert len(truth) == len(set(numbers))  # the generator knows every demo household
    assert true_figures(numbers=numbers) == truth  # and the stored truth is the same
    for case in checked:
        size, by_year = truth[case.household.household_no]
        latest = max(y for y in by_year if y <= case.period)
        assert (case.verified_members, case.verified_income) == (size, by_year[latest])


def test_a_share_of_this_years_open_warnings_is_walked(county, contract):
    from fangpin.registry.models import Household

    year = timezone.localdate().year
    run = ScreeningRun.objects.create(year=year, county_code=county.code)
    households = list(
        Household.objects.filter(village__path__startswith=county.path)
        .exclude(bank_account="")
        .order_by("-household_no")[:7]
    )
    # last year's warning, the oldest, is not this year's case (its fund year is settled)
    last = households.pop()
    earlier = Warning.objects.create(
        household=last,
        region_path=last.village.path,
        circumstance="medical",
        year=year - 1,
        household_type="marginal",
        members=1,
        self_paid="40000",
        parameter_version="test",
        estimated_relief="1000",
        run=run,
    )
    warnings = [
        Warning.objects.create(
            household=h,
            region_path=h.village.path,
            circumstance="medical",
            year=year,
            household_type=h.household_type,
            members=h.members.count(),
            self_paid=f"{31_000 + i * 1_000}.50",
            parameter_version="test",
            estimated_relief="1000",
            run=run,
        )
        for i, h in enumerate(households)
    ]
    cases_demo_seed(county=county)
    walked = [w for w in warnings if Case.objects.filter(household=w.household).exists()]
    assert walked == warnings[::3]  # every third, oldest first
    cases = [Case.objects.get(household=w.household) for w in walked]
    # spread over the plan: the first waits for the household check, the second is past it
    assert [c.state for c in cases] == ["household_check", "data_comparison"]
    for w, case in zip(walked, cases, strict=True):
        w.refresh_from_db()
        assert w.status == "confirmed" and w.decided_by.username == SYSTEM_USERNAME
        assert case.source == "warning" and case.period == year
        assert case.intakes.get().reference == str(w.pk)
        assert case.intakes.get().warning_id == w.pk  # the link the hit rates read
    assert cases[1].verified_self_paid == walked[1].self_paid  # the screening's figure
    # the rest are applications and reports: the warnings are real ones
    assert Case.objects.filter(source="warning").count() == 2
    earlier.refresh_from_db()
    assert earlier.status == "new"
