"""Every input range-checked and refused with a message, over HTTP as an officer works:
the root causes of the server errors the API fuzzing found (docs/SECURITY.md, "Server
errors and input checks"), each through the API and through the pages.

- a year outside 2000–2100 reached ``date(year, 1, 1)``: ``ValueError`` (funds, outcomes);
- a page number of twenty digits reached the database's OFFSET: ``OverflowError``;
- an amount of ``1e30`` overflowed Decimal's 28 digits when rounded to the fen:
  ``decimal.InvalidOperation`` (contributions, the insurance contract);
- the NUL character in a query, a path or a JSON body reached PostgreSQL, which cannot
  hold it in text: ``ValueError`` in the driver (SQLite takes it: the PostgreSQL suite);
- the OpenAPI document declared only 200/201, so every refusal was an undeclared status.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from fangpin.accounts.models import ApiToken
from fangpin.common import bounds
from fangpin.common.pages import MAX_PAGE
from fangpin.funds import services as fund_services
from fangpin.funds.models import Contribution, InsuranceContract
from fangpin.registry.models import Household
from fangpin.web.middleware import ERR_NUL

YEAR = timezone.localdate().year
BAD_YEARS = ["0", "1999", "2101", "10000", "-1", "99999999999999999999"]
HUGE = "99999999999999999999"


@pytest.fixture
def api(county_officer):
    _, key = ApiToken.issue(user=county_officer)
    return Client(headers={"authorization": f"Bearer {key}"})


@pytest.fixture
def page(county_officer):
    c = Client()
    c.force_login(county_officer)
    return c


@pytest.fixture
def household_no(county):
    return (
        Household.objects.filter(village__path__startswith=county.path)
        .order_by("household_no")
        .values_list("household_no", flat=True)
        .first()
    )


# --- years --------------------------------------------------------------------------------


@pytest.mark.parametrize("year", BAD_YEARS)
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/funds/counties?year={year}",
        "/api/v1/funds/130434/{year}",
        "/api/v1/funds/130434/{year}/transactions",
        "/api/v1/funds/130434/{year}/payments",
        "/api/v1/pairing/outcomes?year={year}",
        "/api/v1/screening/warnings?year={year}",
    ],
)
def test_the_api_refuses_a_year_outside_2000_to_2100_with_422_naming_it(api, url, year):
    r = api.get(url.format(year=year))
    assert r.status_code == 422, r.content
    (problem,) = r.json()["detail"]
    assert problem["loc"][-1] == "year" and problem["msg"]


@pytest.mark.parametrize("year", BAD_YEARS)
def test_the_outcomes_page_refuses_a_year_outside_the_range_with_its_message(page, year):
    r = page.get("/pairing/outcomes/", {"year": year})
    assert r.status_code == 400
    message = bounds.ERR_YEAR.format(field="year", value=year)
    assert html.escape(message) in r.content.decode()


def test_a_year_in_range_still_answers(api, page):
    assert api.get(f"/api/v1/funds/counties?year={YEAR}").status_code == 200
    assert api.get(f"/api/v1/pairing/outcomes?year={bounds.FIRST_YEAR}").status_code == 200
    assert page.get("/pairing/outcomes/", {"year": YEAR}).status_code == 200
    assert page.get("/funds/", {"year": YEAR}).status_code in (200, 302)


def test_the_fund_pages_refuse_a_year_they_cannot_show(page):
    assert page.get("/funds/", {"year": "0"}).status_code == 400
    assert page.get("/funds/", {"year": "abc"}).status_code == 400
    for year in ("0", "1999", "10000", HUGE):
        assert page.get(f"/funds/130434/{year}/").status_code == 404
        assert page.get(f"/funds/130434/{year}/ledger/").status_code == 404


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize("on", ["0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31"])
def test_a_date_outside_2000_to_2100_is_refused_by_the_api(api, household_no, on):
    r = api.get(f"/api/v1/pairing/households/{household_no}/risk-checks?on={on}")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "on"


# --- pages of a list ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/registry/households",
        "/api/v1/cases/",
        "/api/v1/screening/warnings",
        "/api/v1/pairing/cadres",
        "/api/v1/pairing/followup",
        "/api/v1/pairing/rule-breaches",
        f"/api/v1/funds/130434/{YEAR}/transactions",
        f"/api/v1/funds/130434/{YEAR}/payments",
    ],
)
def test_every_api_list_refuses_a_page_beyond_a_million_and_answers_past_its_end(api, url):
    r = api.get(url, {"page": HUGE})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "page"
    last = api.get(url, {"page": MAX_PAGE})
    assert last.status_code == 200 and last.json()["items"] == []


# --- amounts ------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["1e30", "100000000000000", "-1e30"])
def test_an_amount_beyond_any_fund_is_refused_by_the_api(api, amount):
    body = {
        "source": "county",
        "amount": amount,
        "document_no": "F-1",
        "received_on": f"{YEAR}-01-02",
    }
    r = api.post(
        f"/api/v1/funds/130434/{YEAR}/contributions", body, content_type="application/json"
    )
    assert r.status_code == 422
    assert "amount" in r.json()["detail"]
    assert not Contribution.objects.filter(document_no="F-1").exists()


def test_the_fund_page_forms_refuse_an_amount_of_1e30_on_the_field(page):
    r = page.post(
        f"/funds/130434/{YEAR}/contributions/",
        {
            "source": "county",
            "amount": "1e30",
            "document_no": "F-2",
            "received_on": f"{YEAR}-01-02",
        },
    )
    assert r.status_code == 400 and "金额格式错误" in r.content.decode()
    r = page.post(
        f"/funds/130434/{YEAR}/contract/",
        {"insurer": "PICC", "rural_population": "1000", "premium_per_person": "1e30"},
    )
    assert r.status_code == 400
    assert not Contribution.objects.filter(document_no="F-2").exists()
    assert not InsuranceContract.objects.filter(year=YEAR).exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rural_population": HUGE}, fund_services.ERR_POPULATION),
        ({"signed_on": "0001-01-01"}, fund_services.ERR_OLD_DATE.format(date="0001-01-01")),
    ],
    ids=["population-of-twenty-digits", "signed-in-year-1"],
)
def test_the_contract_form_refuses_a_population_or_date_no_county_has(page, change, message):
    """A rural population of twenty digits made a premium no amount can hold (a 500)."""
    r = page.post(
        f"/funds/130434/{YEAR}/contract/", {"insurer": "PICC", "rural_population": "1000"} | change
    )
    assert r.status_code == 400
    assert html.escape(message) in r.content.decode()
    assert not InsuranceContract.objects.filter(year=YEAR).exists()


# --- every page -------------------------------------------------------------------------


PAGES = [
    "/",
    "/households/",
    "/policy/",
    "/funds/",
    f"/funds/130434/{YEAR}/",
    f"/funds/130434/{YEAR}/ledger/",
    f"/funds/130434/{YEAR}/settlement/",
    "/pairing/",
    "/pairing/overdue/",
    "/pairing/rule/",
    "/pairing/outcomes/",
    "/pairing/cadres/",
    "/cases/",
    "/cases/all/",
    "/feeds/",
    "/warnings/",
]
QUERIES = [
    {"year": "0"},
    {"year": "10000"},
    {"year": HUGE},
    {"page": HUGE},
    {"page": "-1"},
    {"date": "0001-01-01"},
    {"on": "0001-01-01"},
    {"amount": "1e30"},
    {"region": HUGE},
]


@pytest.mark.parametrize("url", PAGES)
def test_no_page_answers_a_bad_year_page_date_or_amount_with_a_server_error(page, url):
    for query in QUERIES:
        r = page.get(url, query)
        assert r.status_code < 500, (url, query, r.status_code)
        if r.status_code == 400:
            assert b'data-testid="refusal"' in r.content, (url, query)


def test_the_household_pages_take_bad_dates_without_a_server_error(page, household_no):
    for on in ("0001-01-01", "9999-12-31", "x"):
        r = page.get(f"/pairing/h/{household_no}/risk/", {"on": on})
        assert r.status_code < 500, on


# --- the NUL character -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/registry/households?q=%00",
        "/api/v1/pairing/cadres?q=a%00b",
        "/api/v1/registry/households/130434%00",
        "/api/v1/pairing/households/%00/risk-checks",
    ],
)
def test_the_api_refuses_the_nul_character_in_a_query_or_a_path(api, url):
    r = api.get(url)
    assert r.status_code == 400
    assert r.json() == {"detail": ERR_NUL}


def test_the_api_refuses_the_nul_character_in_a_json_body_and_changes_nothing(api, county):
    body = {"assignments": [{"household_no": "130434\u0000", "cadre_id": 1}]}
    r = api.post("/api/v1/pairing/pairings", body, content_type="application/json")
    assert r.status_code == 400 and r.json() == {"detail": ERR_NUL}
    # a backslash written before "u0000" is text like any other, not the NUL character
    body = {"reason": "\\u0000"}
    r = api.post(f"/api/v1/funds/130434/{YEAR}/reopen", body, content_type="application/json")
    assert r.status_code == 422  # not settled: the service's answer, past the check


def test_the_pages_refuse_the_nul_character_in_a_query_or_a_form(page):
    for url in ("/households/?q=%00", "/pairing/cadres/?q=%00", "/cases/all/?state=%00"):
        r = page.get(url)
        assert r.status_code == 400 and ERR_NUL in r.content.decode(), url
    # a quoted cookie's octal escape (\\000) is the NUL character too: the session is a query
    r = Client().get("/households/", headers={"cookie": 'sessionid="abcdefgh\\000x"'})
    assert r.status_code == 400
    form = urlencode({"reason": "x\x00"})  # as a browser posts a form without a file
    r = page.post(f"/funds/130434/{YEAR}/reopen/", form, "application/x-www-form-urlencoded")
    assert r.status_code == 400 and ERR_NUL in r.content.decode()


# --- the OpenAPI document --------------------------------------------------------------------


def test_every_operation_declares_the_errors_it_can_answer(api):
    document = api.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert set(schemas["ErrorOut"]["properties"]) == {"detail", "field"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            where = f"{method.upper()} {path}"
            assert {"400", "401", "403", "422"} <= declared, where
            if "{" in path:
                assert "404" in declared, where
            error = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorOut"}, where
    year = next(
        p["schema"]
        for p in document["paths"]["/api/v1/funds/{code}/{year}"]["get"]["parameters"]
        if p["name"] == "year"
    )
    assert (year["minimum"], year["maximum"]) == (bounds.FIRST_YEAR, bounds.LAST_YEAR)


def test_a_range_refusal_is_answered_in_the_declared_shape(api):
    r = api.get("/api/v1/funds/counties?year=0")
    assert set(r.json()) == {"detail"} and {"type", "loc", "msg"} <= set(r.json()["detail"][0])
    r = api.get("/api/v1/registry/households/nope")
    assert r.status_code == 404 and isinstance(r.json()["detail"], str)
