"""The registry import as an office uses it: files in, every problem out, or changes written once."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.registry import importer
from fangpin.registry.importer import registry_import
from fangpin.registry.models import Household, IncomeRecord, Member

from .conftest import HEADER_EN, HEADER_ZH, idn, write_csv, write_xlsx


def snapshot():
    return (
        Household.objects.count(),
        Member.objects.count(),
        IncomeRecord.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("writer", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_a_new_household_is_created_then_a_second_import_changes_nothing(
    tmp_path, family, writer, county_officer
):
    path = writer(tmp_path / f"reg.{'csv' if writer is write_csv else 'xlsx'}", family)
    first = registry_import(path=path, actor=county_officer)
    assert first.ok, first.error_lines()
    assert (first.households_created, first.members_created, first.incomes_recorded) == (1, 3, 1)
    h = Household.objects.get(household_no="T-0001")
    assert h.household_type == "marginal" and h.bank_account == "6217000011112222"
    assert sorted(h.members.values_list("name", flat=True)) == ["关建国", "关晨旭", "李秀兰"]
    income = h.incomes.get()
    assert income.annual_income == Money("27588.00")
    assert (income.source, income.recorded_by, income.note) == (
        "survey",
        county_officer,
        "registry import",
    )
    event = AuditEvent.objects.get(
        action="registry.household.created", object_id=str(h.pk), actor=county_officer
    )
    assert event.region_path == h.village.path
    assert event.data == {"household_no": "T-0001", "source": str(path)}
    assert event.at == h.created_at == income.recorded_at

    before = snapshot()
    second = registry_import(path=path, actor=county_officer)
    assert second.ok
    assert (second.households_created, second.households_updated, second.households_unchanged) == (
        0,
        0,
        1,
    )
    assert (
        second.members_created,
        second.members_updated,
        second.members_removed,
        second.incomes_recorded,
    ) == (0, 0, 0, 0)
    assert snapshot() == before


def test_english_headers_work_too(tmp_path, family):
    result = registry_import(path=write_csv(tmp_path / "en.csv", family, header=HEADER_EN))
    assert result.ok, result.error_lines()
    assert result.households_created == 1


def test_a_gbk_csv_from_excel_is_read(tmp_path, family):
    result = registry_import(path=write_csv(tmp_path / "gbk.csv", family, encoding="gb18030"))
    assert result.ok, result.error_lines()
    assert Member.objects.filter(name="关晨旭").exists()


def test_changes_are_updates_with_income_history_kept(tmp_path, family, villages):
    registry_import(path=write_csv(tmp_path / "a.csv", family))
    changed = [row[:] for row in family[:2]]  # the son left the household
    for row in changed:
        row[7] = "30000.5"  # a new income figure for 2019
        row[1] = villages[1].code  # moved village
    result = registry_import(path=write_csv(tmp_path / "b.csv", changed))
    assert result.ok, result.error_lines()
    assert (result.households_updated, result.members_removed, result.incomes_recorded) == (1, 1, 1)
    h = Household.objects.get(household_no="T-0001")
    assert h.village == villages[1]
    assert list(h.incomes.values_list("annual_income", flat=True)) == [
        Money("30000.50"),
        Money("27588"),
    ]
    assert not Member.objects.filter(name="关晨旭").exists()
    assert AuditEvent.objects.filter(action="registry.member.removed").count() == 1


def test_every_kind_of_bad_row_is_reported_in_one_run_and_nothing_is_written(
    tmp_path, family, villages
):
    v = villages[0].code
    future_year = str(dt.date.today().year + 1)
    rows = family + [
        [
            "T-0002",
            v,
            "marginal",
            "张三",
            idn("19800101", 11)[:-1] + "0"
            if idn("19800101", 11)[-1] != "0"
            else idn("19800101", 11)[:-1] + "1",
            "户主",
            "2019",
            "1000",
            "",
            "",
        ],  # row 5: wrong ID checksum
        [
            "T-0003",
            v,
            "unstable",
            "李四",
            idn("19810101", 13),
            "户主",
            "2019",
            "-5",
            "",
            "",
        ],  # row 6: negative amount
        [
            "T-0003",
            v,
            "unstable",
            "李四",
            idn("19810101", 13),
            "户主",
            "2019",
            "-5",
            "",
            "",
        ],  # row 7: duplicate row
        [
            "T-0004",
            v,
            "unstable",
            "王五",
            idn("19820101", 15),
            "户主",
            future_year,
            "100",
            "",
            "",
        ],  # row 8: future year
        [
            "T-0005",
            "130434999999",
            "unstable",
            "赵六",
            idn("19830101", 17),
            "户主",
            "2019",
            "100",
            "",
            "",
        ],  # row 9: unknown village
        [
            "T-0006",
            v,
            "rich",
            "钱七",
            idn("19840101", 19),
            "户主",
            "2019",
            "1e3",
            "",
            "12ab",
        ],  # row 10: type, amount, account
        [
            "T-0007",
            v,
            "sudden",
            "",
            idn("19850101", 21),
            "配偶",
            "2019",
            "100",
            "",
            "",
        ],  # row 11: no name, no head
        [
            "T-0001",
            villages[1].code,
            "marginal",
            "关小妹",
            idn("20050101", 22),
            "女",
            "2019",
            "27588",
            "邮储银行",
            "6217000011112222",
        ],  # row 12: village differs in household
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    before = snapshot()
    result = registry_import(path=path)
    assert snapshot() == before
    lines = result.error_lines()
    p = str(path)
    expected = [
        f"{p}:5:身份证号: ID number check digit is wrong",
        f"{p}:6:家庭年可支配收入: {importer.ERR_NEGATIVE}",
        f"{p}:7:身份证号: " + importer.ERR_DUPLICATE_ID.format(first=6),
        f"{p}:8:年度: " + importer.ERR_FUTURE_YEAR.format(year=future_year),
        f"{p}:9:村代码: {importer.ERR_UNKNOWN_VILLAGE}",
        f"{p}:10:户类型: household type must be one of",
        f"{p}:10:家庭年可支配收入: {importer.ERR_AMOUNT}",
        f"{p}:10:银行账号: {importer.ERR_BANK_ACCOUNT}",
        f"{p}:11:姓名: {importer.ERR_REQUIRED}",
        f"{p}:11:与户主关系: household T-0007 must have exactly one head",
        f"{p}:12:村代码: " + importer.ERR_INCONSISTENT.format(first=2),
    ]
    for line in expected:
        assert any(got.startswith(line) for got in lines), f"missing {line!r} in\n" + "\n".join(
            lines
        )


def test_the_command_prints_each_problem_and_exits_non_zero(tmp_path, family, capsys):
    family[1][4] = "110105194912310021"  # wrong check digit
    path = write_csv(tmp_path / "cli.csv", family)
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import", "registry", str(path))
    err = capsys.readouterr().err
    assert f"{path}:3:身份证号: ID number check digit is wrong: expected X" in err
    assert not Household.objects.filter(household_no="T-0001").exists()


def test_the_command_prints_counts_on_success(tmp_path, family, capsys):
    call_command("import", "registry", str(write_csv(tmp_path / "ok.csv", family)))
    assert "1 created" in capsys.readouterr().out


def test_an_id_number_held_by_another_household_is_refused(tmp_path, family):
    existing = Member.objects.select_related("household").first()
    family[2][4] = existing.id_number
    result = registry_import(path=write_csv(tmp_path / "clash.csv", family))
    assert result.error_lines() == [
        f"{tmp_path / 'clash.csv'}:4:身份证号: "
        + importer.ERR_ID_ELSEWHERE.format(household=existing.household.household_no)
    ]


def test_an_id_number_held_outside_the_importers_region_does_not_name_the_household(
    tmp_path, family, make_user, villages
):
    officer = make_user("township_officer", villages[0].parent)
    existing = (
        Member.objects.select_related("household")
        .exclude(household__village__path__startswith=villages[0].parent.path)
        .first()
    )
    family[2][4] = existing.id_number
    result = registry_import(path=write_csv(tmp_path / "clash.csv", family), actor=officer)
    assert result.error_lines() == [
        f"{tmp_path / 'clash.csv'}:4:身份证号: " + importer.ERR_ID_OUTSIDE
    ]


def test_a_village_outside_the_importers_region_is_refused(tmp_path, family, make_user, villages):
    other_township = next(v.parent for v in villages if v.parent_id != villages[0].parent_id)
    officer = make_user("township_officer", other_township)
    result = registry_import(path=write_csv(tmp_path / "scope.csv", family), actor=officer)
    assert [line.split(": ", 1)[1] for line in result.error_lines()] == [
        importer.ERR_VILLAGE_SCOPE
    ] * 3


def test_a_malformed_spreadsheet_is_refused_with_the_file_named(tmp_path):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not really a workbook")
    result = registry_import(path=bad)
    assert len(result.problems) == 1
    assert result.error_lines()[0].startswith(f"{bad}: cannot read the file as XLSX")


def test_unknown_and_missing_columns_are_named(tmp_path, family):
    header = ["户编号", "村代码", "户类型", "名字", "身份证号", "与户主关系"]
    result = registry_import(
        path=write_csv(tmp_path / "cols.csv", [r[:6] for r in family], header=header)
    )
    lines = result.error_lines()
    assert any(":1:名字: unknown column" in line for line in lines)
    assert any(":1:姓名: required column is missing" in line for line in lines)


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, family):
    path = write_csv(tmp_path / "big.csv", family * 50)
    with override_settings(FANGPIN_IMPORT_MAX_BYTES=1000):
        result = registry_import(path=path)
    assert "more than the limit" in result.error_lines()[0]


def test_other_file_types_are_refused(tmp_path):
    path = tmp_path / "x.ods"
    path.write_text("nope")
    assert "unsupported file type" in registry_import(path=path).error_lines()[0]


def test_labour_capacity_is_optional_and_kept_when_the_column_is_absent(tmp_path, family):
    header = [*HEADER_ZH, "劳动能力"]
    rows = [[*r, lab] for r, lab in zip(family, ["有劳动能力", "weak", "无劳动能力"], strict=True)]
    assert registry_import(path=write_csv(tmp_path / "l.csv", rows, header=header)).ok
    assert list(
        Member.objects.filter(household__household_no="T-0001")
        .order_by("id")
        .values_list("labour", flat=True)
    ) == ["able", "weak", "none"]
    again = registry_import(path=write_csv(tmp_path / "no-labour.csv", family))
    assert again.ok and again.households_unchanged == 1
    rows[0][-1] = "strong"
    bad = registry_import(path=write_csv(tmp_path / "bad-labour.csv", rows, header=header))
    assert bad.error_lines() == [f"{tmp_path / 'bad-labour.csv'}:2:劳动能力: {importer.ERR_LABOUR}"]
