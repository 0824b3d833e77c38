"""The policy page: parameters in force in a county on a date, each with its source mark
and history, and a calculator that shows the explanation — only for counties the user may see."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

CASE = {
    "date": "2019-09-01",
    "county": "130434",
    "household_type": "marginal",
    "circumstance": "education",
    "members": "6",
    "annual_income": "27588",
    "self_paid": "16400",
    "paid_this_year": "0",
}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_page_shows_the_parameters_in_force_with_their_source_marks(client, county_officer):
    client.force_login(county_officer)
    response = client.get("/policy/", {"county": "130434", "date": "2018-05-01"})
    assert response.status_code == 200
    page = text(response)
    assert 'data-testid="param-income_test.line"' in page
    assert "4,833.00" in page  # the 2018 line
    assert 'data-testid="source-relief.accident.cap" >S<' in page.replace('">S<', '" >S<')
    assert 'data-testid="source-relief.medical.brackets" >A<' in page.replace('">A<', '" >A<')
    assert "> 50,000.00: 80%" in page.replace("&gt;", ">")
    # each parameter carries its history, the value in force marked
    line_card = page[page.index('data-testid="param-income_test.line"') :]
    line_card = line_card[: line_card.index('data-testid="param-income_test.basis"')]
    for year, value in [
        ("2017", "4,301.00"),
        ("2018", "4,833.00"),
        ("2019", "5,336.00"),
        ("2020", "5,962.00"),
    ]:
        assert f"{year}-01-01: {value}" in line_card
    assert re.search(r'class="current">2018-01-01: 4,833.00', line_card)


def test_a_date_before_the_policy_says_so(client, county_officer):
    client.force_login(county_officer)
    response = client.get("/policy/", {"county": "130434", "date": "2016-05-01"})
    assert response.status_code == 200
    assert "before the policy existed" in text(response)


def test_only_the_counties_the_user_may_see_are_offered(client, county_officer, city_admin):
    client.force_login(county_officer)
    page = text(client.get("/policy/"))
    assert re.findall(r'<option value="(\d{6})"', page) == [
        "130434",
        "130434",
    ]  # filter + calculator
    assert client.get("/policy/", {"county": "130432"}).status_code == 403
    client.force_login(city_admin)
    page = text(client.get("/policy/", {"county": "130432"}))
    assert len(set(re.findall(r'<option value="(\d{6})"', page))) == 18


def test_the_calculator_shows_the_explanation_as_a_breakdown(client, county_officer):
    client.force_login(county_officer)
    response = client.post("/policy/calculate/", CASE, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith('<section id="calculator"')  # an htmx partial, not the page
    assert 'data-testid="relief-amount">4,540.00' in page
    assert "1,864.67" in page  # per-capita income after the rigid expense
    cells = '<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>'
    assert cells.format("5,000.00", "50%", "2,500.00") in page
    assert cells.format("3,400.00", "60%", "2,040.00") in page
    assert cells.format("0.00", "70%", "0.00") in page
    assert 'data-testid="cap">20,000.00</dd>' in page and "每生每年" in page


def test_the_calculator_works_without_javascript(client, county_officer):
    client.force_login(county_officer)
    response = client.post("/policy/calculate/", CASE)
    page = text(response)
    assert "<html" in page and 'data-testid="relief-amount">4,540.00' in page
    assert 'data-testid="param-income_test.line"' in page


def test_bad_calculator_input_is_shown_beside_its_field(client, county_officer):
    client.force_login(county_officer)
    response = client.post(
        "/policy/calculate/",
        {**CASE, "self_paid": "-5", "date": "2016-01-01"},
        HTTP_HX_REQUEST="true",
    )
    page = text(response)
    assert 'data-testid="error-self_paid"' in page and "must not be negative" in page
    assert 'data-testid="error-date"' in page and "before the policy existed" in page
    assert "relief-amount" not in page


def test_a_county_outside_the_users_region_cannot_be_calculated(client, county_officer):
    client.force_login(county_officer)
    page = text(
        client.post("/policy/calculate/", {**CASE, "county": "130432"}, HTTP_HX_REQUEST="true")
    )
    assert 'data-testid="error-county"' in page
    assert "relief-amount" not in page


def test_the_page_needs_a_login(client):
    response = client.get("/policy/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_navigation_links_the_policy_page(client, county_officer):
    client.force_login(county_officer)
    assert 'href="/policy/"' in client.get("/").content.decode()


def test_the_page_shows_counts_as_whole_numbers_and_each_values_own_source(client, county_officer):
    client.force_login(county_officer)
    page = text(client.get("/policy/", {"county": "130434", "date": "2019-05-01"}))

    def card(path: str) -> str:
        shown = page[page.index(f'data-testid="param-{path}"') :]
        return shown[: shown.index("</details>")]

    notice = card("procedure.public_notice_working_days")
    assert '<div class="value"><div>5</div></div>' in notice and "working days" in notice
    assert 'data-testid="source-procedure.public_notice_working_days">S<' in notice
    stable = card("risk.stable_days")
    assert '<div class="value"><div>183</div></div>' in stable
    assert 'data-testid="source-risk.stable_days">I<' in stable
    assert '<div class="value"><div>3</div></div>' in card("pairing.visit_period_months")
    assert '<div class="value"><div>16</div></div>' in card("risk.working_age.minimum")
    for group in ("procedure", "pairing", "risk"):
        assert f'data-testid="group-{group}"' in page
    # the history cites each dated value with its own reference
    line = card("income_test.line")
    for year, value in [("2017", "4,301"), ("2018", "4,833"), ("2019", "5,336"), ("2020", "5,962")]:
        assert f"{year}: {value}. Replace with Handan" in line
