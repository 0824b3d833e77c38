"""The policy page in Chromium on a 375-px phone screen, as a county officer would use it."""

import pytest

from fangpin.regions.models import Region
from tests.conftest import PASSWORD, SMALL_COUNTY, build_small_county

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def wei(transactional_db):
    if not Region.objects.filter(code=SMALL_COUNTY, children__isnull=False).exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    return Region.objects.get(code=SMALL_COUNTY)


def test_a_county_officer_reads_the_parameters_and_calculates_a_case_on_a_phone(
    page, live_server, wei
):
    from fangpin.accounts.services import user_create

    user_create(username="li", password=PASSWORD, role="county_officer", region=wei)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "li")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/policy/?county={SMALL_COUNTY}&date=2019-09-01")
    assert "5,336.00" in page.inner_text("[data-testid='param-income_test.line']")
    page.click("[data-testid='param-income_test.line'] summary")
    assert "2017-01-01" in page.inner_text("[data-testid='param-income_test.line'] details")

    page.fill("#id_date", "2019-09-01")
    page.select_option("#id_household_type", "marginal")
    page.select_option("#id_circumstance", "education")
    page.fill("#id_members", "6")
    page.fill("#id_annual_income", "27588")
    page.fill("#id_self_paid", "16400")
    page.click("[data-testid=calculate]")
    page.wait_for_selector("[data-testid=relief-amount]")
    assert page.inner_text("[data-testid=relief-amount]").startswith("4,540.00")
    assert "2,040.00" in page.inner_text("[data-testid=brackets]")
    assert page.url.endswith("/policy/?county=130434&date=2019-09-01")  # htmx: no page load
    page.screenshot(path="/tmp/policy-375.png", full_page=True)
    # the page fits a phone: nothing wider than the viewport
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
