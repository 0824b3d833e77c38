"""POST /api/v1/relief/calculate: the command's case and answer over HTTP, region-scoped."""

from __future__ import annotations

import json

import pytest

from fangpin.accounts.models import ApiToken

URL = "/api/v1/relief/calculate"
WEI_CASE = {
    "date": "2019-09-01",
    "county": "130434",
    "household_type": "marginal",
    "circumstance": "education",
    "members": 6,
    "annual_income": "27588",
    "self_paid": "16400",
}

pytestmark = pytest.mark.django_db


def post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def test_a_county_officer_calculates_a_case_in_their_county(client, county_officer):
    client.force_login(county_officer)
    response = post(client, WEI_CASE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["eligible"] is True and body["amount"] == "4540.00"
    assert body["explanation"]["income_test"]["per_capita"] == "1864.67"
    assert body["reasons"][-1].endswith("Relief 4,540.00 yuan")


def test_the_api_and_the_command_give_the_same_object(client, county_officer):
    from fangpin.policy.inputs import case_from_mapping
    from fangpin.policy.scalar import relief_calculate

    client.force_login(county_officer)
    assert post(client, WEI_CASE).json() == relief_calculate(case_from_mapping(WEI_CASE)).as_dict()


def test_a_bearer_token_works_too(client, county_officer):
    _, key = ApiToken.issue(user=county_officer, name="test")
    response = client.post(
        URL,
        data=json.dumps(WEI_CASE),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200
    assert response.json()["amount"] == "4540.00"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"members": 0}, "members"),
        ({"self_paid": "-1"}, "self_paid"),
        ({"self_paid": "abc"}, "self_paid"),
        ({"annual_income": 27588.5}, "annual_income"),
        ({"date": "2016-01-01"}, "date"),
        ({"date": "yesterday"}, "date"),
        ({"county": "130499"}, "county"),
        ({"household_type": "rich"}, "household_type"),
        ({"circumstance": "housing"}, "circumstance"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_answers_422_naming_the_field(client, county_officer, change, field):
    client.force_login(county_officer)
    response = post(client, {**WEI_CASE, **change})
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert any(entry["loc"][-1] == field for entry in detail), detail


def test_a_missing_field_answers_422_naming_it(client, county_officer):
    client.force_login(county_officer)
    response = post(client, {k: v for k, v in WEI_CASE.items() if k != "members"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "members"


def test_a_county_outside_the_callers_region_is_forbidden(client, county_officer):
    client.force_login(county_officer)
    response = post(client, {**WEI_CASE, "county": "130432"})
    assert response.status_code == 403
    assert "130432" in response.json()["detail"]


def test_a_city_administrator_may_calculate_for_any_county(client, city_admin):
    client.force_login(city_admin)
    assert post(client, {**WEI_CASE, "county": "130432"}).status_code == 200


def test_an_anonymous_caller_is_refused(client):
    assert post(client, WEI_CASE).status_code == 401


def test_the_endpoint_is_documented_in_openapi(client, county_officer):
    client.force_login(county_officer)
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/relief/calculate" in schema["paths"]
