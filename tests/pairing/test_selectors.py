"""Reads of pairing assistance on a hand-built county whose answers are known by construction."""

from __future__ import annotations

import datetime as dt

import pytest

from fangpin.common.money import Money
from fangpin.funds.models import PaymentStatus
from fangpin.pairing import home, outcomes, selectors, services, visits
from fangpin.pairing.models import Pairing, RiskClosure
from fangpin.pairing.outcomes import NEW, RETURNED
from fangpin.pairing.rules import quarter_start
from fangpin.pairing.visits import PlacementIn, ProblemIn

D = dt.date


START = D(2018, 1, 1)


def pair(household, cadre, start=START):
    return Pairing.objects.create(household=household, cadre=cadre, start_date=start)


def visit(household, cadre, on, officer, **kw):
    return visits.visit_record(
        household=household,
        visited_on=on,
        mode="in_person",
        met="户主",
        cadre=cadre,
        actor=officer,
        **kw,
    )


def overdue_nos(user, today, **kw):
    return list(
        selectors.followup_households(user=user, today=today, overdue_only=True, **kw).values_list(
            "household_no", flat=True
        )
    )


@pytest.mark.parametrize(
    ("day", "start"),
    [
        (D(2019, 1, 1), D(2019, 1, 1)),
        (D(2019, 3, 31), D(2019, 1, 1)),
        (D(2019, 4, 1), D(2019, 4, 1)),
        (D(2019, 8, 15), D(2019, 7, 1)),
        (D(2019, 12, 31), D(2019, 10, 1)),
    ],
)
def test_the_quarter_begins_on_the_first_of_january_april_july_october(day, start):
    assert quarter_start(day) == start


# --- overdue ---------------------------------------------------------------------------------


def test_overdue_across_quarter_and_year_boundaries(hand, cadre_factory, officer):
    cadre = cadre_factory()
    h = hand.household()
    pair(h, cadre)
    visit(h, cadre, D(2019, 3, 15), officer)
    assert h.household_no not in overdue_nos(officer, D(2019, 3, 31))  # last day of Q1
    assert h.household_no in overdue_nos(officer, D(2019, 4, 1))  # first day of Q2
    visit(h, cadre, D(2019, 12, 31), officer)
    assert h.household_no not in overdue_nos(officer, D(2019, 12, 31))
    assert h.household_no in overdue_nos(officer, D(2020, 1, 1))  # a new year is a new quarter
    # a visit after "today" does not count: on 30 December the last visit was in March
    assert h.household_no in overdue_nos(officer, D(2019, 12, 30))
    visit(h, cadre, D(2020, 4, 1), officer)  # visited on the quarter's first day
    assert h.household_no not in overdue_nos(officer, D(2020, 4, 1))


def test_only_households_with_a_running_pairing_can_be_overdue(hand, cadre_factory, officer):
    cadre = cadre_factory()
    never_paired = hand.household()
    ended = hand.household()
    Pairing.objects.create(
        household=ended, cadre=cadre, start_date=D(2018, 1, 1), end_date=D(2019, 2, 1)
    )
    new = hand.household()
    pair(new, cadre, start=D(2019, 5, 20))  # began this quarter, not yet visited: overdue
    listed = overdue_nos(officer, D(2019, 6, 1))
    assert new.household_no in listed
    assert never_paired.household_no not in listed and ended.household_no not in listed
    assert new.household_no not in overdue_nos(officer, D(2019, 5, 19))  # not yet paired then


def test_a_cadre_sees_their_own_households_overdue_first(hand, cadre_factory, officer):
    cadre, other = cadre_factory(), cadre_factory()
    visited, last_quarter, never = hand.household(), hand.household(), hand.household()
    someone_elses = hand.household()
    for h in (visited, last_quarter, never):
        pair(h, cadre)
    pair(someone_elses, other)
    visit(visited, cadre, D(2019, 5, 2), officer)
    visit(last_quarter, cadre, D(2019, 2, 2), officer)
    rows = list(selectors.followup_households(user=officer, today=D(2019, 6, 1), cadre=cadre))
    assert [h.household_no for h in rows] == [
        never.household_no,
        last_quarter.household_no,
        visited.household_no,
    ]
    assert [h.overdue for h in rows] == [True, True, False]
    assert rows[1].last_visit == D(2019, 2, 2) and rows[0].last_visit is None


def test_compliance_by_township_is_one_query(
    hand, cadre_factory, officer, django_assert_max_num_queries
):
    c1, c3 = cadre_factory(hand.village1), cadre_factory(hand.village3)
    a, b = hand.household(), hand.household(village=hand.village2)
    c = hand.household(village=hand.village3)
    pair(a, c1)
    pair(b, cadre_factory(hand.village2))
    pair(c, c3)
    visit(a, c1, D(2019, 4, 10), officer)
    visit(c, c3, D(2019, 3, 10), officer)  # last quarter
    with django_assert_max_num_queries(2):
        rows = selectors.compliance_by_region(user=officer, today=D(2019, 6, 30))
    assert [(r.code, r.paired, r.visited, r.overdue, r.percent) for r in rows] == [
        (hand.town1.code, 2, 1, 1, 50),
        (hand.town2.code, 1, 0, 1, 0),
    ]


def test_problems_open_and_solved_are_counted_by_category(hand, cadre_factory, officer):
    cadre = cadre_factory()
    h = hand.household()
    pair(h, cadre)
    v = visit(
        h,
        cadre,
        D(2019, 5, 1),
        officer,
        problems=[
            ProblemIn("medical", "住院"),
            ProblemIn("medical", "慢病"),
            ProblemIn("income", "减收"),
        ],
    )
    visits.problem_solve(
        problem=v.problems.filter(category="medical").first(), solution="报销", actor=officer
    )
    counts = {p.category: (p.open, p.solved) for p in selectors.problem_counts(user=officer)}
    assert counts["medical"] == (1, 1)
    assert counts["income"] == (1, 0)
    assert counts["housing"] == (0, 0)


def test_totals_per_year_count_visits_problems_solved_and_people_into_work(
    hand, cadre_factory, officer
):
    cadre = cadre_factory()
    h = hand.household(members=(("孙伟伟", "19900305", "able"),))
    pair(h, cadre)
    member = h.members.get()
    visit(h, cadre, D(2018, 11, 1), officer, problems=[ProblemIn("employment", "无工作")])
    visit(h, cadre, D(2018, 12, 1), officer)
    v = visit(h, cadre, D(2019, 2, 1), officer)
    problem = h.problems.get()
    visits.problem_solve(
        problem=problem, solution="介绍到微工厂", solved_on=D(2019, 2, 1), actor=officer
    )
    for day in (D(2019, 2, 1), D(2019, 8, 1)):  # the same person placed twice counts once
        visit(
            h,
            cadre,
            day,
            officer,
            placements=[PlacementIn(member.pk, "东测村扶贫微工厂", "缝制书包", "75")],
        )
    totals = {t.year: t for t in selectors.totals_by_year(user=officer)}
    assert (totals[2018].visits, totals[2018].problems_found, totals[2018].problems_solved) == (
        2,
        1,
        0,
    )
    assert (totals[2019].visits, totals[2019].problems_solved, totals[2019].people_into_work) == (
        3,
        1,
        1,
    )
    assert v.pk


# --- the pairing rule ------------------------------------------------------------------------


def test_a_paid_case_without_a_rural_contact_is_listed_until_one_is_assigned(
    hand, cadre_factory, officer
):
    today = D(2019, 6, 30)
    village_cadre = cadre_factory(hand.village1)
    county_cadre = cadre_factory(hand.county, level="county")
    no_contact, rural, county_contact = hand.household(), hand.household(), hand.household()
    failed, future, closed, paid_after_closure = (hand.household() for _ in range(4))
    unpaid = hand.household()
    for h in (no_contact, rural, county_contact, closed, paid_after_closure):
        hand.paid(h, D(2019, 5, 1))
    hand.paid(failed, D(2019, 5, 1), status=PaymentStatus.FAILED)
    hand.paid(future, D(2019, 7, 1))
    pair(rural, village_cadre)
    pair(county_contact, county_cadre)
    RiskClosure.objects.create(household=closed, closed_on=D(2019, 6, 1), reason="x")
    RiskClosure.objects.create(household=paid_after_closure, closed_on=D(2019, 4, 1), reason="x")

    def listed(**kw):
        return {h.household_no: h for h in selectors.rule_breaches(user=officer, today=today, **kw)}

    breaches = listed()
    assert set(breaches) == {
        no_contact.household_no,
        county_contact.household_no,
        paid_after_closure.household_no,
    }
    assert breaches[no_contact.household_no].last_paid_on == D(2019, 5, 1)
    assert breaches[county_contact.household_no].contact_name == county_cadre.name
    assert breaches[no_contact.household_no].contact_name is None
    # everyone without a rural contact, paid or not, except those closed since their last payment
    assert set(listed(everyone=True)) == set(breaches) | {
        failed.household_no,
        future.household_no,
        unpaid.household_no,
    }

    services.pairing_assign_bulk(
        assignments=[(no_contact.pk, village_cadre.pk), (county_contact.pk, village_cadre.pk)],
        start_date=D(2019, 6, 30),
        actor=officer,
    )
    assert set(listed()) == {paid_after_closure.household_no}


def test_suggestions_are_same_village_cadres_with_fewest_pairs_spread_over_a_batch(
    hand, cadre_factory
):
    a = cadre_factory(hand.village1, name="A-cadre")
    b = cadre_factory(hand.village1, name="B-cadre")
    assert b.pk != a.pk
    t = cadre_factory(hand.town1, name="T-cadre")
    cadre_factory(hand.village2, name="other village")
    for _ in range(2):
        pair(hand.household(), a)
    batch = [hand.household() for _ in range(3)]
    suggested = selectors.cadre_suggestions(households=batch, today=D(2019, 6, 30))
    first = suggested[batch[0].pk]
    assert [(s.name, s.pairs, s.same_village) for s in first] == [
        ("B-cadre", 0, True),
        ("A-cadre", 2, True),
        ("T-cadre", 0, False),
    ]
    assert [suggested[h.pk][0].name for h in batch] == ["B-cadre", "B-cadre", "A-cadre"]
    assert t.pk in {s.cadre_id for s in first}


# --- outcomes --------------------------------------------------------------------------------


@pytest.fixture
def outcome_county(hand):
    """Households whose 2019 outcome is known: lines 2018 4,833 and 2019 5,336 per person."""
    h = hand.household
    one = (("户主", "19700101", "able"),)
    two = (("户主", "19700101", "able"), ("配偶", "19720101", "able"))
    cases = {
        "returned": h(
            household_type="unstable",
            members=(("关返贫", "19700101", "able"),),
            incomes={2018: 5000, 2019: 5000},
        ),
        "always_below": h(household_type="unstable", members=one, incomes={2018: 4000, 2019: 4000}),
        "new_from_the_line": h(
            village=hand.village2,
            household_type="marginal",
            members=(("李新贫", "19700101", "able"), ("李妻", "19720101", "able")),
            incomes={2018: 2 * 4833, 2019: 2 * 5335},
        ),
        "stays_above": h(household_type="ordinary", members=one, incomes={2018: 6000, 2019: 6000}),
        "at_the_line": h(household_type="unstable", members=one, incomes={2018: 6000, 2019: 5336}),
        "corrected_up": h(household_type="unstable", members=one, incomes={2018: 6000, 2019: 5000}),
        "corrected_down": h(
            household_type="marginal", members=two, incomes={2018: 12000, 2019: 12000}
        ),
        "no_2018": h(household_type="sudden", members=one, incomes={2019: 3000}),
        "other_township": h(
            village=hand.village3,
            household_type="marginal",
            members=one,
            incomes={2018: 5000, 2019: 5000},
        ),
    }
    hand.income(cases["corrected_up"], 2019, 6000)  # a later record of 2019 is the one in force
    hand.income(cases["corrected_down"], 2019, 2 * 5000)
    return cases


def test_outcomes_on_a_hand_built_county(outcome_county, officer, hand):
    report = outcomes.outcome_report(user=officer, year=2019)
    assert (report.returned, report.new, report.evaluated) == (1, 3, 8)
    assert {r.household_no: r.kind for r in report.rows} == {
        outcome_county["returned"].household_no: RETURNED,
        outcome_county["new_from_the_line"].household_no: NEW,
        outcome_county["corrected_down"].household_no: NEW,
        outcome_county["other_township"].household_no: NEW,
    }
    by_township = {g.code: (g.returned, g.new) for g in report.groups}
    assert by_township == {hand.town1.code: (1, 2), hand.town2.code: (0, 1)}
    row = next(
        r for r in report.rows if r.household_no == outcome_county["new_from_the_line"].household_no
    )
    assert (row.head_name, row.members, row.township) == ("李新贫", 2, hand.town1.name)
    assert (row.per_capita_before, row.line_before) == (Money(4833), Money(4833))
    assert (row.per_capita, row.line) == (Money(5335), Money(5336))


def test_outcomes_are_scoped_to_the_users_region(outcome_county, make_user, hand):
    officer2 = make_user("township_officer", hand.town2)
    report = outcomes.outcome_report(user=officer2, year=2019)
    assert (report.returned, report.new, report.evaluated) == (0, 1, 1)
    assert [r.household_no for r in report.rows] == [outcome_county["other_township"].household_no]
    assert [g.code for g in report.groups] == [hand.village3.code]  # by village for a township


def test_a_year_without_last_years_line_is_not_evaluated(outcome_county, officer):
    report = outcomes.outcome_report(
        user=officer, year=2017
    )  # 2016 has no line: the policy began in 2017
    assert (report.returned, report.new, report.evaluated, report.no_line) == (0, 0, 0, True)


def test_the_home_summary_counts_outcomes_and_overdue_households(
    outcome_county, officer, cadre_factory
):
    pair(outcome_county["returned"], cadre_factory())
    summary = home.home_summary(user=officer, today=D(2019, 6, 30))
    assert summary.show_outcomes
    outcome = home.home_outcome(user=officer, today=D(2019, 6, 30))
    assert (outcome.year, outcome.returned, outcome.new) == (2019, 1, 3)
    assert (summary.paired_total, summary.overdue_total) == (1, 1)
    assert summary.cadre is None


def test_the_home_cards_show_the_current_year_never_a_year_ahead(outcome_county, officer, hand):
    hand.income(outcome_county["stays_above"], 2020, 6000)  # a 2020 figure, on record early
    assert home.home_outcome(user=officer, today=D(2019, 6, 30)).year == 2019
    assert home.home_outcome(user=officer, today=D(2020, 6, 30)).year == 2020
