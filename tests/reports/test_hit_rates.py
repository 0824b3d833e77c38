"""Hit rates on a known year: warnings of 魏县 (and one of 广平县) at every stage — new,
checking, dismissed, excluded, confirmed with a case at the county decision, verified with
a payment the bank refused, paid — counted exactly, in households and yuan; on the page,
in the API and in the XLSX export; for the city, a county and a department officer."""

from __future__ import annotations

import io
from decimal import Decimal

import polars as pl
import pytest
from django.urls import reverse
from django.utils import timezone

from fangpin.accounts.models import Department, Role, User
from fangpin.cases.models import Case
from fangpin.cases.services import case_open_from_warning
from fangpin.common.money import Money
from fangpin.funds import services as fund_services
from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household
from fangpin.reports.selectors import hit_rates
from fangpin.screening.models import ScreeningRun, Warning, WarningStatus
from tests.conftest import PASSWORD
from tests.funds.conftest import bank_pays

pytestmark = pytest.mark.django_db
YEAR = timezone.localdate().year
S = WarningStatus


def warning(household: Household, circumstance: str, status: str, relief: str, **extra) -> Warning:
    return Warning.objects.create(
        household=household,
        region_path=household.village.path,
        circumstance=circumstance,
        year=extra.pop("year", YEAR),
        household_type=household.household_type,
        members=4,
        self_paid=Money("30000"),
        units=1,
        feed_refs=[],
        parameter_version="v",
        estimated_relief=Money(relief),
        status=status,
        run=ScreeningRun.objects.create(year=YEAR),
        **extra,
    )


@pytest.fixture
def year(household, roles, contract, walk, tmp_path, county):
    """The known year of 魏县, and one warning of 广平县; returns the two cases' decisions."""
    fund_services.insurance_premium_pay(contract=contract, actor=None, paid_on=timezone.localdate())
    same = list(
        Household.objects.filter(village=household.village)
        .exclude(bank_account="")
        .order_by("household_no")
    )
    h = same[:8]
    assert h[0] == household and len(h) == 8
    officer, cadre = roles["township_officer"], roles["village_cadre"]
    reliefs = ["5000", "4000", "3000", "2000", "1000", "900", "800", "700", "600"]
    paid = warning(h[0], "medical", S.NEW, reliefs[0])
    refused = warning(h[1], "medical", S.CHECKING, reliefs[1], assigned_to=cadre)
    deciding = warning(h[2], "medical", S.NEW, reliefs[2])
    warning(h[3], "medical", S.CHECKING, reliefs[3], assigned_to=cadre)
    warning(h[4], "medical", S.DISMISSED, reliefs[4], dismiss_reason="income_above")
    warning(h[5], "medical", S.NEW, reliefs[5])
    warning(h[6], "medical", S.EXCLUDED, reliefs[6], exclusions=["vehicle"])
    warning(h[0], "industry", S.NEW, reliefs[7])  # the first household again, another rule
    warning(h[7], "industry", S.DISMISSED, reliefs[8], dismiss_reason="data_wrong")
    warning(h[5], "medical", S.NEW, "100", year=YEAR - 1)  # another year
    cases = {}
    for name, w in (("paid", paid), ("refused", refused), ("deciding", deciding)):
        [(case, _)] = case_open_from_warning(warning=w, actor=officer)
        cases[name] = case
    cases["paid"] = walk(cases["paid"])
    cases["refused"] = walk(cases["refused"])
    cases["deciding"] = walk(cases["deciding"], until="county_decide")
    assert [cases[n].state for n in ("paid", "refused", "deciding")] == [
        "payment_requested",
        "payment_requested",
        "county_decision",
    ]
    bank_pays(
        tmp_path,
        county=county,
        year=YEAR,
        actor=roles["county_officer"],
        failures={h[1].bank_account: "账户已销户"},
    )
    assert Case.objects.get(pk=cases["paid"].pk).state == "paid"
    # another county of the city, with a township, a village and one medical warning
    guangping = Region.objects.get(code="130432")
    township = Region.objects.create(
        code="130432100", name="广平镇", level=Level.TOWNSHIP, parent=guangping
    )
    village = Region.objects.create(
        code="130432100200", name="南阳堡村", level=Level.VILLAGE, parent=township
    )
    far = Household.objects.create(household_no="GP-1", village=village, household_type="ordinary")
    warning(far, "medical", S.NEW, "7000")
    return {
        n: Case.objects.get(pk=cases[n].pk).current_decision.amount for n in ("paid", "refused")
    }


def row(rows, county: str, circumstance: str, year: int = YEAR):
    [found] = [
        r for r in rows if (r.county_code, r.circumstance, r.year) == (county, circumstance, year)
    ]
    return found


def stages(r) -> tuple:
    return tuple(
        r.households[s] for s in ("warned", "excluded", "checked", "confirmed", "verified", "paid")
    )


def test_the_known_year_of_a_county_counted_stage_by_stage(year, roles, county):
    decided = year["paid"] + year["refused"]
    assert year["paid"] > Money(0) and year["refused"] > Money(0)
    rows = hit_rates(user=roles["county_officer"], year=YEAR)
    # the county officer sees their county only: its two feeds, then the county's total
    assert [(r.county_code, r.circumstance) for r in rows] == [
        (county.code, "industry"),
        (county.code, "medical"),
        ("", ""),
    ]
    medical = row(rows, county.code, "medical")
    assert stages(medical) == (7, 1, 5, 3, 2, 1)
    assert medical.warnings == {
        "warned": 7,
        "excluded": 1,
        "checked": 5,
        "confirmed": 3,
        "verified": 2,
        "paid": 1,
    }
    assert medical.estimated == Money("16700.00")  # 5,000 + 4,000 + … + 800
    assert medical.verified_yuan == decided  # the county decided both, the bank paid one
    assert medical.paid_yuan == year["paid"]
    assert medical.hit_rate == Decimal("28.6")  # 2 of 7 households
    assert medical.feed == "medical" and medical.feed_label == "住院结算 · 医保"
    industry = row(rows, county.code, "industry")
    assert stages(industry) == (2, 0, 1, 0, 0, 0)
    assert (industry.estimated, industry.verified_yuan, industry.hit_rate) == (
        Money("1300.00"),
        Money(0),
        Decimal("0.0"),
    )
    total = row(rows, "", "")
    # 9 warnings of 8 households: the first household was warned for two circumstances
    assert total.warnings["warned"] == 9 and stages(total) == (8, 1, 6, 3, 2, 1)
    assert (total.verified_yuan, total.paid_yuan) == (decided, year["paid"])
    assert total.hit_rate == Decimal("25.0")


def test_the_city_sees_every_county_and_the_counties_together(year, roles, county):
    rows = hit_rates(user=roles["city_admin"], year=YEAR)
    assert [(r.county_code, r.circumstance) for r in rows] == [
        ("130432", "medical"),
        (county.code, "industry"),
        (county.code, "medical"),
        ("", "industry"),
        ("", "medical"),
        ("", ""),
    ]
    assert stages(row(rows, "130432", "medical")) == (1, 0, 0, 0, 0, 0)
    assert stages(row(rows, "", "medical")) == (8, 1, 5, 3, 2, 1)
    assert row(rows, "", "medical").estimated == Money("23700.00")
    # one county only, and every year
    only = hit_rates(user=roles["city_admin"], county="130432")
    assert {(r.county_code, r.year) for r in only} == {("130432", YEAR), ("", YEAR)}
    every = hit_rates(user=roles["county_officer"])
    assert stages(row(every, county.code, "medical", YEAR - 1)) == (1, 0, 0, 0, 0, 0)


def department_officer(department: str, region: Region, username: str) -> User:
    user = User(
        username=username, role=Role.DEPARTMENT_OFFICER, department=department, region=region
    )
    user.set_password(PASSWORD)
    user.full_clean()
    user.save()
    return user


def test_a_department_officer_sees_only_the_rows_of_its_own_feeds(year, county, client):
    city = county.parent
    medical = department_officer(Department.MEDICAL_INSURANCE, city, "yibao")
    rows = hit_rates(user=medical, year=YEAR)
    assert {r.circumstance for r in rows} == {"medical", ""}
    assert stages(row(rows, "", "")) == (8, 1, 5, 3, 2, 1)  # the medical warnings only
    farming = department_officer(Department.AGRICULTURE, county, "nongye")
    rows = hit_rates(user=farming, year=YEAR)
    assert [(r.county_code, r.circumstance) for r in rows] == [(county.code, "industry"), ("", "")]
    schools = department_officer(Department.EDUCATION, city, "jiaoyu")
    assert hit_rates(user=schools, year=YEAR) == []
    # on the page and in the API, and nothing of the households
    client.force_login(medical)
    page = client.get(reverse("reports:hit_rates"), {"year": YEAR})
    html = page.content.decode()
    assert page.status_code == 200 and 'data-circumstance="industry"' not in html
    assert 'data-circumstance="medical"' in html and "GP-1" not in html
    assert client.get(reverse("screening:index")).status_code == 403
    api = client.get("/api/v1/reports/hit-rates", {"year": YEAR}).json()
    assert {r["circumstance"] for r in api} == {"medical", ""}


def test_the_page_defines_the_stages_and_other_roles_are_refused(year, roles, client, county):
    client.force_login(roles["county_officer"])
    html = client.get(reverse("reports:hit_rates")).content.decode()  # the latest year
    assert 'data-testid="definitions"' in html
    medical = html[html.index(f'data-county="{county.code}" data-circumstance="medical"') :]
    medical = medical[: medical.index("</tr>")]
    assert '<td class="num" data-stage="verified">2</td>' in medical
    assert "28.6%" in medical
    for role in ("township_officer", "village_cadre", "insurer_adjuster"):
        client.force_login(roles[role])
        assert client.get(reverse("reports:hit_rates")).status_code == 403
        assert client.get("/api/v1/reports/hit-rates").status_code == 403


def test_the_api_answers_the_rows_with_amounts_as_yuan_strings(year, roles, client, county):
    client.force_login(roles["county_officer"])
    response = client.get("/api/v1/reports/hit-rates", {"year": YEAR, "county": county.code})
    assert response.status_code == 200
    [medical] = [r for r in response.json() if r["circumstance"] == "medical"]
    assert medical["households"] == {
        "warned": 7,
        "excluded": 1,
        "checked": 5,
        "confirmed": 3,
        "verified": 2,
        "paid": 1,
    }
    assert medical["feed"] == "medical" and medical["county_name"] == county.name
    assert medical["estimated_relief"] == "16700.00"
    assert medical["verified_relief"] == str(year["paid"] + year["refused"])
    assert medical["paid"] == str(year["paid"]) and medical["hit_rate"] == "28.6"
    # a county outside the officer's region, a year out of range
    assert client.get("/api/v1/reports/hit-rates", {"county": "130432"}).status_code == 404
    assert client.get("/api/v1/reports/hit-rates", {"year": 1999}).status_code == 422
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/reports/hit-rates"]["get"]
    assert {"200", "403", "404", "422"} <= set(operation["responses"])


def test_the_export_holds_the_pages_rows(year, roles, client, county):
    from fangpin.common.models import AuditEvent

    client.force_login(roles["city_admin"])
    response = client.get(reverse("reports:hit_rates_export"), {"year": YEAR})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    frame = pl.read_excel(io.BytesIO(response.content))
    assert frame.height == 6
    medical = frame.row(2)  # 魏县's medical row, after 广平县 and 魏县's industry
    assert medical[1] == county.name and medical[2] == "住院结算 · 医保"
    # per stage: warnings, households
    assert list(medical[4:16]) == [7, 7, 1, 1, 5, 5, 3, 3, 2, 2, 1, 1]
    assert Decimal(str(medical[16])) == Decimal("16700.00")
    assert (
        Decimal(str(medical[17])).quantize(Decimal("0.01"))
        == (year["paid"] + year["refused"]).amount
    )
    assert Decimal(str(medical[18])).quantize(Decimal("0.01")) == year["paid"].amount
    assert AuditEvent.objects.filter(action="reports.hit_rates.exported").count() == 1


def test_the_hit_rates_are_aggregate_queries_whatever_the_number_of_warnings(
    year, roles, household
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            hit_rates(user=roles["city_admin"], year=YEAR)
        return len(captured)

    before = queries()
    others = Household.objects.filter(village=household.village).order_by("-household_no")[:20]
    for h in others:
        warning(h, "accident", S.NEW, "100")
    assert queries() == before
