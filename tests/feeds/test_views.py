"""The data-quality page and its reports (views.py, selectors.py): a report names people, so
a county officer gets only the rows of their county, ID numbers masked; the city sees all."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from django.urls import reverse

from fangpin.common.audit import AuditEvent
from fangpin.common.idnumber import mask_id_number
from fangpin.feeds.models import FeedBatch
from fangpin.feeds.services import feed_import
from fangpin.regions.models import Level, Region

from .conftest import ALICE, BOB, CAROL, medical_row, valid_id, write_csv

pytestmark = pytest.mark.django_db

OTHER_COUNTY = "130481"  # 武安市
DAVE = valid_id("13048119900404004")
BAD_ID = ALICE[:17] + ("0" if ALICE[17] != "0" else "1")  # a wrong check digit


@pytest.fixture
def villages(county):
    """A village of the small county, and one of another county (built here)."""
    mine = Region.objects.filter(level=Level.VILLAGE, path__startswith=county.path).first()
    other_county = Region.objects.get(code=OTHER_COUNTY)
    town = Region.objects.create(
        code=f"{OTHER_COUNTY}100", name="测试镇", level=Level.TOWNSHIP, parent=other_county
    )
    theirs = Region.objects.create(
        code=f"{OTHER_COUNTY}100001", name="测试村", level=Level.VILLAGE, parent=town
    )
    return mine, theirs


@pytest.fixture
def other_officer(make_user):
    return make_user("county_officer", Region.objects.get(code=OTHER_COUNTY))


def roster_row(person: str, village: str, **change) -> dict:
    row = {
        "年度": "2019",
        "身份证号": person,
        "姓名": "张三",
        "户编号": f"H-{person[-4:]}",
        "村代码": village,
        "与户主关系": "户主",
    }
    row.update(change)
    return row


@pytest.fixture
def roster(lake, tmp_path, villages):
    """A roster batch whose problems lie in both counties and nowhere."""
    mine, theirs = villages
    rows = [
        roster_row(ALICE, mine.code),
        roster_row(BOB, theirs.code),
        roster_row(CAROL, mine.code, 与户主关系="户主" * 9),  # too long: a row of my county
        roster_row(BAD_ID, mine.code),  # wrong check digit: my county, its ID masked
        roster_row(DAVE, theirs.code, 与户主关系="子女" * 9),  # too long: the other county
        roster_row(valid_id("13043419770707007"), "999999999999", 姓名=""),  # unknown village
    ]
    path = write_csv(tmp_path / "roster.csv", rows)
    result = feed_import(kind="roster", path=path, max_rejected_share=Decimal("0.9"))
    assert result.ok and result.batch.rows_rejected == 4
    return result.batch


def download(client, user, batch: FeedBatch):
    client.force_login(user)
    return client.get(reverse("feeds:report", args=[batch.pk]))


def report_of(response) -> pl.DataFrame:
    assert response.status_code == 200, response.content[:200]
    frame = pl.read_excel(response.content)
    return frame.rename(
        dict(zip(frame.columns, ["file", "row", "column", "value", "problem"], strict=True))
    )


def test_the_city_administrator_gets_the_whole_report_with_id_numbers(client, city_admin, roster):
    report = report_of(download(client, city_admin, roster))
    assert report["row"].to_list() == [4, 5, 6, 7]
    assert BAD_ID in report["value"].to_list()


def test_a_county_officer_gets_only_the_rows_of_their_county_with_id_numbers_masked(
    client, county_officer, roster
):
    report = report_of(download(client, county_officer, roster))
    note, *rows = report.iter_rows(named=True)
    assert note["row"] == 0 and "1 rows of other regions and 1 rows whose region" in note["problem"]
    assert [r["row"] for r in rows] == [4, 5]  # CAROL's relation, the wrong check digit
    assert mask_id_number(BAD_ID) in report["value"].to_list()
    assert not any(BAD_ID in str(v) or DAVE in str(v) for v in report["value"].to_list())
    event = AuditEvent.objects.get(action="feeds.report.downloaded")
    assert event.data == {"rows": 2, "rows_outside": 1, "rows_unplaced": 1, "masked": True}


def test_the_officer_of_another_county_sees_only_their_row(client, other_officer, roster):
    report = report_of(download(client, other_officer, roster))
    assert report["row"].to_list() == [0, 6]  # the note, DAVE's relation
    assert "2 rows of other regions" in report["problem"][0]


def test_a_feed_without_village_codes_is_placed_by_the_roster_and_unplaced_rows_are_left_out(
    client, county_officer, other_officer, roster, tmp_path
):
    rows = [medical_row(结算单号=f"S{i}") for i in range(10)]
    rows[1].update(总费用="-1")  # ALICE: in my county's roster
    rows[2].update(身份证号=BOB, 总费用="-1")  # BOB: the other county
    rows[3].update(身份证号=DAVE, 总费用="-1")  # DAVE: his roster row was rejected, not in the lake
    path = write_csv(tmp_path / "medical.csv", rows)
    batch = feed_import(kind="medical", path=path, max_rejected_share=Decimal("0.5")).batch
    mine = report_of(download(client, county_officer, batch))
    assert mine["row"].to_list() == [0, 3]
    assert "1 rows of other regions and 1 rows whose region cannot be told" in mine["problem"][0]
    theirs = report_of(download(client, other_officer, batch))
    assert theirs["row"].to_list() == [0, 4]


def test_a_batch_with_nothing_in_the_officers_county_is_no_report(
    client, other_officer, lake, tmp_path, villages
):
    mine, _ = villages
    rows = [roster_row(ALICE, mine.code), roster_row(BOB, mine.code, 姓名="")]
    path = write_csv(tmp_path / "r.csv", rows)
    batch = feed_import(kind="roster", path=path, max_rejected_share=Decimal("0.9")).batch
    assert download(client, other_officer, batch).status_code == 404
    assert not AuditEvent.objects.filter(action="feeds.report.downloaded").exists()


def test_a_report_of_the_whole_file_names_nobody_and_every_owner_gets_it(
    client, county_officer, lake, tmp_path
):
    path = write_csv(tmp_path / "m.csv", [{"foo": "1"}])
    batch = feed_import(kind="medical", path=path).batch
    report = report_of(download(client, county_officer, batch))
    assert report["row"].to_list()[0] == 0 and len(report) > 1
    assert any("required column is missing" in p for p in report["problem"].to_list())


def test_a_report_kept_before_reports_were_scoped_is_the_citys_only(
    client, city_admin, county_officer
):
    batch = FeedBatch.objects.create(
        kind="medical",
        department="医保",
        status="refused",
        source_name="old.csv",
        checksum="1" * 64,
        rows_total=10,
        rows_rejected=5,
        report_xlsx=b"PK-old",
    )
    assert download(client, county_officer, batch).status_code == 404
    assert download(client, city_admin, batch).content == b"PK-old"


def test_only_the_roles_that_own_feeds_download_reports(client, make_user, county, roster):
    auditor = make_user("auditor", county)
    client.force_login(auditor)
    html = client.get(reverse("feeds:index")).content.decode()
    assert "roster.csv" in html and reverse("feeds:report", args=[roster.pk]) not in html
    assert download(client, auditor, roster).status_code == 403


def test_the_list_links_the_reports_for_a_county_officer(client, county_officer, roster):
    client.force_login(county_officer)
    html = client.get(reverse("feeds:index")).content.decode()
    assert reverse("feeds:report", args=[roster.pk]) in html
