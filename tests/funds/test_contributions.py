"""Contributions (资金筹集): the form's service and the spreadsheet import, with the
registry import's rules — every problem named by file, row and column, nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.funds import importer, selectors, services
from fangpin.funds.importer import contributions_import
from fangpin.funds.models import Contribution, LedgerTransaction
from fangpin.funds.services import FundError
from fangpin.regions.models import Region

from .conftest import Y1, write_csv, write_xlsx

HEADER = ["县代码", "年度", "资金来源", "金额", "文号", "到账日期", "备注"]
HEADER_EN = ["county_code", "year", "source", "amount", "document_no", "received_on", "note"]
ROWS = [
    ["130434", "2018", "中央", "1200000", "魏财社〔2018〕3号", "2018-02-10", ""],
    ["130434", "2018", "省级", "800000.5", "冀财社〔2018〕9号", "2018/3/1", "第一批"],
    ["130434", "", "社会捐赠", "620.25", "魏捐〔2018〕1号", "2018-04-02", ""],  # year from the date
]


def snapshot():
    return (
        Contribution.objects.count(),
        LedgerTransaction.objects.count(),
        AuditEvent.objects.count(),
    )


def record(county, **kw):
    args = dict(
        county=county,
        year=Y1,
        source="central",
        amount="100",
        document_no="D-1",
        received_on=dt.date(Y1, 3, 1),
        actor=None,
    )
    return services.fund_contribution_record(**(args | kw))


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"amount": "-5"}, "amount", services.ERR_NOT_POSITIVE),
        ({"amount": "0"}, "amount", services.ERR_NOT_POSITIVE),
        ({"amount": "12.345"}, "amount", services.ERR_AMOUNT),
        ({"amount": "1,000"}, "amount", services.ERR_AMOUNT),
        ({"source": "lottery"}, "source", None),
        ({"document_no": "  "}, "document_no", services.ERR_REQUIRED.format(field="document_no")),
        ({"received_on": dt.date.today() + dt.timedelta(days=1)}, "received_on", None),
        (
            {"year": dt.date.today().year + 1},
            "year",
            services.ERR_FUTURE_YEAR.format(year=dt.date.today().year + 1),
        ),
        ({"year": 1999}, "year", services.ERR_YEAR),
        (
            {"received_on": dt.date(Y1 - 1, 12, 31)},
            "received_on",
            services.ERR_BEFORE_FUND_YEAR.format(date=f"{Y1 - 1}-12-31", year=Y1),
        ),
        (
            {"received_on": dt.date(1, 1, 1)},
            "received_on",
            services.ERR_OLD_DATE.format(date="0001-01-01"),
        ),
        (
            {"received_on": dt.date(Y1 + 1, 1, 2)},
            "received_on",
            services.ERR_AFTER_FUND_YEAR.format(date=f"{Y1 + 1}-01-02", year=Y1),
        ),
        ({"amount": "1e30"}, "amount", services.ERR_AMOUNT),
    ],
    ids=[
        "negative",
        "zero",
        "three-decimals",
        "thousands-separator",
        "unknown-source",
        "blank-document",
        "future-date",
        "future-year",
        "old-year",
        "received-before-the-fund-year",
        "received-in-year-1",
        "received-after-the-fund-year",
        "beyond-any-amount",
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(county, change, field, message):
    before = snapshot()
    with pytest.raises(FundError) as refused:
        record(county, **change)
    assert refused.value.field == field
    if message:
        assert refused.value.message == message
    assert snapshot() == before


def test_a_township_is_not_a_county_and_a_document_is_recorded_once(county, townships):
    with pytest.raises(FundError, match="not a county-level region"):
        record(townships[0])
    c = record(county, source="省级", amount="1000.10")  # the Chinese name of a source works too
    assert c.source == "provincial" and c.amount == Money("1000.10")
    with pytest.raises(FundError) as refused:
        record(county, amount="5")
    assert refused.value.message == services.ERR_DUPLICATE_DOCUMENT.format(document_no="D-1")
    assert (
        AuditEvent.objects.filter(action="funds.contribution.recorded", object_id=str(c.pk)).count()
        == 1
    )


def test_a_reversed_contribution_frees_its_document_number_for_the_corrected_one(county):
    wrong = record(county, amount="1000")
    services.fund_contribution_reverse(contribution=wrong, actor=None, reason="typed 1000 for 100")
    assert selectors.account_balances(county=county, year=Y1)["fund"] == Money(0)
    right = record(county, amount="100")
    assert selectors.account_balances(county=county, year=Y1)["fund"] == Money("100.00")
    with pytest.raises(FundError, match="already reversed"):
        services.fund_contribution_reverse(contribution=wrong, actor=None, reason="again")
    assert right.document_no == wrong.document_no


@pytest.mark.parametrize("writer", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_a_file_is_recorded_once_then_importing_it_again_changes_nothing(
    tmp_path, county, county_officer, writer
):
    path = writer(tmp_path / f"c.{'csv' if writer is write_csv else 'xlsx'}", HEADER, ROWS)
    first = contributions_import(path=path, actor=county_officer)
    assert first.ok, first.error_lines()
    assert (first.created, first.unchanged) == (3, 0)
    balances = selectors.account_balances(county=county, year=Y1)
    assert balances["fund"] == Money("2000620.75")
    assert (
        balances["source_central"],
        balances["source_provincial"],
        balances["source_donation"],
    ) == (Money("-1200000"), Money("-800000.50"), Money("-620.25"))
    donation = Contribution.objects.get(document_no="魏捐〔2018〕1号")
    assert donation.year == 2018 and donation.received_on == dt.date(2018, 4, 2)
    assert Contribution.objects.get(document_no="冀财社〔2018〕9号").note == "第一批"

    before = snapshot()
    second = contributions_import(path=path, actor=county_officer)
    assert second.ok and (second.created, second.unchanged) == (0, 3)
    assert snapshot() == before


def test_excel_date_cells_and_english_headers_are_read(tmp_path, county):
    rows = [["130434", 2018, "central", 5000, "X-1", dt.date(2018, 5, 6), ""]]
    result = contributions_import(path=write_xlsx(tmp_path / "en.xlsx", HEADER_EN, rows))
    assert result.ok, result.error_lines()
    assert Contribution.objects.get(document_no="X-1").received_on == dt.date(2018, 5, 6)


def test_every_kind_of_bad_row_is_reported_in_one_run_and_nothing_is_written(tmp_path, county):
    record(county, document_no="已登记-1", amount="300")
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    rows = ROWS + [
        ["130434", "2018", "中央", "-5", "B-1", "2018-02-10", ""],  # row 5: negative
        ["999999", "2018", "中央", "5", "B-2", "2018-02-10", ""],  # row 6: unknown county
        ["130434", "2018", "彩票", "5", "B-3", "2018-02-10", ""],  # row 7: unknown source
        ["130434", "2018", "中央", "5", "B-4", future, ""],  # row 8: future date
        [
            "130434",
            "2018",
            "中央",
            "5",
            "魏财社〔2018〕3号",
            "2018-02-10",
            "",
        ],  # row 9: duplicate in the file
        [
            "130434",
            "2018",
            "中央",
            "5.123",
            "B-5",
            "2018-13-01",
            "",
        ],  # row 10: bad amount, bad date
        [
            "130434",
            "2018",
            "中央",
            "999",
            "已登记-1",
            "2018-03-01",
            "",
        ],  # row 11: recorded with other values
        ["130434", "2018", "中央", "", "B-6", "2018-03-01", ""],  # row 12: missing amount
    ]
    path = write_csv(tmp_path / "bad.csv", HEADER, rows)
    before = snapshot()
    result = contributions_import(path=path)
    assert not result.ok
    lines = result.error_lines()
    expected = [
        f"{path}:5:金额: {importer.ERR_NEGATIVE}",
        f"{path}:6:县代码: {importer.ERR_UNKNOWN_COUNTY}",
        f"{path}:8:到账日期: {importer.ERR_FUTURE_DATE}",
        f"{path}:9:文号: {importer.ERR_DUPLICATE_DOCUMENT_IN_FILE.format(first=2)}",
        f"{path}:10:到账日期: {importer.ERR_DATE}",
        f"{path}:10:金额: {services.ERR_AMOUNT}",
        f"{path}:12:金额: {importer.ERR_REQUIRED}",
    ]
    for line in expected:
        assert line in lines, (line, lines)
    assert any(ln.startswith(f"{path}:7:资金来源: source must be one of") for ln in lines)
    assert any(
        ln.startswith(f"{path}:11:文号: document number is already recorded with other values")
        for ln in lines
    )
    assert snapshot() == before


def test_a_malformed_file_and_a_missing_column_are_reported(tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a spreadsheet")
    result = contributions_import(path=broken)
    assert not result.ok and "cannot read the file as XLSX" in result.error_lines()[0]
    result = contributions_import(
        path=write_csv(tmp_path / "cols.csv", ["县代码", "金额"], [["130434", "5"]])
    )
    assert (
        f"{tmp_path / 'cols.csv'}:1:资金来源: required column is missing (缺少必填列): 资金来源/source"
        in result.error_lines()
    )


def test_an_officer_imports_only_for_their_own_county_and_an_auditor_not_at_all(
    tmp_path, county, make_user
):
    other = Region.objects.get(code="130481")  # 武安市
    officer = make_user("county_officer", other, username="wuan-officer")
    result = contributions_import(
        path=write_csv(tmp_path / "c.csv", HEADER, ROWS[:1]), actor=officer
    )
    assert result.error_lines() == [f"{tmp_path / 'c.csv'}:2:县代码: {importer.ERR_COUNTY_SCOPE}"]
    auditor = make_user("auditor", county)
    result = contributions_import(
        path=write_csv(tmp_path / "c.csv", HEADER, ROWS[:1]), actor=auditor
    )
    assert not result.ok and "your role may not do this" in result.error_lines()[0]
    assert not Contribution.objects.exists()


def test_a_row_for_a_settled_year_is_refused(tmp_path, county):
    record(county)
    services.fund_settle_year(county=county, year=Y1, actor=None)
    result = contributions_import(path=write_csv(tmp_path / "late.csv", HEADER, ROWS[:1]))
    assert result.error_lines() == [
        f"{tmp_path / 'late.csv'}:2:年度: {services.ERR_YEAR_SETTLED.format(year=Y1)}"
    ]


def test_the_import_command(tmp_path, county, capsys):
    path = write_csv(tmp_path / "c.csv", HEADER, ROWS)
    call_command("import", "contributions", str(path))
    assert "3 recorded" in capsys.readouterr().out
    bad = write_csv(
        tmp_path / "bad.csv", HEADER, [["130434", "2018", "中央", "-1", "Z", "2018-01-01", ""]]
    )
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import", "contributions", str(bad))
    assert f"{bad}:2:金额: {importer.ERR_NEGATIVE}" in capsys.readouterr().err


def test_a_row_received_outside_the_year_it_names_is_reported_and_nothing_is_written(
    tmp_path, county
):
    rows = [
        ["130434", "2018", "中央", "100", "Y-1", "2018-12-31", ""],  # the year's last day: fine
        ["130434", "2018", "中央", "100", "Y-2", "2017-12-31", ""],
        ["130434", "2017", "中央", "100", "Y-3", "2018-01-01", ""],
    ]
    path = write_csv(tmp_path / "c.csv", HEADER, rows)
    before = snapshot()
    lines = contributions_import(path=path).error_lines()
    assert lines == [
        f"{path}:3:到账日期: " + services.ERR_BEFORE_FUND_YEAR.format(date="2017-12-31", year=2018),
        f"{path}:4:到账日期: " + services.ERR_AFTER_FUND_YEAR.format(date="2018-01-01", year=2017),
    ]
    assert snapshot() == before
