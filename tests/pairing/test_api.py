"""The pairing API over HTTP with a bearer token: scoped like the pages."""

from __future__ import annotations

import datetime as dt
import json

from django.test import Client
from django.utils import timezone

from fangpin.accounts.models import ApiToken
from fangpin.pairing import cadres, errors, services
from fangpin.pairing.models import Pairing, Visit

TODAY = timezone.localdate()
DAY = dt.timedelta(days=1)


def bearer(user):
    _, key = ApiToken.issue(user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post(c, url, payload, auth):
    return c.post(url, json.dumps(payload), content_type="application/json", **auth)


def test_a_cadre_records_a_visit_and_reads_their_overdue_households(hand, cadre_factory, officer):
    cadre = cadre_factory(hand.village1)
    user = cadres.cadre_login_create(cadre=cadre, username="api-cadre", password="pw-long-enough-1")
    h = hand.household(members=(("孙伟伟", "19900305", "able"),))
    services.pairing_assign(household=h, cadre=cadre, start_date=TODAY - 100 * DAY, actor=officer)
    c, auth = Client(), bearer(user)

    rows = c.get("/api/v1/pairing/followup?mine=true", **auth).json()["items"]
    assert [(r["household_no"], r["overdue"]) for r in rows] == [(h.household_no, True)]
    assert "*" in rows[0]["head_id_number_masked"]

    payload = {
        "household_no": h.household_no,
        "visited_on": TODAY.isoformat(),
        "mode": "in_person",
        "met": "孙伟伟",
        "help_given": "介绍到村扶贫微工厂",
        "problems": [{"category": "employment", "description": "无工作"}],
        "placements": [
            {
                "member_id": h.members.get().pk,
                "employer": "东测村扶贫微工厂",
                "job": "缝制书包",
                "daily_wage": "-1",
            }
        ],
    }
    r = post(c, "/api/v1/pairing/visits", payload, auth)
    assert r.status_code == 422 and r.json()["detail"] == errors.ERR_WAGE_NOT_POSITIVE
    assert not Visit.objects.filter(household=h).exists()
    payload["placements"][0]["daily_wage"] = "78.00"
    r = post(c, "/api/v1/pairing/visits", payload, auth)
    assert r.status_code == 201, r.content
    assert (r.json()["problems"], r.json()["placements"]) == (1, 1)
    rows = c.get("/api/v1/pairing/followup?mine=true", **auth).json()["items"]
    assert rows[0]["overdue"] is False

    problem_id = c.get(f"/api/v1/pairing/households/{h.household_no}", **auth).json()["problems"][
        0
    ]["id"]
    r = post(c, f"/api/v1/pairing/problems/{problem_id}/solve", {"solution": "已上岗"}, auth)
    assert r.status_code == 200 and r.json()["solved_on"] == TODAY.isoformat()


def test_out_of_scope_is_404_and_roles_are_checked(hand, cadre_factory, officer, county, make_user):
    h = hand.household()
    wei = make_user("county_officer", county)
    c = Client()
    assert c.get(f"/api/v1/pairing/households/{h.household_no}", **bearer(wei)).status_code == 404
    r = post(
        c,
        "/api/v1/pairing/pairings",
        {"assignments": [{"household_no": h.household_no, "cadre_id": cadre_factory().pk}]},
        bearer(wei),
    )
    assert r.status_code == 404
    village_user = make_user("village_cadre", hand.village1)
    assert c.get("/api/v1/pairing/outcomes?year=2019", **bearer(village_user)).status_code == 403
    assert c.get("/api/v1/pairing/compliance").status_code == 401


def test_bulk_pairing_rule_breaches_risk_checks_and_outcomes(hand, cadre_factory, officer):
    cadre = cadre_factory(hand.village1)
    h = hand.household(incomes={2018: 6000, 2019: 5000})  # one member: 返贫 in 2019
    hand.paid(h, TODAY - 5 * DAY)
    c, auth = Client(), bearer(officer)
    breaches = c.get("/api/v1/pairing/rule-breaches", **auth).json()["items"]
    assert [b["household_no"] for b in breaches] == [h.household_no]
    assert breaches[0]["suggestions"][0]["cadre_id"] == cadre.pk
    r = post(
        c,
        "/api/v1/pairing/pairings",
        {"assignments": [{"household_no": h.household_no, "cadre_id": cadre.pk}]},
        auth,
    )
    assert r.json() == {"created": 1, "ended": 0, "unchanged": 0}
    assert Pairing.objects.get(household=h).cadre == cadre
    assert c.get("/api/v1/pairing/rule-breaches", **auth).json()["count"] == 0

    checks = c.get(f"/api/v1/pairing/households/{h.household_no}/risk-checks", **auth).json()
    assert checks["ok"] is False and [x["code"] for x in checks["checks"]] == [
        "income",
        "expense",
        "help",
        "labour",
    ]
    r = post(c, f"/api/v1/pairing/households/{h.household_no}/risk-close", {"reason": "x"}, auth)
    assert r.status_code == 422 and "the risk cannot be closed" in r.json()["detail"]

    out = c.get("/api/v1/pairing/outcomes?year=2019", **auth).json()
    assert (out["returned"], out["new"]) == (1, 0)
    assert out["rows"][0]["per_capita"] == "5000.00" and out["rows"][0]["line"] == "5336.00"
    assert c.get("/api/v1/pairing/compliance", **auth).json()[0]["paired"] == 1
    assert c.get("/api/v1/pairing/totals", **auth).status_code == 200
    assert c.get("/api/v1/pairing/cadres", **auth).json()["items"][0]["pairs"] == 1
