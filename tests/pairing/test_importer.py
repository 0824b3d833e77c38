"""The cadre import as a county office uses it: files in, every problem out, or changes written once."""

from __future__ import annotations

import csv

import pytest
import xlsxwriter
from django.core.management import call_command
from django.core.management.base import CommandError

from fangpin.common.models import AuditEvent
from fangpin.pairing import importer
from fangpin.pairing.importer import cadre_import
from fangpin.pairing.models import Cadre

HEADER_ZH = ["姓名", "工作单位", "层级", "手机号", "区划代码"]
HEADER_EN = ["name", "work_unit", "level", "phone", "region_code"]


def write_csv(path, rows, header=HEADER_ZH, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_xlsx(path, rows, header=HEADER_ZH):
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("干部")
    ws.write_row(0, 0, header)
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            ws.write_string(i, j, value)
    wb.close()
    return path


@pytest.fixture
def rows(hand):
    return [
        ["李文文", "武安市审计局", "县级", "13903100001", hand.county.code],
        ["赵村干", "东测村委会", "村级", "13903100002", hand.village1.code],
        ["钱镇干", "测试一镇人民政府", "township", "0310-5551234", hand.town1.code],
        ["孙驻村", "武安市财政局", "county", "13903100004", hand.village3.code],  # stationed
    ]


def snapshot():
    return Cadre.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    ("writer", "header", "suffix"),
    [(write_csv, HEADER_ZH, "csv"), (write_xlsx, HEADER_EN, "xlsx")],
    ids=["csv-zh", "xlsx-en"],
)
def test_cadres_are_created_then_a_second_import_changes_nothing(
    tmp_path, rows, officer, writer, header, suffix
):
    path = writer(tmp_path / f"cadres.{suffix}", rows, header=header)
    first = cadre_import(path=path, actor=officer)
    assert first.ok, first.error_lines()
    assert (first.created, first.updated, first.unchanged) == (4, 0, 0)
    li = Cadre.objects.get(phone="13903100001")
    assert (li.name, li.level, li.region.code) == ("李文文", "county", rows[0][4])
    assert Cadre.objects.get(phone="0310-5551234").level == "township"
    assert AuditEvent.objects.filter(
        action="pairing.cadre.created", object_id=str(li.pk), actor=officer
    ).exists()

    before = snapshot()
    second = cadre_import(path=path, actor=officer)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 4)
    assert snapshot() == before


def test_a_changed_row_updates_the_cadre_found_by_phone(tmp_path, rows, officer, hand):
    cadre_import(path=write_csv(tmp_path / "a.csv", rows), actor=officer)
    rows[1][1] = "东测村党支部"
    rows[1][4] = hand.village2.code
    result = cadre_import(path=write_csv(tmp_path / "b.csv", rows), actor=officer)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 3)
    cadre = Cadre.objects.get(phone="13903100002")
    assert (cadre.work_unit, cadre.region) == ("东测村党支部", hand.village2)
    event = AuditEvent.objects.get(action="pairing.cadre.updated", object_id=str(cadre.pk))
    assert event.data["before"]["work_unit"] == "东测村委会"


def test_every_problem_is_reported_with_row_and_column_and_nothing_is_written(
    tmp_path, rows, officer, hand, county
):
    bad = [
        *rows,
        ["", "某单位", "村级", "13903100005", hand.village1.code],  # 6: no name
        ["周", "某单位", "省级", "13903100006", hand.village1.code],  # 7: unknown level
        ["吴", "某单位", "村级", "1390310", hand.village1.code],  # 8: bad phone
        ["郑", "某单位", "村级", "13903100001", hand.village1.code],  # 9: phone of row 2
        ["王", "某单位", "村级", "13903100010", "999999999999"],  # 10: unknown region
        ["冯", "某单位", "村级", "13903100011", hand.town1.code],  # 11: region above the level
        ["陈", "某单位", "村级", "13903100012", county.code],  # 12: 魏县, not ours
    ]
    before = snapshot()
    result = cadre_import(path=write_csv(tmp_path / "bad.csv", bad), actor=officer)
    assert not result.ok
    found = {(p.row, p.column, p.message) for p in result.problems}
    assert (6, "姓名", importer.ERR_REQUIRED) in found
    assert (7, "层级", importer.ERR_LEVEL) in found
    assert (8, "手机号", importer.ERR_PHONE) in found
    assert (9, "手机号", importer.ERR_DUPLICATE_PHONE.format(first=2)) in found
    assert (10, "区划代码", importer.ERR_UNKNOWN_REGION) in found
    assert (11, "区划代码", importer.ERR_REGION_LEVEL) in found
    assert (12, "区划代码", importer.ERR_REGION_SCOPE) in found
    assert any(
        line.startswith("bad.csv:8:手机号: phone must be")
        for line in [p.format("bad.csv") for p in result.problems]
    )
    assert snapshot() == before


def test_a_phone_held_by_a_cadre_outside_the_region_is_refused(
    tmp_path, rows, officer, county, make_user
):
    from fangpin.pairing.cadres import cadre_create

    wei_village = county.children.first().children.first()
    cadre_create(
        name="外县", work_unit="x", level="village", phone="13903100002", region=wei_village
    )
    result = cadre_import(path=write_csv(tmp_path / "c.csv", rows), actor=officer)
    assert [(p.row, p.message) for p in result.problems] == [(3, importer.ERR_PHONE_ELSEWHERE)]


def test_a_malformed_file_is_refused(tmp_path, officer):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"this is not a workbook")
    before = snapshot()
    result = cadre_import(path=path, actor=officer)
    assert not result.ok and "cannot read the file as XLSX" in result.problems[0].message
    missing = cadre_import(
        path=write_csv(tmp_path / "m.csv", [["x"]], header=["姓名"]), actor=officer
    )
    assert any("required column is missing" in p.message for p in missing.problems)
    assert snapshot() == before


def test_only_a_county_or_city_office_imports_cadres(tmp_path, rows, make_user, hand):
    township = make_user("township_officer", hand.town1)
    result = cadre_import(path=write_csv(tmp_path / "a.csv", rows), actor=township)
    assert not result.ok and "pairing.import" in result.problems[0].message
    assert not Cadre.objects.filter(phone="13903100001").exists()


def test_the_command_imports_and_reports_problems(tmp_path, rows, officer, capsys):
    good = write_csv(tmp_path / "good.csv", rows)
    call_command("import", "cadres", str(good), "--as-user", officer.username)
    assert "4 created" in capsys.readouterr().out
    bad = write_csv(tmp_path / "bad.csv", [["x", "y", "村级", "123", "000"]])
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import", "cadres", str(bad))
    assert "bad.csv:2:手机号:" in capsys.readouterr().err
