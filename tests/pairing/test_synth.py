"""The synthetic pairing data: deterministic, complete and believable on the small county."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.db.models import Max, Min

from fangpin.pairing import selectors
from fangpin.pairing.models import RURAL_LEVELS, Cadre, EmploymentPlacement, Pairing, Problem, Visit
from fangpin.registry.models import Household
from fangpin.synth.pairing import synth_pairing_build, synth_pairing_link_demo_user

TODAY = dt.date(2019, 11, 20)  # the middle of a quarter
SEED = 11


class Rollback(Exception):
    pass


def build_and_describe(county):
    result = synth_pairing_build(county=county, seed=SEED, today=TODAY)
    sample = list(
        Visit.objects.order_by("household__household_no", "visited_on").values_list(
            "household__household_no", "visited_on", "mode", "cadre__phone"
        )[:50]
    )
    return result, sample


def test_the_same_seed_and_day_give_the_same_data(county):
    outcomes = []
    for _ in range(2):
        try:
            with transaction.atomic():
                outcomes.append(build_and_describe(county))
                raise Rollback
        except Rollback:
            pass
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0].visits > 0


def test_every_household_is_paired_and_visited_like_a_county_at_work(county, make_user):
    result = synth_pairing_build(county=county, seed=SEED, today=TODAY)
    households = Household.objects.filter(village__path__startswith=county.path)
    n = households.count()
    running = Pairing.objects.filter(household__in=households, end_date__isnull=True)
    assert running.count() == n == running.values("household").distinct().count()
    rural = running.filter(cadre__level__in=RURAL_LEVELS).count()
    assert 0.85 < rural / n < 0.99
    assert Pairing.objects.filter(end_date__isnull=False).exists()  # some were reassigned
    assert result.cadres == Cadre.objects.filter(region__path__startswith=county.path).count()
    assert Cadre.objects.filter(level="county", work_unit__startswith=county.name).exists()

    span = Visit.objects.aggregate(first=Min("visited_on"), last=Max("visited_on"))
    assert span["first"] >= dt.date(2018, 1, 1) and span["last"] <= TODAY
    quarters = {
        (d.year, (d.month - 1) // 3) for d in Visit.objects.values_list("visited_on", flat=True)
    }
    assert len(quarters) == 8  # visits in every quarter of the period, 2018 Q1 to 2019 Q4
    officer = make_user("county_officer", county)
    rows = selectors.compliance_by_region(user=officer, today=dt.date(2019, 9, 30))
    done = sum(r.visited for r in rows) / sum(r.paired for r in rows)
    assert 0.85 < done < 0.99  # a past quarter: most households visited
    rows = selectors.compliance_by_region(user=officer, today=TODAY)
    now = sum(r.visited for r in rows) / sum(r.paired for r in rows)
    assert 0.3 < now < 0.8  # half-way through the current quarter

    problems = Problem.objects.filter(household__in=households)
    assert 0.05 < problems.count() / result.visits < 0.15
    solved = problems.filter(solved_on__isnull=False)
    assert solved.count() > problems.count() / 2
    assert not solved.filter(solved_on__gt=TODAY).exists()
    assert not problems.filter(solved_on__isnull=False, solution="").exists()

    for job in EmploymentPlacement.objects.filter(household__in=households).select_related(
        "member"
    ):
        assert 70 <= job.daily_wage.amount <= 80
        assert job.employer.endswith("扶贫微工厂") and job.member.household_id == job.household_id


def test_a_demo_login_acts_as_a_synthetic_cadre(county, make_user):
    synth_pairing_build(county=county, seed=SEED, today=TODAY)
    village = (
        Cadre.objects.filter(level="village", region__path__startswith=county.path).first().region
    )
    user = make_user("village_cadre", village, username="demo-village")
    cadre = synth_pairing_link_demo_user(user=user)
    assert cadre is not None and cadre.region == village and cadre.user == user
    assert selectors.followup_households(user=user, today=TODAY, cadre=cadre).exists()
    assert synth_pairing_link_demo_user(user=user) is None  # already linked


@pytest.mark.django_db
def test_rebuilding_a_county_removes_its_pairing_data(county):
    from tests.conftest import build_small_county

    synth_pairing_build(county=county, seed=SEED, today=TODAY)
    build_small_county()  # --replace: pairing rows must not block deleting the households
    assert not Visit.objects.filter(household__village__path__startswith=county.path).exists()
    assert not Cadre.objects.filter(region__path__startswith=county.path).exists()
