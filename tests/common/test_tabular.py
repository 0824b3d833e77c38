"""Upload limits before parsing (issue 13): a workbook is judged from its ZIP directory and
its sheets' declared dimensions, a CSV from its bytes — each refused with one message
naming the limit, fast and in bounded memory — and problem lists are capped."""

from __future__ import annotations

import time
import zipfile

import fastexcel
import pytest
import xlsxwriter

from fangpin.common import tabular
from fangpin.common.tabular import Problem, TableError, problems_to_xlsx, read_text_table


def workbook(path, rows):
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    for r, row in enumerate(rows):
        ws.write_row(r, 0, row)
    wb.close()
    return path


def with_sheet_xml(path, xml: bytes):
    """A real workbook whose first sheet's XML is replaced by ``xml``."""
    ok = workbook(path.with_name("ok.xlsx"), [["a", "b"], ["1", "2"]])
    with zipfile.ZipFile(ok) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = xml if item.filename == "xl/worksheets/sheet1.xml" else src.read(item)
            out.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


SHEET = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def refused(path, **kw) -> str:
    started = time.perf_counter()
    with pytest.raises(TableError) as err:
        read_text_table(path, max_bytes=10**9, **kw)
    assert time.perf_counter() - started < 5  # judged without parsing (generous bound)
    [problem] = err.value.problems
    return problem.message


def test_a_sheet_declaring_a_huge_range_is_refused_from_its_dimension(tmp_path):
    xml = SHEET + b'<dimension ref="A1:XFD1048576"/><sheetData></sheetData></worksheet>'
    message = refused(with_sheet_xml(tmp_path / "huge.xlsx", xml))
    assert "FANGPIN_IMPORT_MAX_CELLS" in message and "A1:XFD1048576" in message


def test_a_compression_bomb_is_refused_from_the_zip_directory(tmp_path):
    cells = b'<c r="A1"/>' * 2_000_000  # 22 MB of XML that packs a thousand-fold
    xml = SHEET + b"<sheetData><row>" + cells + b"</row></sheetData></worksheet>"
    path = with_sheet_xml(tmp_path / "bomb.xlsx", xml)
    assert path.stat().st_size < 200_000
    assert "压缩比异常" in refused(path)


def test_the_unpacked_size_limit_is_a_setting(tmp_path, settings):
    path = workbook(tmp_path / "rows.xlsx", [["c"] * 20 for _ in range(2000)])
    settings.FANGPIN_IMPORT_MAX_UNPACKED_BYTES = 100_000
    assert "FANGPIN_IMPORT_MAX_UNPACKED_BYTES" in refused(path)
    settings.FANGPIN_IMPORT_MAX_UNPACKED_BYTES = tabular.MAX_UNPACKED_BYTES
    assert read_text_table(path, max_bytes=10**9).height == 1999


def test_a_file_that_is_not_a_zip_is_refused_as_such(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b"id,name\n1,a\n")
    assert "cannot read the file as XLSX" in refused(path)


def test_a_csv_line_too_long_or_too_many_rows_is_refused_before_parsing(tmp_path):
    long_line = tmp_path / "long.csv"
    long_line.write_bytes(b"a,b\n1," + b"x" * 70_000 + b"\n")
    message = refused(long_line)
    assert "line 2" in message and "FANGPIN_IMPORT_MAX_LINE_BYTES" in message
    many = tmp_path / "many.csv"
    many.write_bytes(b"a,b\n" + b"1,2\n" * 50)
    assert "行数过多" in refused(many, max_rows=10)
    assert read_text_table(many, max_bytes=10**9, max_rows=50).height == 50


def test_the_problem_report_is_capped_and_says_how_many_more(monkeypatch):
    monkeypatch.setattr(tabular, "PROBLEMS_KEPT", 100)
    problems = [Problem(row=i + 2, column="身份证号", message="bad") for i in range(250)]
    content = problems_to_xlsx(problems, source="x.csv")
    rows = fastexcel.read_excel(content).load_sheet(0, dtypes="string").to_polars().rows()
    assert len(rows) == 101 and "150" in rows[-1][4]
    outcome = tabular.ImportOutcome(path="x.csv", problems=problems)
    lines = outcome.error_lines(limit=20)
    assert len(lines) == 21 and "230" in lines[-1]
    assert len(outcome.problems_shown) == min(250, tabular.PROBLEMS_SHOWN)
