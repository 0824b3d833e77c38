"""In Chromium, on a 375-px phone screen, as a township officer would work."""

import re

import pytest

from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household
from tests.conftest import PASSWORD, SMALL_COUNTY, build_small_county

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def township(transactional_db):
    if not Region.objects.filter(code=SMALL_COUNTY, children__isnull=False).exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    return (
        Region.objects.filter(level=Level.TOWNSHIP, code__startswith=SMALL_COUNTY)
        .order_by("code")
        .first()
    )


def login(page, base_url, username):
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def test_a_township_officer_lists_only_their_households_and_opens_one(
    page, live_server, township, tmp_path
):
    from fangpin.accounts.services import user_create

    user_create(username="zhang", password=PASSWORD, role="township_officer", region=township)
    login(page, live_server.url, "zhang")
    assert township.name in page.inner_text("[data-testid=who]")

    page.click("nav.main a[href='/households/']")
    page.wait_for_selector("[data-testid=households]")
    expected = Household.objects.filter(village__parent=township)
    count_text = page.inner_text("[data-testid=count]")
    assert re.search(rf"\b{expected.count()}\b", count_text), count_text
    numbers = page.locator("[data-testid=households] tbody tr td:first-child a").all_inner_texts()
    assert len(numbers) == min(50, expected.count())
    assert set(numbers) <= set(expected.values_list("household_no", flat=True))
    # no full ID number on the list, only masked ones
    body = page.inner_text("body")
    assert not re.search(r"\b\d{17}[\dX]\b", body)
    page.screenshot(path="/tmp/list.png", full_page=False)

    # search narrows the list through htmx without a page load
    target = expected.order_by("household_no").last()
    page.fill("[data-testid=search]", target.household_no)
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=households] tbody tr').length === 1"
    )

    page.click(f"text={target.household_no}")
    page.wait_for_url(f"**/households/{target.household_no}/")
    members = page.locator("[data-testid=members] tbody tr").count()
    assert members == target.members.count()
    assert page.locator("[data-testid=incomes] tbody tr").count() == target.incomes.count()
    # the page fits a phone: nothing wider than the viewport
    page.screenshot(path="/tmp/detail.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    # a household of another township is not found even by its URL
    other = Household.objects.exclude(village__parent=township).first()
    response = page.goto(f"{live_server.url}/households/{other.household_no}/")
    assert response.status == 404
