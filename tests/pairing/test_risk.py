"""Risk elimination (风险消除): each condition failing alone blocks the closure."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from fangpin.common.models import AuditEvent
from fangpin.pairing import errors, risk, services, visits
from fangpin.pairing.errors import PairingError
from fangpin.pairing.models import Pairing, RiskClosure
from fangpin.pairing.visits import PlacementIn, ProblemIn

TODAY = timezone.localdate()
DAY = dt.timedelta(days=1)
YEAR = TODAY.year - 1  # the income year on record
LINE = 5962  # the reference line in force from 2020 on (policy/parameters/city/income_test.yaml)


@pytest.fixture
def setup(hand, cadre_factory, officer):
    """Build a household that meets every condition, then let a test break one."""

    def build(
        *,
        income: int = 16_000,  # two people: 8,000 each, above the line
        recorded_days_ago: int = 200,
        labour: tuple[str, str] = ("able", "able"),
        births: tuple[str, str] = ("19800101", "19820101"),
        help_given: str = "宣讲防贫政策",
    ):
        h = hand.household(
            members=(("王强", births[0], labour[0]), ("王妻", births[1], labour[1])),
        )
        hand.income(h, YEAR, income, recorded_on=TODAY - recorded_days_ago * DAY)
        cadre = cadre_factory()
        services.pairing_assign(
            household=h, cadre=cadre, start_date=TODAY - 300 * DAY, actor=officer
        )
        visits.visit_record(
            household=h,
            visited_on=TODAY - 150 * DAY,
            mode="in_person",
            met="王强",
            help_given=help_given,
            cadre=cadre,
            actor=officer,
        )
        h.cadre = cadre
        return h

    return build


def failing(household, on=TODAY) -> list[str]:
    return [c.code for c in risk.risk_checks(household=household, on=on).checks if not c.passed]


def assert_blocked(household, officer, code: str) -> None:
    assert failing(household) == [code]
    with pytest.raises(PairingError) as err:
        services.risk_close(household=household, reason="收入稳定", actor=officer)
    assert err.value.message.startswith(errors.ERR_RISK_CHECKS.split("{")[0])
    assert not RiskClosure.objects.filter(household=household).exists()
    assert Pairing.objects.filter(household=household, end_date__isnull=True).exists()


def test_a_household_meeting_every_condition_is_closed_and_its_pairing_ends(setup, officer):
    h = setup()
    checks = risk.risk_checks(household=h, on=TODAY)
    assert checks.ok, checks.checks
    closure = services.risk_close(
        household=h, reason="收入稳定超过半年，问题均已解决", actor=officer
    )
    assert closure.closed_on == TODAY and closure.closed_by == officer
    assert [c["code"] for c in closure.checks] == ["income", "expense", "help", "labour"]
    assert all(c["passed"] for c in closure.checks)
    pairing = h.pairings.get()
    assert (pairing.end_date, pairing.end_reason) == (TODAY, services.REASON_RISK_CLOSED)
    event = AuditEvent.objects.get(action="pairing.risk.closed", object_id=str(closure.pk))
    assert (event.from_state, event.to_state, event.actor) == ("monitored", "closed", officer)
    # closed: nothing left to close
    with pytest.raises(PairingError) as err:
        services.risk_close(household=h, reason="again", actor=officer)
    assert err.value.message == errors.ERR_NOT_MONITORED.format(household=h.household_no)


def test_income_below_the_line_blocks_it(setup, officer):
    assert_blocked(setup(income=2 * 5000), officer, "income")


def test_income_exactly_at_the_line_is_not_above_it(setup, officer):
    assert_blocked(setup(income=2 * LINE), officer, "income")


def test_income_on_record_for_less_than_six_months_blocks_it(setup, officer):
    h = setup(recorded_days_ago=100)
    assert_blocked(h, officer, "income")
    detail = risk.risk_checks(household=h, on=TODAY).checks[0].detail
    assert detail == risk.WHY_NO_INCOME.format(
        date=(TODAY - 183 * DAY).isoformat(), on=TODAY.isoformat()
    )


def test_a_later_record_below_the_line_blocks_it(setup, hand, officer):
    h = setup()
    hand.income(h, YEAR, 9000, recorded_on=TODAY - 30 * DAY)  # a correction: 4,500 each
    assert_blocked(h, officer, "income")
    assert "recorded on" in risk.risk_checks(household=h, on=TODAY).checks[0].detail


def test_an_open_problem_blocks_it(setup, officer):
    h = setup()
    visits.visit_record(
        household=h,
        visited_on=TODAY - 10 * DAY,
        mode="phone",
        met="王强",
        problems=[ProblemIn("schooling", "孩子学费负担重")],
        cadre=h.cadre,
        actor=officer,
    )
    assert_blocked(h, officer, "expense")


def test_no_help_measure_blocks_it(setup, officer):
    assert_blocked(setup(help_given=""), officer, "help")


@pytest.mark.parametrize("measure", ["solved problem", "placement"])
def test_a_solved_problem_or_a_job_is_a_help_measure(setup, officer, measure):
    h = setup(help_given="")
    if measure == "solved problem":
        visit = visits.visit_record(
            household=h,
            visited_on=TODAY - 20 * DAY,
            mode="phone",
            met="王强",
            problems=[ProblemIn("medical", "慢性病用药")],
            cadre=h.cadre,
            actor=officer,
        )
        visits.problem_solve(problem=visit.problems.get(), solution="办理慢病卡", actor=officer)
    else:
        visits.visit_record(
            household=h,
            visited_on=TODAY - 20 * DAY,
            mode="in_person",
            met="王妻",
            placements=[
                PlacementIn(h.members.get(name="王妻").pk, "村扶贫微工厂", "缝制书包", "78")
            ],
            cadre=h.cadre,
            actor=officer,
        )
    assert failing(h) == []


def test_a_household_with_no_one_able_to_work_is_not_closed_this_way(setup, officer):
    h = setup(labour=("none", "none"))
    assert_blocked(h, officer, "labour")
    assert risk.risk_checks(household=h, on=TODAY).checks[3].detail == risk.WHY_NO_LABOUR


def test_blank_labour_is_judged_by_age(setup, officer):
    old = setup(labour=("", ""), births=("19400101", "19420101"))  # both over 64
    assert_blocked(old, officer, "labour")
    young = setup(labour=("", ""), births=("19400101", "19900101"))
    assert failing(young) == []


def test_only_a_county_officer_closes_and_the_reason_is_required(setup, officer, make_user, hand):
    h = setup()
    with pytest.raises(PairingError) as err:
        services.risk_close(household=h, reason=" ", actor=officer)
    assert err.value.message == errors.ERR_REQUIRED.format(field="reason")
    township = make_user("township_officer", hand.town1)
    with pytest.raises(PairingError) as err:
        services.risk_close(household=h, reason="x", actor=township)
    assert "pairing.close_risk" in err.value.message
    assert not RiskClosure.objects.filter(household=h).exists()
