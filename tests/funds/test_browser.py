"""The fund page in Chromium on a 375-px phone, as a county officer opens it."""

import datetime as dt

import pytest

from fangpin.funds import services
from fangpin.regions.models import Region
from fangpin.synth.demo.funds import fund_demo_seed
from tests.conftest import PASSWORD, SMALL_COUNTY, build_small_county

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def funded_county(transactional_db):
    if not Region.objects.filter(code=SMALL_COUNTY, children__isnull=False).exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    county = Region.objects.get(code=SMALL_COUNTY)
    fund_demo_seed(county=county, year=dt.date.today().year)
    yield county
    services.fund_data_purge(
        county=county
    )  # posted ledger rows are undeletable; the flush needs them gone


def test_a_county_officer_reads_the_fund_and_last_years_settlement_on_a_phone(
    page, live_server, funded_county
):
    from fangpin.accounts.services import user_create

    user_create(
        username="wei-officer", password=PASSWORD, role="county_officer", region=funded_county
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "wei-officer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.click("nav.main a[href='/funds/']")
    page.wait_for_selector("[data-testid=fund-stats]")
    assert page.inner_text("[data-testid=premium]") == "4,000,000.00"
    assert page.locator("[data-testid=balances] tbody tr").count() == 12
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    last = dt.date.today().year - 1
    page.goto(f"{live_server.url}/funds/{SMALL_COUNTY}/{last}/")
    page.wait_for_selector("[data-testid=settled]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.click(f"a[href='/funds/{SMALL_COUNTY}/{last}/settlement/']")
    page.wait_for_selector("[data-testid=report-lines]")
    assert "4,000,000.00" in page.inner_text("[data-testid=report-lines]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
