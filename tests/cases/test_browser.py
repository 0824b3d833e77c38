"""The issue's walk in Chromium on a 375-px phone: one farmer's application to
"payment requested", each step by the right role in its own login; the amount is the
policy engine's and the timeline lists every step."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from fangpin.cases.models import Case
from fangpin.funds import services as fund_services
from fangpin.policy.scalar import Case as PolicyCase
from fangpin.policy.scalar import relief_calculate
from fangpin.regions.models import Region
from fangpin.registry.models import Household
from tests.conftest import PASSWORD, SMALL_COUNTY, build_small_county

from .conftest import INCOME, MEMBERS, SELF_PAID, STEPS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def insured_county(transactional_db):
    if not Region.objects.filter(code=SMALL_COUNTY, children__isnull=False).exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    county = Region.objects.get(code=SMALL_COUNTY)
    fund_services.insurance_contract_create(
        county=county,
        year=timezone.localdate().year,
        insurer="PICC",
        rural_population=10_000,
        actor=None,
    )
    yield county
    fund_services.fund_data_purge(county=county)  # the flush after the test needs them gone


def login(page, live_server, username):
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def act(page, name):
    page.click(f"[data-testid=act-{name}] button[type=submit]")
    page.wait_for_load_state("load")
    assert not page.locator("[data-testid=error]").count(), page.inner_text("[data-testid=error]")


def test_a_farmers_application_walks_to_payment_requested_in_chromium(
    page, live_server, insured_county
):
    from fangpin.accounts.services import user_create

    household = (
        Household.objects.filter(village__path__startswith=insured_county.path)
        .exclude(bank_account="")
        .select_related("village", "village__parent")
        .order_by("household_no")
        .first()
    )
    village = household.village
    for username, role, region in [
        ("cadre", "village_cadre", village),
        ("township", "township_officer", village.parent),
        ("county", "county_officer", insured_county),
        ("insurer", "insurer_adjuster", insured_county),
    ]:
        user_create(username=username, password=PASSWORD, role=role, region=region)

    # 1. the village cadre enters the farmer's application (自主申报)
    login(page, live_server, "cadre")
    page.click("nav.main a[href='/cases/']")
    page.click("[data-testid=new-case]")
    page.fill("input[name=household_no]", household.household_no)
    page.select_option("select[name=source]", "application")
    page.select_option("select[name=circumstance]", "medical")
    page.fill("textarea[name=description]", "住院治疗 hospital stay")
    page.fill("input[name=amount_claimed]", SELF_PAID)
    page.click("[data-testid=open-case]")
    page.wait_for_selector("[data-testid=state]")
    case = Case.objects.get(household=household)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    # 2. household check (入户核查) by the cadre
    page.fill("input[name=verified_members]", str(MEMBERS))
    page.fill("input[name=verified_income]", INCOME)
    page.fill("input[name=verified_self_paid]", SELF_PAID)
    page.check("input[name=consent_signed]")
    act(page, "household_check")

    # 3. data comparison (信息比对) by the township officer
    login(page, live_server, "township")
    page.goto(f"{live_server.url}/cases/")
    page.click(f"a[href='/cases/{case.pk}/']")
    act(page, "data_compare")

    # 4. village review (民主评议) opens the notice: by the township officer, since the cadre
    # took the previous approval step (separation of duties: the page says why)
    login(page, live_server, "cadre")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert "本环节须由他人办理" in page.inner_text("[data-testid=act-village_review]")
    login(page, live_server, "township")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.fill("input[name=review_date]", timezone.localdate().isoformat())
    page.fill("input[name=review_attendees]", "21")
    page.fill("input[name=review_result]", "一致同意 agreed")
    act(page, "village_review")
    page.goto(f"{live_server.url}/cases/{case.pk}/notice/")
    head = household.members.first()
    assert head.id_number not in page.content() and head.masked_id_number in page.content()

    # five working days pass (公示期满)
    Case.objects.filter(pk=case.pk).update(notice_end=timezone.localdate())

    # 5.–6. the cadre closes the notice, the township officer reviews
    login(page, live_server, "cadre")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    act(page, "notice_close")
    login(page, live_server, "township")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    act(page, "township_review")

    # 7. county decision (县级审定)
    login(page, live_server, "county")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    act(page, "county_decide")
    expected = relief_calculate(
        PolicyCase(
            date=timezone.localdate(),
            county=SMALL_COUNTY,
            household_type=household.household_type,
            circumstance="medical",
            members=MEMBERS,
            annual_income=Decimal(INCOME),
            self_paid=Decimal(SELF_PAID),
        )
    ).amount
    assert expected > 0
    assert page.inner_text("[data-testid=amount]") == f"{expected:,.2f}"

    # 8. the insurer confirms the loss (核损), which requests the payment
    login(page, live_server, "insurer")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    act(page, "loss_determine")
    assert "payment" in page.inner_text("[data-testid=state]").lower() or "待支付" in (
        page.inner_text("[data-testid=state]")
    )
    assert page.inner_text("[data-testid=amount]") == f"{expected:,.2f}"
    timeline = page.inner_text("[data-testid=timeline]")
    for name, _ in STEPS:
        assert f"cases.case.{name}" in timeline
    assert "cases.case.opened" in timeline
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert Case.objects.get(pk=case.pk).state == "payment_requested"


def test_a_cadre_registers_a_new_household_with_its_case_on_a_phone(
    page, live_server, insured_county
):
    """The intake form's 新登记户 section at 375 px: the head and one more member."""
    from fangpin.accounts.services import user_create
    from fangpin.common.idnumber import check_char

    village = (
        Region.objects.filter(path__startswith=insured_county.path, level="village")
        .order_by("code")
        .first()
    )
    user_create(username="cadre", password=PASSWORD, role="village_cadre", region=village)
    head_id = "13043419660405031" + check_char("13043419660405031")
    son_id = "13043419920812051" + check_char("13043419920812051")

    login(page, live_server, "cadre")
    page.goto(f"{live_server.url}/cases/new/")
    page.click("[data-testid=new-household] > summary")
    page.check("input[name=register]")
    assert page.input_value("select[name=village]") == village.code  # the cadre's only village
    page.fill("input[name=head_name]", "周德胜")
    page.fill("input[name=head_id_number]", head_id)
    page.fill("input[name=bank_account]", "6217000012345678")
    page.fill("input[name=members-0-name]", "周海")
    page.fill("input[name=members-0-id_number]", son_id)
    page.fill("input[name=members-0-relation]", "子")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.select_option("select[name=source]", "application")
    page.select_option("select[name=circumstance]", "accident")
    page.fill("textarea[name=description]", "房屋失火 house fire")
    # an accident is a claim of one person on one day (its cap is per event)
    page.fill("input[name=member_id_number]", head_id)
    page.fill("input[name=event_date]", timezone.localdate().isoformat())
    page.click("[data-testid=open-case]")
    page.wait_for_selector("[data-testid=state]")

    household = Household.objects.get(members__id_number=head_id)
    assert household.village == village and household.members.count() == 2
    case = Case.objects.get(household=household)
    assert page.url == f"{live_server.url}/cases/{case.pk}/"
    assert household.household_no in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
