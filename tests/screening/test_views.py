"""The warning work list: region scoping, filters, sorting, export, detail and dismiss."""

from __future__ import annotations

import io

import polars as pl
import pytest
from django.urls import reverse

from fangpin.common.money import Money
from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household
from fangpin.registry.services import household_bulk_load
from fangpin.screening.models import ScreeningRun, Warning, WarningStatus

pytestmark = pytest.mark.django_db


def household_in(township: Region, no: str) -> Household:
    village = Region.objects.filter(level=Level.VILLAGE, parent=township).first()
    household_bulk_load(
        households=pl.DataFrame(
            {
                "household_no": [no],
                "village_code": [village.code],
                "household_type": ["ordinary"],
                "bank": [""],
                "bank_account": [""],
            }
        ),
        members=pl.DataFrame(
            schema={
                "household_no": pl.String,
                "name": pl.String,
                "id_number": pl.String,
                "relation": pl.String,
                "labour": pl.String,
            }
        ),
        incomes=pl.DataFrame(
            schema={"household_no": pl.String, "year": pl.Int64, "annual_income_fen": pl.Int64}
        ),
        village_ids={village.code: (village.pk, village.path)},
    )
    return Household.objects.get(household_no=no)


def warn(household: Household, relief: str, circumstance: str = "medical") -> Warning:
    run = ScreeningRun.objects.create(year=2019)
    return Warning.objects.create(
        household=household,
        region_path=household.village.path,
        circumstance=circumstance,
        year=2019,
        household_type="ordinary",
        members=3,
        self_paid=Money("30000"),
        annual_income=None,
        income_known=False,
        units=2,
        feed_refs=["M1", "M2"],
        parameter_version="v1",
        estimated_relief=Money(relief),
        run=run,
    )


@pytest.fixture
def two_townships(townships):
    mine = [
        warn(household_in(townships[0], "W-A1"), "5000"),
        warn(household_in(townships[0], "W-A2"), "9000", "accident"),
    ]
    other = warn(household_in(townships[1], "W-B1"), "7000")
    return mine, other


def login(client, user):
    client.force_login(user)


def test_a_township_officer_sees_only_their_townships_warnings_by_relief(
    client, township_officer, two_townships
):
    (a1, a2), b1 = two_townships
    login(client, township_officer)
    page = client.get(reverse("screening:index"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "W-A1" in html and "W-A2" in html and "W-B1" not in html
    assert html.index("W-A2") < html.index("W-A1")  # 9,000 before 5,000
    assert client.get(reverse("screening:detail", args=[b1.pk])).status_code == 404
    assert (
        client.post(reverse("screening:dismiss", args=[b1.pk]), {"reason": "越权测试"}).status_code
        == 404
    )


def test_the_county_officer_sees_both_townships_and_filters(client, county_officer, two_townships):
    login(client, county_officer)
    html = client.get(reverse("screening:index")).content.decode()
    assert all(no in html for no in ("W-A1", "W-A2", "W-B1"))
    html = client.get(reverse("screening:index"), {"circumstance": "accident"}).content.decode()
    assert "W-A2" in html and "W-A1" not in html


def test_the_export_holds_the_users_warnings(client, township_officer, two_townships):
    login(client, township_officer)
    response = client.get(reverse("screening:export"))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    frame = pl.read_excel(io.BytesIO(response.content))
    assert sorted(frame[:, 0].to_list()) == ["W-A1", "W-A2"]


def test_the_detail_explains_and_a_dismissal_needs_a_reason(
    client, township_officer, two_townships
):
    (a1, _), _ = two_townships
    login(client, township_officer)
    html = client.get(reverse("screening:detail", args=[a1.pk])).content.decode()
    assert "30,000.00" in html or "30000.00" in html
    assert "M1, M2" in html and "v1" in html
    url = reverse("screening:dismiss", args=[a1.pk])
    client.post(url, {"reason": " "})
    assert Warning.objects.get(pk=a1.pk).status == WarningStatus.OPEN
    client.post(url, {"reason": "已入户核查，收入高于标准"})
    a1.refresh_from_db()
    assert a1.status == WarningStatus.DISMISSED and a1.decided_by == township_officer


def test_opening_a_case_from_a_warning_marks_it_and_joins_on_repeat(
    client, township_officer, two_townships, make_user
):
    from fangpin.cases.models import Case

    (a1, _), b1 = two_townships
    login(client, township_officer)
    html = client.get(reverse("screening:detail", args=[a1.pk])).content.decode()
    assert 'data-testid="open-case"' in html
    response = client.post(reverse("screening:open_case", args=[a1.pk]))
    case = Case.objects.get(household=a1.household)
    assert response.status_code == 302 and response["Location"] == reverse(
        "cases:detail", args=[case.pk]
    )
    a1.refresh_from_db()
    assert a1.status == WarningStatus.CASE_OPENED and a1.decided_by == township_officer
    assert case.circumstance == a1.circumstance
    # the warning is no longer open: a second try changes nothing
    client.post(reverse("screening:open_case", args=[a1.pk]))
    assert Case.objects.filter(household=a1.household).count() == 1
    # outside the region: not found; a village cadre may not open a case from a warning
    assert client.post(reverse("screening:open_case", args=[b1.pk])).status_code == 404
    cadre = make_user("village_cadre", b1.household.village)
    client.force_login(cadre)
    detail = client.get(reverse("screening:detail", args=[b1.pk]))
    assert (
        detail.status_code in (403, 404) or 'data-testid="open-case"' not in detail.content.decode()
    )


def test_a_township_officer_may_not_run_the_screening(client, township_officer):
    login(client, township_officer)
    assert client.post(reverse("screening:run"), {"year": "2019"}).status_code == 403


def test_the_data_quality_page_lists_batches_for_county_officers(
    client, county_officer, township_officer
):
    from fangpin.feeds.models import FeedBatch

    batch = FeedBatch.objects.create(
        kind="medical",
        department="医保",
        status="refused",
        source_name="bad.csv",
        checksum="0" * 64,
        rows_total=10,
        rows_rejected=5,
        refusal="5 of 10 rows rejected",
        report_xlsx=b"PK-fake",
    )
    login(client, county_officer)
    html = client.get(reverse("feeds:index")).content.decode()
    assert "bad.csv" in html and "5 of 10 rows rejected" in html
    assert client.get(reverse("feeds:report", args=[batch.pk])).content == b"PK-fake"
    client.logout()
    login(client, township_officer)
    assert client.get(reverse("feeds:index")).status_code == 403


def test_the_api_lists_and_dismisses_within_the_callers_region(
    client, township_officer, two_townships
):
    (a1, a2), b1 = two_townships
    client.force_login(township_officer)
    listed = client.get("/api/v1/screening/warnings").json()
    assert [w["household_no"] for w in listed["items"]] == ["W-A2", "W-A1"]
    assert listed["items"][0]["estimated_relief"] == "9000.00"
    assert client.get(f"/api/v1/screening/warnings/{b1.pk}").status_code == 404
    url = f"/api/v1/screening/warnings/{a1.pk}/dismiss"
    refused = client.post(url, {"reason": ""}, content_type="application/json")
    assert refused.status_code == 422
    done = client.post(url, {"reason": "已核实，不符合条件"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["status"] == "dismissed"
