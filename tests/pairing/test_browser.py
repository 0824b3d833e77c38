"""In Chromium, on a 375-px phone screen, as a village cadre works through their households."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household
from tests.conftest import PASSWORD, SMALL_COUNTY, build_small_county

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def village(transactional_db):
    if not Region.objects.filter(code=SMALL_COUNTY, children__isnull=False).exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    return (
        Region.objects.filter(level=Level.VILLAGE, code__startswith=SMALL_COUNTY)
        .order_by("code")
        .first()
    )


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 375


def test_a_cadre_visits_the_overdue_household_first_and_it_is_no_longer_overdue(
    page, live_server, village
):
    from fangpin.pairing import cadres, services, visits
    from fangpin.pairing.models import Visit

    today = timezone.localdate()
    cadre = cadres.cadre_create(
        name="李文文",
        work_unit=f"{village.name}委会",
        level="village",
        phone="13904340001",
        region=village,
    )
    cadres.cadre_login_create(cadre=cadre, username="liwenwen", password=PASSWORD)
    visited, never = Household.objects.filter(village=village).order_by("household_no")[:2]
    for h in (visited, never):  # set up by the county office (the operator: actor None)
        services.pairing_assign(
            household=h, cadre=cadre, start_date=today - dt.timedelta(days=200), actor=None
        )
    visits.visit_record(
        household=visited, visited_on=today, mode="phone", met="户主", actor=cadre.user
    )

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "liwenwen")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.click("nav.main a[href='/pairing/']")
    page.wait_for_selector("[data-testid=mine]")

    first = page.locator("[data-testid=mine] tbody tr").first
    assert first.get_attribute("data-household") == never.household_no
    assert first.get_attribute("data-overdue") == "1"
    assert fits_the_phone(page)
    page.screenshot(path="/tmp/pairing-mine.png", full_page=True)

    page.click(f"[data-testid=visit-{never.household_no}]")
    page.wait_for_selector("[data-testid=visit-form]")
    assert fits_the_phone(page)
    page.fill("input[name=met]", "孙伟伟")
    page.check("input[name=mode][value=in_person]")
    page.fill("textarea[name=findings]", "丈夫外出务工，收入单一")
    page.fill("textarea[name=help_given]", "介绍到村扶贫微工厂")
    page.select_option("select[name=problems-0-category]", "employment")
    page.fill("input[name=problems-0-description]", "妻子在家无工作")
    member = never.members.order_by("id").first()
    page.select_option("select[name=placements-0-member]", str(member.pk))
    page.fill("input[name=placements-0-employer]", f"{village.name}扶贫微工厂")
    page.fill("input[name=placements-0-job]", "缝制书包")
    page.fill("input[name=placements-0-daily_wage]", "75")
    page.screenshot(path="/tmp/pairing-visit.png", full_page=True)
    page.click("[data-testid=save-visit]")
    page.wait_for_url(f"{live_server.url}/pairing/")
    page.wait_for_selector("[data-testid=mine]")

    row = page.locator(f"[data-testid=mine] tbody tr[data-household='{never.household_no}']")
    assert row.get_attribute("data-overdue") == "0"
    assert page.locator("[data-testid=mine] tbody tr[data-overdue='1']").count() == 0
    assert fits_the_phone(page)

    visit = Visit.objects.get(household=never)
    assert visit.cadre == cadre and visit.visited_on == today
    assert visit.problems.get().category == "employment"
    job = visit.placements.get()
    assert (job.person_name, str(job.daily_wage)) == (member.name, "75.00")


def test_a_county_officers_home_shows_the_outcome_cards_once_they_are_counted(
    page, live_server, village
):
    from fangpin.accounts.services import user_create
    from fangpin.pairing.home import home_outcome

    county = Region.objects.get(code=SMALL_COUNTY)
    officer = user_create(
        username="outcomes-officer", password=PASSWORD, role="county_officer", region=county
    )
    expected = home_outcome(user=officer, today=timezone.localdate())
    assert expected is not None  # the small county has incomes of two years

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "outcomes-officer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    # the page comes first, the cards replace their placeholder when counted
    page.wait_for_selector("[data-testid=home-returned]")
    assert page.locator("[data-testid=home-outcomes-loading]").count() == 0
    assert page.inner_text("[data-testid=home-returned]") == f"{expected.returned:,}"
    assert page.inner_text("[data-testid=home-new]") == f"{expected.new:,}"
    assert fits_the_phone(page)
