"""In Chromium on a 375-px phone: a township officer opens a warning and dismisses it."""

from __future__ import annotations

import pytest

from fangpin.regions.models import Level, Region
from fangpin.screening.models import Warning, WarningStatus
from tests.conftest import PASSWORD, SMALL_COUNTY, build_small_county

from .test_views import household_in, warn

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


def test_a_township_officer_dismisses_a_warning_with_a_reason(page, live_server, township):
    from fangpin.accounts.services import user_create

    user_create(username="wang", password=PASSWORD, role="township_officer", region=township)
    small = warn(household_in(township, "BW-1"), "1200")
    big = warn(household_in(township, "BW-2"), "8800", "education")

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "wang")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/warnings/")
    rows = page.locator("[data-testid=warnings] tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.household)"
    )
    assert rows == ["BW-2", "BW-1"]  # largest estimated relief first
    page.click("[data-testid=warnings] a:has-text('BW-2')")
    page.wait_for_selector("[data-testid=why]")
    assert "8,800.00" in page.inner_text("[data-testid=relief]") or "8800.00" in page.inner_text(
        "[data-testid=relief]"
    )
    page.select_option("[data-testid=dismiss-form] select", "costs_covered")
    page.fill("[data-testid=dismiss-form] textarea", "已入户核查：学费已由亲属承担")
    page.click("[data-testid=dismiss-form] button")
    page.wait_for_url(f"{live_server.url}/warnings/")
    assert page.locator("[data-testid=warnings] tbody tr").count() == 1  # open ones only
    big.refresh_from_db()
    assert big.status == WarningStatus.DISMISSED and "学费" in big.reason
    assert Warning.objects.get(pk=small.pk).status == WarningStatus.NEW


def test_a_county_officer_overrides_an_exclusion_on_a_phone(page, live_server, township):
    from fangpin.accounts.services import user_create

    user_create(username="zhao", password=PASSWORD, role="county_officer", region=township.parent)
    car = {
        "exclusion": "vehicle",
        "feed": "vehicle",
        "id_number": "130481197001010093",
        "reference": "冀D12345",
        "detail": "private",
        "batch": "9eb029c5cad53b38",
        "source_row": 2,
    }
    excluded = warn(
        household_in(township, "BX-1"),
        "8000",
        "accident",
        status=WarningStatus.EXCLUDED,
        exclusions=["vehicle"],
        exclusion_matches=[car],
    )

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "zhao")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/warnings/?status=excluded")
    page.click("[data-testid=warnings] a:has-text('BX-1')")
    page.wait_for_selector("[data-testid=exclusion-matches]")
    assert "冀D12345" in page.inner_text("[data-testid=exclusion-matches]")
    page.fill("[data-testid=override-form] textarea", "车辆已于2018年转让，车管数据未更新")
    page.click("[data-testid=override]")
    page.wait_for_selector("[data-testid=why]")
    assert "车辆已于2018年转让" in page.inner_text("[data-testid=status]")
    assert page.locator("[data-testid=override-form]").count() == 0
    excluded.refresh_from_db()
    assert excluded.status == WarningStatus.NEW


def test_a_township_officer_assigns_two_warnings_to_the_village_cadre_on_a_phone(
    page, live_server, township
):
    from fangpin.accounts.services import user_create

    user_create(username="li", password=PASSWORD, role="township_officer", region=township)
    first = warn(household_in(township, "BA-1"), "3000")
    second = warn(household_in(township, "BA-2"), "2000")
    third = warn(household_in(township, "BA-3"), "1000")
    cadre = user_create(
        username="cadre", password=PASSWORD, role="village_cadre", region=first.household.village
    )

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "li")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/warnings/")
    for w in (first, second):
        page.check(f"input[name=warning][value='{w.pk}']")
    page.select_option("[data-testid=bulk-actions] select[name=assignee]", str(cadre.pk))
    page.click("[data-testid=bulk-assign]")
    page.wait_for_selector("tr[data-household='BA-1'][data-status='checking']")
    assert page.locator("tr[data-status='checking']").count() == 2
    assert page.locator("tr[data-household='BA-3'][data-status='new']").count() == 1
    assert {w.assigned_to_id for w in Warning.objects.filter(pk__in=[first.pk, second.pk])} == {
        cadre.pk
    }
    assert Warning.objects.get(pk=third.pk).status == WarningStatus.NEW
