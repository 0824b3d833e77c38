"""Pairing pages over HTTP, as each role sees them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from fangpin.common.money import Money
from fangpin.pairing import cadres, errors, services, visits
from fangpin.pairing.models import EmploymentPlacement, Pairing, Problem, RiskClosure, Visit

TODAY = timezone.localdate()
DAY = dt.timedelta(days=1)


def client_for(user):
    c = Client(HTTP_ACCEPT_LANGUAGE="en")  # English pages, whatever the catalogue translates
    c.force_login(user)
    return c


@pytest.fixture
def paired(hand, cadre_factory, officer):
    cadre = cadre_factory(hand.village1, name="赵村干")
    user = cadres.cadre_login_create(cadre=cadre, username="zhao", password="pw-long-enough-1")
    seen, unseen = hand.household(), hand.household()
    for h in (seen, unseen):
        services.pairing_assign(
            household=h, cadre=cadre, start_date=TODAY - 200 * DAY, actor=officer
        )
    visits.visit_record(household=seen, visited_on=TODAY, mode="phone", met="户主", actor=user)
    return cadre, user, seen, unseen


def test_every_page_answers_for_a_county_officer_with_ids_masked(paired, officer, hand):
    _, _, seen, unseen = paired
    c = client_for(officer)
    for url in [
        "/pairing/",
        "/pairing/overdue/",
        "/pairing/rule/",
        "/pairing/rule/?all=1",
        "/pairing/outcomes/",
        "/pairing/cadres/",
        "/pairing/cadres/import/",
        f"/pairing/h/{seen.household_no}/",
        f"/pairing/h/{seen.household_no}/visit/",
        f"/pairing/h/{seen.household_no}/risk/",
        "/",
    ]:
        r = c.get(url)
        assert r.status_code == 200, url
    html = c.get("/pairing/overdue/").content.decode()
    assert unseen.household_no in html and seen.household_no not in html
    head = unseen.members.first()
    assert head.id_number not in html and head.id_number[:4] + "*" in html


def test_a_cadre_sees_overdue_households_first_and_may_not_see_outcomes(paired):
    _, user, seen, unseen = paired
    c = client_for(user)
    html = c.get("/pairing/").content.decode()
    rows = re.findall(r'data-household="([^"]+)" data-overdue="(\d)"', html)
    assert rows[0] == (unseen.household_no, "1") and (seen.household_no, "0") in rows
    assert c.get("/pairing/outcomes/").status_code == 403
    assert c.get("/pairing/outcomes/home/").status_code == 403
    assert c.get("/pairing/cadres/import/").status_code == 403
    home = c.get("/").content.decode()
    assert 'data-testid="home-mine"' in home and unseen.household_no in home


def test_a_household_outside_the_region_is_not_found(paired, hand, county, make_user):
    _, _, seen, _ = paired
    wei = make_user("county_officer", county)
    c = client_for(wei)
    assert c.get(f"/pairing/h/{seen.household_no}/").status_code == 404
    assert c.post(f"/pairing/h/{seen.household_no}/visit/", {}).status_code == 404


def visit_post(**over):
    data = {
        "visited_on": TODAY.isoformat(),
        "mode": "in_person",
        "met": "孙伟伟",
        "findings": "丈夫外出务工",
        "help_given": "介绍到村扶贫微工厂",
        "problems-TOTAL_FORMS": "2",
        "problems-INITIAL_FORMS": "0",
        "problems-0-category": "employment",
        "problems-0-description": "妻子无工作",
        "problems-1-category": "",
        "problems-1-description": "",
        "placements-TOTAL_FORMS": "1",
        "placements-INITIAL_FORMS": "0",
        "placements-0-employer": "东测村扶贫微工厂",
        "placements-0-job": "缝制书包",
        "placements-0-daily_wage": "75",
        "placements-0-started_on": "",
    }
    data.update(over)
    return data


def test_the_visit_form_records_a_visit_a_problem_and_a_job(paired):
    _, user, _, unseen = paired
    member = unseen.members.first()
    c = client_for(user)
    r = c.post(
        f"/pairing/h/{unseen.household_no}/visit/", visit_post(**{"placements-0-member": member.pk})
    )
    assert r.status_code == 302 and r["Location"] == "/pairing/"
    v = Visit.objects.get(household=unseen)
    assert v.problems.get().category == "employment"
    assert v.placements.get().daily_wage == Money(75)
    html = c.get("/pairing/").content.decode()
    assert f'data-household="{unseen.household_no}" data-overdue="0"' in html


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"visited_on": (TODAY + DAY).isoformat()}, "is in the future"),
        ({"placements-0-daily_wage": "-70"}, errors.ERR_WAGE_NOT_POSITIVE),
        ({"placements-0-job": ""}, "Give the person, the employer, the job and the daily wage"),
    ],
)
def test_a_refused_visit_shows_why_and_writes_nothing(paired, over, message):
    _, user, _, unseen = paired
    member = unseen.members.first()
    before = (Visit.objects.count(), Problem.objects.count(), EmploymentPlacement.objects.count())
    r = client_for(user).post(
        f"/pairing/h/{unseen.household_no}/visit/",
        visit_post(**{"placements-0-member": member.pk, **over}),
    )
    assert r.status_code == 400
    assert message in r.content.decode()
    assert (
        Visit.objects.count(),
        Problem.objects.count(),
        EmploymentPlacement.objects.count(),
    ) == before


def test_a_problem_is_marked_solved_from_the_household_page(paired):
    _, user, seen, _ = paired
    v = visits.visit_record(
        household=seen,
        visited_on=TODAY,
        mode="phone",
        met="户主",
        problems=[visits.ProblemIn("medical", "住院自付高")],
        actor=user,
    )
    p = v.problems.get()
    c = client_for(user)
    r = c.post(
        f"/pairing/problems/{p.pk}/solve/", {"solution": "医疗救助", "solved_on": TODAY.isoformat()}
    )
    assert r.status_code == 302
    p.refresh_from_db()
    assert (p.solved_on, p.solution) == (TODAY, "医疗救助")


def test_the_rule_page_lists_paid_households_and_assigns_in_bulk(hand, cadre_factory, officer):
    cadre = cadre_factory(hand.village1, name="赵村干")
    a, b = hand.household(), hand.household()
    for h in (a, b):
        hand.paid(h, TODAY - 10 * DAY)
    c = client_for(officer)
    html = c.get("/pairing/rule/").content.decode()
    assert a.household_no in html and b.household_no in html
    assert f'name="cadre_{a.pk}"' in html
    r = c.post(
        "/pairing/rule/", {"action": "selected", "household": [a.pk], f"cadre_{a.pk}": cadre.pk}
    )
    assert r.status_code == 302
    assert Pairing.objects.get(household=a, end_date__isnull=True).cadre == cadre
    html = c.get("/pairing/rule/").content.decode()
    assert a.household_no not in html and b.household_no in html
    c.post("/pairing/rule/", {"action": "all"})
    assert Pairing.objects.filter(household=b, end_date__isnull=True, cadre=cadre).exists()
    assert 'data-testid="none"' in c.get("/pairing/rule/").content.decode()


def test_a_township_officer_cannot_assign(hand, cadre_factory, make_user):
    cadre = cadre_factory(hand.village1)
    h = hand.household()
    hand.paid(h, TODAY - DAY)
    c = client_for(make_user("township_officer", hand.town1))
    assert c.get("/pairing/rule/").status_code == 200
    assert (
        c.post(
            "/pairing/rule/", {"action": "selected", "household": [h.pk], f"cadre_{h.pk}": cadre.pk}
        ).status_code
        == 403
    )
    assert not Pairing.objects.filter(household=h).exists()


def test_the_risk_page_shows_the_checks_and_refuses_a_closure_that_fails_one(paired, officer):
    _, _, seen, _ = paired
    c = client_for(officer)
    html = c.get(f"/pairing/h/{seen.household_no}/risk/").content.decode()
    assert 'data-check="income" data-passed="0"' in html  # no income on record
    assert 'data-testid="blocked"' in html
    r = c.post(
        f"/pairing/h/{seen.household_no}/risk/", {"closed_on": TODAY.isoformat(), "reason": "稳定"}
    )
    assert r.status_code == 400 and "the risk cannot be closed" in r.content.decode()
    assert not RiskClosure.objects.exists()


def test_the_outcomes_page_lists_households_by_name(hand, officer):
    hand.household(
        household_type="unstable",
        members=(("关返贫", "19700101", "able"),),
        incomes={2018: 5000, 2019: 5000},
    )
    html = client_for(officer).get("/pairing/outcomes/?year=2019").content.decode()
    assert re.search(r'data-testid="returned">1<', html)
    assert "关返贫" in html
    home = client_for(officer).get("/").content.decode()
    # the cards load after the page: the home page asks for them, they say 1
    assert 'hx-get="/pairing/outcomes/home/"' in home and "home-returned" not in home
    cards = client_for(officer).get("/pairing/outcomes/home/").content.decode()
    assert re.search(r'data-testid="home-returned">1<', cards)


def test_the_cadre_upload_reports_problems(officer, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "姓名,工作单位,层级,手机号,区划代码\n张三,村委会,村级,123,000\n", encoding="utf-8"
    )
    with open(path, "rb") as fh:
        r = client_for(officer).post("/pairing/cadres/import/", {"file": fh})
    html = r.content.decode()
    assert 'data-testid="import-errors"' in html and "电话号码格式错误" in html
    report = client_for(officer)
    assert report.get("/pairing/cadres/import/report.xlsx").status_code == 404  # another session
