"""The numbers of pairing and risk elimination are policy parameters (POLICY.md: "Every
number here is a parameter"): a changed value — for the city or for one county — changes
what the pages and checks say, without a code change."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from fangpin.pairing import risk, rules, selectors, services, visits
from fangpin.pairing.models import Pairing

from .conftest import HAND_COUNTY

D = dt.date
DAY = dt.timedelta(days=1)
TODAY = timezone.localdate()


def closable(hand, cadre_factory, officer, *, recorded_days_ago=200, births=None, labour="able"):
    """A household meeting every condition of risk elimination under the reference rules
    (unless its income was recorded too recently or its members are too old)."""
    births = births or ("19800101", "19820101")
    h = hand.household(
        members=(("王强", births[0], labour), ("王妻", births[1], labour)),
    )
    hand.income(h, TODAY.year - 1, 16_000, recorded_on=TODAY - recorded_days_ago * DAY)
    cadre = cadre_factory()
    services.pairing_assign(household=h, cadre=cadre, start_date=TODAY - 300 * DAY, actor=officer)
    visits.visit_record(
        household=h,
        visited_on=TODAY - 150 * DAY,
        mode="in_person",
        met="王强",
        help_given="宣讲防贫政策",
        cadre=cadre,
        actor=officer,
    )
    return h


def failing(household) -> list[str]:
    checks = risk.risk_checks(household=household, on=TODAY).checks
    return [c.code for c in checks if not c.passed]


# --- risk elimination -------------------------------------------------------------------------


def test_income_recorded_100_days_ago_is_stable_enough_when_the_city_asks_for_90_days(
    hand, cadre_factory, officer, tree
):
    h = closable(hand, cadre_factory, officer, recorded_days_ago=100)
    assert failing(h) == ["income"]  # the reference: 183 days (six months)
    income = risk.risk_checks(household=h, on=TODAY).checks[0]
    assert income.label == risk.CHECK_INCOME.format(days=183)
    assert income.detail == risk.WHY_NO_INCOME.format(
        date=(TODAY - 183 * DAY).isoformat(), on=TODAY.isoformat()
    )
    tree.edit("risk.yaml", "{value: 183}", "{value: 90}").use()
    assert failing(h) == []
    income = risk.risk_checks(household=h, on=TODAY).checks[0]
    assert income.label == risk.CHECK_INCOME.format(days=90)
    assert (TODAY - 90 * DAY).isoformat() in income.detail


def test_a_county_of_its_own_asks_for_its_own_stable_days(hand, cadre_factory, officer, tree):
    h = closable(hand, cadre_factory, officer, recorded_days_ago=100)
    tree.county("130432", "risk.stable_days", 90).use()  # another county: not this one
    assert failing(h) == ["income"]
    tree.county(HAND_COUNTY, "risk.stable_days", 90).use()
    assert failing(h) == []


def test_members_of_66_count_as_able_to_work_when_the_working_age_ends_at_70(
    hand, cadre_factory, officer, tree
):
    born = f"{TODAY.year - 67}0101"  # 66 or 67 today: above 64, not above 70
    h = closable(hand, cadre_factory, officer, births=(born, born), labour="")
    assert failing(h) == ["labour"]
    assert risk.risk_checks(household=h, on=TODAY).checks[3].detail == (risk.WHY_NO_LABOUR)
    tree.edit("risk.yaml", "{value: 64}", "{value: 70}").use()
    assert failing(h) == []
    tree.edit("risk.yaml", "{value: 16}", "{value: 68}").use()  # and begins at 68
    assert failing(h) == ["labour"]


def test_before_the_rules_existed_the_income_and_labour_checks_cannot_pass(
    hand, cadre_factory, officer
):
    h = closable(hand, cadre_factory, officer)
    on = D(2016, 6, 1)  # the pairing pages accept dates from 2013; the parameters begin in 2017
    checks = {c.code: c for c in risk.risk_checks(household=h, on=on).checks}
    assert not checks["income"].passed and not checks["labour"].passed
    assert checks["income"].detail == risk.WHY_NO_RULE.format(on="2016-06-01")
    assert checks["labour"].detail == risk.WHY_NO_RULE.format(on="2016-06-01")


# --- the visit period -------------------------------------------------------------------------

DAY_IN_JUNE = D(2019, 6, 15)


@pytest.fixture
def visited_in_april(hand, cadre_factory, officer):
    """A household paired since 2018 whose last visit was on 10 April 2019."""
    cadre = cadre_factory()
    h = hand.household()
    Pairing.objects.create(household=h, cadre=cadre, start_date=D(2018, 1, 1))
    visits.visit_record(
        household=h, visited_on=D(2019, 4, 10), mode="phone", met="户主", cadre=cadre, actor=officer
    )
    return h


def overdue_nos(user, today):
    qs = selectors.followup_households(user=user, today=today, overdue_only=True)
    return list(qs.values_list("household_no", flat=True))


def followup_of(household, today):
    household = type(household).objects.select_related("village").get(pk=household.pk)
    return selectors.household_followup(household=household, today=today)


def test_a_household_visited_this_quarter_is_overdue_when_visits_are_due_monthly(
    visited_in_april, officer, tree, hand
):
    h = visited_in_april
    # the reference: a quarter, begun on 1 April
    assert h.household_no not in overdue_nos(officer, DAY_IN_JUNE)
    assert [
        (r.paired, r.visited)
        for r in selectors.compliance_by_region(user=officer, today=DAY_IN_JUNE)
    ] == [(1, 1)]
    followup = followup_of(h, DAY_IN_JUNE)
    assert not followup.overdue
    assert (followup.period.months, followup.period.start) == (3, D(2019, 4, 1))
    tree.edit("pairing.yaml", "{value: 3}", "{value: 1}").use()
    assert h.household_no in overdue_nos(officer, DAY_IN_JUNE)
    assert [
        (r.paired, r.visited)
        for r in selectors.compliance_by_region(user=officer, today=DAY_IN_JUNE)
    ] == [(1, 0)]
    followup = followup_of(h, DAY_IN_JUNE)
    assert followup.overdue and followup.period.start == D(2019, 6, 1)
    assert h.household_no not in overdue_nos(officer, D(2019, 4, 30))  # April: visited


def test_a_county_with_its_own_visit_period_is_judged_by_it_in_every_list(
    visited_in_april, officer, tree, city_admin
):
    h = visited_in_april
    tree.county("130432", "pairing.visit_period_months", 1).use()  # another county's rule
    for user in (officer, city_admin):
        assert h.household_no not in overdue_nos(user, DAY_IN_JUNE)
    assert [r.visited for r in selectors.compliance_by_region(user=officer, today=DAY_IN_JUNE)] == [
        1
    ]
    tree.county(HAND_COUNTY, "pairing.visit_period_months", 1).use()
    for user in (officer, city_admin):  # a county's list, and the city's over every county
        assert h.household_no in overdue_nos(user, DAY_IN_JUNE)
    assert [r.visited for r in selectors.compliance_by_region(user=officer, today=DAY_IN_JUNE)] == [
        0
    ]
    assert followup_of(h, DAY_IN_JUNE).overdue
    assert rules.visit_period_of_user(user=officer, today=DAY_IN_JUNE).months == 1
    assert rules.visit_period_of_user(user=city_admin, today=DAY_IN_JUNE).months == 3


def test_the_pages_name_the_visit_period_in_force(officer, tree):
    tree.edit("pairing.yaml", "{value: 3}", "{value: 1}").use()
    c = Client()
    c.force_login(officer)
    assert "本月走访" in c.get("/pairing/").content.decode()  # Chinese first
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = c.get("/pairing/").content.decode()
    assert "Visits this month" in page
    assert f"since {TODAY.replace(day=1).isoformat()}" in page
    assert "the current visit period, a calendar month" in page
    tree.edit("pairing.yaml", "{value: 1}", "{value: 6}").use()
    page = c.get("/pairing/").content.decode()
    assert "Visits this half-year" in page
    assert "a calendar period of 6 months" in page
    start = rules.period_start(TODAY, 6)
    assert f"since {start.isoformat()}" in page
