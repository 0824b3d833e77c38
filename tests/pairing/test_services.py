"""Pairing services as a county office and its cadres use them: every refusal changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.pairing import cadres, errors, services, visits
from fangpin.pairing.errors import PairingError
from fangpin.pairing.models import Cadre, EmploymentPlacement, Pairing, Problem, Visit
from fangpin.pairing.visits import PlacementIn, ProblemIn

TODAY = timezone.localdate()
DAY = dt.timedelta(days=1)


def snapshot():
    return (
        Pairing.objects.count(),
        Visit.objects.count(),
        Problem.objects.count(),
        EmploymentPlacement.objects.count(),
        AuditEvent.objects.count(),
    )


# --- cadres ----------------------------------------------------------------------------------


def test_a_cadre_is_registered_with_an_audit_row(hand, officer):
    cadre = cadres.cadre_create(
        name="李文文",
        work_unit="武安市审计局",
        level="县级",
        phone="13903101234",
        region=hand.village1,  # a county cadre stationed in a village (驻村)
        actor=officer,
    )
    assert cadre.level == "county" and not cadre.is_rural
    assert AuditEvent.objects.filter(
        action="pairing.cadre.created", object_id=str(cadre.pk)
    ).exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"phone": "12345"}, errors.ERR_PHONE),
        ({"level": "province"}, errors.ERR_LEVEL),
        ({"level": "village", "region": "town1"}, "a village-level cadre serves at that level"),
        ({"name": " "}, errors.ERR_REQUIRED.format(field="name")),
    ],
)
def test_a_bad_cadre_is_refused(hand, officer, kwargs, message):
    args = {
        "name": "张三",
        "work_unit": "东测村委会",
        "level": "village",
        "phone": "13903105678",
        "region": hand.village1,
    }
    args.update({k: getattr(hand, v) if k == "region" else v for k, v in kwargs.items()})
    with pytest.raises(PairingError) as err:
        cadres.cadre_create(**args, actor=officer)
    assert message in err.value.message
    assert not Cadre.objects.filter(phone=args["phone"]).exists()


def test_a_phone_number_names_one_cadre(hand, cadre_factory):
    first = cadre_factory()
    with pytest.raises(PairingError) as err:
        cadres.cadre_create(
            name="另一人", work_unit="x", level="village", phone=first.phone, region=hand.village1
        )
    assert err.value.message == errors.ERR_PHONE_TAKEN.format(phone=first.phone, cadre=first.name)


def test_a_county_officer_cannot_register_a_cadre_in_another_county(hand, county, make_user):
    other_officer = make_user("county_officer", county)  # 魏县
    with pytest.raises(PairingError) as err:
        cadres.cadre_create(
            name="张三",
            work_unit="x",
            level="village",
            phone="13903109999",
            region=hand.village1,
            actor=other_officer,
        )
    assert err.value.message == errors.ERR_REGION_SCOPE.format(code=hand.village1.code)


# --- pairings --------------------------------------------------------------------------------


def test_reassigning_ends_the_old_pairing_and_keeps_the_history(hand, cadre_factory, officer):
    h = hand.household()
    first, second = cadre_factory(), cadre_factory()
    p1 = services.pairing_assign(
        household=h, cadre=first, start_date=TODAY - 30 * DAY, actor=officer
    )
    # the same cadre again: nothing changes
    assert services.pairing_assign(household=h, cadre=first, actor=officer).pk == p1.pk
    p2 = services.pairing_assign(
        household=h, cadre=second, start_date=TODAY - 2 * DAY, reason="调岗", actor=officer
    )
    p1.refresh_from_db()
    assert (p1.end_date, p1.end_reason) == (TODAY - 2 * DAY, "调岗")
    assert p2.end_date is None and p2.cadre == second
    assert list(h.pairings.order_by("start_date").values_list("cadre_id", flat=True)) == [
        first.pk,
        second.pk,
    ]
    actions = list(
        AuditEvent.objects.filter(object_type="pairing.pairing").values_list("action", flat=True)
    )
    assert actions.count("pairing.pairing.started") == 2
    assert actions.count("pairing.pairing.ended") == 1


def test_the_database_refuses_two_running_pairings_for_one_household(hand, cadre_factory):
    h = hand.household()
    a, b = cadre_factory(), cadre_factory()
    Pairing.objects.create(household=h, cadre=a, start_date=TODAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        Pairing.objects.create(household=h, cadre=b, start_date=TODAY)


def test_a_pairing_cannot_end_before_it_starts_in_the_database(hand, cadre_factory):
    h = hand.household()
    with pytest.raises(IntegrityError), transaction.atomic():
        Pairing.objects.create(
            household=h, cadre=cadre_factory(), start_date=TODAY, end_date=TODAY - DAY
        )


def test_bulk_assignment_is_set_based(hand, cadre_factory, officer, django_assert_max_num_queries):
    households = [hand.household() for _ in range(40)]
    cadres = [cadre_factory() for _ in range(4)]
    assignments = [(h.pk, cadres[i % 4].pk) for i, h in enumerate(households)]
    with django_assert_max_num_queries(14):
        result = services.pairing_assign_bulk(assignments=assignments, actor=officer)
    assert len(result.created) == 40 and result.ended == 0
    # all of them again, to other cadres: the running ones end in one UPDATE
    again = [(h.pk, cadres[(i + 1) % 4].pk) for i, h in enumerate(households)]
    with django_assert_max_num_queries(14):
        result = services.pairing_assign_bulk(assignments=again, actor=officer)
    assert (len(result.created), result.ended) == (40, 40)
    assert Pairing.objects.filter(household__in=households, end_date__isnull=True).count() == 40


def test_a_household_outside_the_officers_region_is_refused_and_nothing_is_written(
    hand, cadre_factory, make_user, county
):
    officer2 = make_user("township_officer", hand.town2)
    county_of_wei = make_user("county_officer", county)  # 魏县, not 武安市
    mine, theirs = hand.household(village=hand.village3), hand.household(village=hand.village1)
    cadre3, cadre1 = cadre_factory(hand.village3), cadre_factory(hand.village1)
    before = snapshot()
    with pytest.raises(PairingError) as err:  # township officers may not assign at all
        services.pairing_assign_bulk(
            assignments=[(mine.pk, cadre3.pk), (theirs.pk, cadre1.pk)], actor=officer2
        )
    assert "pairing.assign" in err.value.message
    with pytest.raises(PairingError) as err:
        services.pairing_assign_bulk(assignments=[(theirs.pk, cadre1.pk)], actor=county_of_wei)
    assert err.value.message == errors.ERR_HOUSEHOLD_SCOPE.format(household=theirs.household_no)
    assert snapshot() == before


def test_a_cadre_is_paired_only_inside_their_region(hand, cadre_factory, officer):
    h = hand.household(village=hand.village3)
    other_village_cadre = cadre_factory(hand.village1)
    with pytest.raises(PairingError) as err:
        services.pairing_assign(household=h, cadre=other_village_cadre, actor=officer)
    assert err.value.message == errors.ERR_CADRE_REGION.format(
        cadre=other_village_cadre.name, region=hand.village1.name, household=h.household_no
    )
    left = cadre_factory(hand.village3)
    left.active = False
    left.save()
    with pytest.raises(PairingError) as err:
        services.pairing_assign(household=h, cadre=left, actor=officer)
    assert err.value.message == errors.ERR_CADRE_INACTIVE.format(cadre=left.name)


def test_a_new_pairing_cannot_start_inside_the_history(hand, cadre_factory, officer):
    h = hand.household()
    a, b = cadre_factory(), cadre_factory()
    services.pairing_assign(household=h, cadre=a, start_date=TODAY - 10 * DAY, actor=officer)
    with pytest.raises(PairingError) as err:
        services.pairing_assign(household=h, cadre=b, start_date=TODAY - 20 * DAY, actor=officer)
    assert err.value.message == errors.ERR_START_BEFORE_HISTORY.format(
        household=h.household_no, date=(TODAY - 10 * DAY).isoformat()
    )
    with pytest.raises(PairingError) as err:
        services.pairing_assign(household=h, cadre=b, start_date=TODAY + DAY, actor=officer)
    assert err.value.field == "start_date" and "in the future" in err.value.message


# --- visits ----------------------------------------------------------------------------------


@pytest.fixture
def village_cadre(hand, cadre_factory, make_user, officer):
    """A village cadre who logs in, paired with one household of their village."""
    cadre = cadre_factory(hand.village1, name="赵村干")
    user = cadres.cadre_login_create(
        cadre=cadre, username="zhao-cadre", password="pw-long-enough-1"
    )
    household = hand.household(
        members=(("孙伟伟", "19900305", "able"), ("孙父", "19580101", "weak"))
    )
    services.pairing_assign(
        household=household, cadre=cadre, start_date=TODAY - 90 * DAY, actor=officer
    )
    return cadre, user, household


def test_a_cadre_records_a_visit_with_a_problem_and_a_job(village_cadre):
    cadre, user, h = village_cadre
    member = h.members.get(name="孙伟伟")
    visit = visits.visit_record(
        household=h,
        visited_on=TODAY,
        mode="in_person",
        met="孙伟伟",
        findings="丈夫外出务工，家中收入单一",
        help_given="介绍到村扶贫微工厂",
        problems=[ProblemIn("employment", "妻子在家无工作")],
        placements=[PlacementIn(member.pk, "东测村扶贫微工厂", "缝制书包", "75")],
        actor=user,
    )
    assert visit.cadre == cadre and visit.recorded_by == user
    problem = visit.problems.get()
    assert problem.found_on == TODAY and problem.solved_on is None
    job = visit.placements.get()
    assert (job.person_name, job.daily_wage, job.started_on) == ("孙伟伟", Money(75), TODAY)
    assert set(
        AuditEvent.objects.filter(region_path=h.region_path).values_list("action", flat=True)
    ) >= {"pairing.visit.recorded", "pairing.problem.found", "pairing.placement.recorded"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"visited_on": TODAY + DAY},
            errors.ERR_FUTURE_DATE.format(field="visited_on", date=(TODAY + DAY).isoformat()),
        ),
        ({"visited_on": dt.date(2012, 12, 31)}, "before 2013-01-01"),
        ({"mode": "letter"}, errors.ERR_MODE),
        ({"met": ""}, errors.ERR_REQUIRED.format(field="met")),
        ({"wage": "-75"}, errors.ERR_WAGE_NOT_POSITIVE),
        ({"wage": "0"}, errors.ERR_WAGE_NOT_POSITIVE),
        ({"wage": "75.555"}, None),  # rounded half up to the fen, accepted
        ({"wage": "seventy"}, errors.ERR_WAGE),
        ({"wage": 75.5}, errors.ERR_WAGE),  # a float is never money
        ({"wage": "100000"}, "implausibly large"),
        ({"category": "weather"}, "category must be one of"),
        ({"employer": ""}, errors.ERR_REQUIRED.format(field="employer")),
    ],
)
def test_bad_visit_input_is_refused_and_nothing_is_written(village_cadre, change, message):
    _, user, h = village_cadre
    member = h.members.first()
    before = snapshot()
    call = lambda: visits.visit_record(  # noqa: E731
        household=h,
        visited_on=change.get("visited_on", TODAY),
        mode=change.get("mode", "phone"),
        met=change.get("met", "孙伟伟"),
        problems=[ProblemIn(change.get("category", "medical"), "住院自付费用高")],
        placements=[
            PlacementIn(
                member.pk, change.get("employer", "微工厂"), "缝纫", change.get("wage", "70")
            )
        ],
        actor=user,
    )
    if message is None:
        assert call().placements.get().daily_wage == Money("75.56")
        return
    with pytest.raises(PairingError) as err:
        call()
    assert message in err.value.message
    assert snapshot() == before


def test_a_job_is_for_a_member_of_the_household(village_cadre, hand):
    _, user, h = village_cadre
    stranger = hand.household().members.first()
    with pytest.raises(PairingError) as err:
        visits.visit_record(
            household=h,
            visited_on=TODAY,
            mode="phone",
            met="x",
            placements=[PlacementIn(stranger.pk, "微工厂", "缝纫", "70")],
            actor=user,
        )
    assert err.value.message == errors.ERR_MEMBER_NOT_IN_HOUSEHOLD.format(household=h.household_no)


def test_a_cadre_cannot_record_a_visit_outside_their_village(village_cadre, hand):
    _, user, _h = village_cadre
    elsewhere = hand.household(village=hand.village2)
    with pytest.raises(PairingError) as err:
        visits.visit_record(
            household=elsewhere, visited_on=TODAY, mode="phone", met="x", actor=user
        )
    assert err.value.message == errors.ERR_HOUSEHOLD_SCOPE.format(household=elsewhere.household_no)


def test_a_cadre_records_only_their_own_visits(village_cadre, cadre_factory):
    _, user, h = village_cadre
    colleague = cadre_factory()
    with pytest.raises(PairingError) as err:
        visits.visit_record(
            household=h, visited_on=TODAY, mode="phone", met="x", cadre=colleague, actor=user
        )
    assert err.value.message == errors.ERR_OWN_VISITS_ONLY


def test_an_officer_without_a_cadre_record_names_the_cadre(village_cadre, officer):
    cadre, _, h = village_cadre
    with pytest.raises(PairingError) as err:
        visits.visit_record(household=h, visited_on=TODAY, mode="phone", met="x", actor=officer)
    assert err.value.message == errors.ERR_NOT_A_CADRE
    visit = visits.visit_record(
        household=h, visited_on=TODAY, mode="phone", met="x", cadre=cadre, actor=officer
    )
    assert visit.cadre == cadre and visit.recorded_by == officer


# --- problems --------------------------------------------------------------------------------


def test_a_problem_is_open_until_solved_with_how(village_cadre):
    _, user, h = village_cadre
    visit = visits.visit_record(
        household=h,
        visited_on=TODAY - 5 * DAY,
        mode="in_person",
        met="孙伟伟",
        problems=[ProblemIn("medical", "住院自付费用高")],
        actor=user,
    )
    problem = visit.problems.get()
    with pytest.raises(PairingError) as err:
        visits.problem_solve(problem=problem, solution=" ", actor=user)
    assert err.value.message == errors.ERR_REQUIRED.format(field="solution")
    with pytest.raises(PairingError) as err:
        visits.problem_solve(
            problem=problem, solution="大病保险报销", solved_on=TODAY - 6 * DAY, actor=user
        )
    assert err.value.message == errors.ERR_SOLVED_BEFORE_FOUND.format(
        solved=(TODAY - 6 * DAY).isoformat(), found=(TODAY - 5 * DAY).isoformat()
    )
    solved = visits.problem_solve(problem=problem, solution="大病保险报销", actor=user)
    assert (solved.solved_on, solved.solution, solved.solved_by) == (TODAY, "大病保险报销", user)
    with pytest.raises(PairingError) as err:
        visits.problem_solve(problem=problem, solution="again", actor=user)
    assert err.value.message == errors.ERR_ALREADY_SOLVED.format(date=TODAY.isoformat())
    event = AuditEvent.objects.get(action="pairing.problem.solved", object_id=str(problem.pk))
    assert (event.from_state, event.to_state) == ("open", "solved")


def test_the_database_refuses_a_solved_problem_without_how(village_cadre):
    _, user, h = village_cadre
    visit = visits.visit_record(
        household=h,
        visited_on=TODAY,
        mode="phone",
        met="x",
        problems=[ProblemIn("income", "收入下降")],
        actor=user,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Problem.objects.filter(visit=visit).update(solved_on=TODAY)
