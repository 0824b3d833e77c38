"""The one import pipeline (``common.pipeline``) with a file an app might declare: every
declared check names its row and column, a refused file writes nothing, a write that is
refused half-way leaves nothing behind, and the importer's region bounds the codes."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass

import polars as pl
import pytest

from fangpin.common import pipeline
from fangpin.common.audit import Action, audit_record
from fangpin.common.bulk import bulk_update
from fangpin.common.errors import DomainError
from fangpin.common.models import AuditEvent
from fangpin.common.pipeline import (
    CHOICE,
    DATE,
    ID_NUMBER,
    MONEY,
    YEAR,
    Access,
    Field,
    ImportSpec,
    Lookup,
    import_file,
    import_frame,
    message_expr,
)
from fangpin.common.tabular import ROW, ImportOutcome
from fangpin.regions.models import Region

ERR_KIND = "kind must be a or b"
ERR_CODE = "code must be 3 digits"
ERR_TWICE = "code repeats row {first}"
ERR_UNKNOWN = "unknown region"
ERR_OUTSIDE = "region outside yours"


@dataclass
class Outcome(ImportOutcome):
    written: int = 0

    def summary(self) -> str:
        return f"{self.written} written"


def regions(codes: list[str]) -> pl.DataFrame:
    rows = Region.objects.filter(code__in=codes).values_list("code", "path")
    return pl.DataFrame(list(rows), schema={"code": pl.String, "path": pl.String}, orient="row")


FIELDS = (
    Field("code", "编码", pattern=r"^\d{3}$", invalid=ERR_CODE, unique=ERR_TWICE),
    Field("name", "名称", max_chars=4),
    Field(
        "kind",
        "类别",
        kind=CHOICE,
        into="kind_code",
        choices={"A": "a", "乙": "b"},
        invalid=ERR_KIND,
    ),
    Field("amount", "金额", required=False, kind=MONEY, into="fen"),
    Field("on", "日期", required=False, kind=DATE, into="day"),
    Field("year", "年度", required=False, kind=YEAR, into="year_int"),
    Field("id_number", "身份证号", required=False, kind=ID_NUMBER, into="id_norm"),
    Field("region", "区划", required=False, lookup=Lookup(regions, ERR_UNKNOWN, ERR_OUTSIDE)),
)


def spec(write) -> ImportSpec:
    return ImportSpec(
        fields=FIELDS, access=lambda actor: Access(actor=actor), result=Outcome, write=write
    )


def write_rows(df: pl.DataFrame, run: pipeline.ImportRun) -> None:
    for r in df.iter_rows(named=True):  # a handful of rows: one audit row each
        audit_record(actor=None, action=Action.SCREENING_RUN, data={"fen": r["fen"]})
    run.result.written = df.height


def file(
    tmp_path, rows, header=("编码", "名称", "类别", "金额", "日期", "年度", "身份证号", "区划")
):
    path = tmp_path / "f.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def test_every_declared_check_names_its_row_and_column_and_nothing_is_written(tmp_path, county):
    future = dt.date.today() + dt.timedelta(days=400)
    rows = [
        ["001", "好", "a", "12.5", "2019/3/1", "2019", "", county.code],  # row 2: fine
        ["1", "太长的名字", "c", "-3", "2019-02-30", "1999", "130434199001011235", ""],  # 3
        ["001", "", "乙", "1.234", future.isoformat(), str(future.year), "", "999999"],  # 4
    ]
    before = AuditEvent.objects.count()
    result = import_file(spec(write_rows), path=file(tmp_path, rows))
    p = tmp_path / "f.csv"
    assert result.error_lines() == [
        f"{p}:3:名称: " + pipeline.ERR_TOO_LONG.format(n=4),
        f"{p}:3:年度: {pipeline.ERR_YEAR}",
        f"{p}:3:日期: {pipeline.ERR_DATE}",
        f"{p}:3:类别: {ERR_KIND}",
        f"{p}:3:编码: {ERR_CODE}",
        f"{p}:3:身份证号: ID number check digit is wrong: expected 4 (校验码错误)",
        f"{p}:3:金额: {pipeline.ERR_NEGATIVE}",
        f"{p}:4:区划: {ERR_UNKNOWN}",
        f"{p}:4:名称: {pipeline.ERR_REQUIRED}",
        f"{p}:4:年度: " + pipeline.ERR_FUTURE_YEAR.format(year=future.year),
        f"{p}:4:日期: {pipeline.ERR_FUTURE_DATE}",
        f"{p}:4:编码: " + ERR_TWICE.format(first=2),
        f"{p}:4:金额: {pipeline.ERR_AMOUNT}",
    ]
    assert result.problems[-1].value == "1.234"
    assert AuditEvent.objects.count() == before


def test_a_clean_file_reaches_the_write_parsed(tmp_path, county):
    seen = {}

    def write(df, run):
        seen.update(df.row(0, named=True))
        write_rows(df, run)

    rows = [["007", "好", "A", "12.5", "20190301", "2019", "", county.code]]
    result = import_file(spec(write), path=file(tmp_path, rows))
    assert result.ok and result.written == 1
    assert (seen["kind_code"], seen["fen"], seen["day"], seen["year_int"]) == (
        "a",
        1250,
        dt.date(2019, 3, 1),
        2019,
    )
    assert seen["path"] == county.path and seen[ROW] == 2


def test_a_write_refused_half_way_leaves_nothing_and_names_the_file(tmp_path, county):
    def write(df, run):
        write_rows(df, run)
        raise DomainError("the year was settled meanwhile")

    before = AuditEvent.objects.count()
    path = file(tmp_path, [["007", "好", "a", "1", "", "", "", ""]])
    result = import_file(spec(write), path=path)
    assert result.error_lines() == [f"{path}: the year was settled meanwhile"]
    assert AuditEvent.objects.count() == before


def test_codes_outside_the_importers_region_and_a_refused_importer(tmp_path, county, townships):
    rows = [["007", "好", "a", "", "", "", "", county.code]]
    inside = Access(actor=None, scope=county.path)
    assert import_file(spec(write_rows), path=file(tmp_path, rows), access=inside).ok
    narrow = Access(actor=None, scope=townships[0].path)
    assert import_file(
        spec(write_rows), path=file(tmp_path, rows), access=narrow
    ).error_lines() == [f"{tmp_path / 'f.csv'}:2:区划: {ERR_OUTSIDE}"]
    nowhere = Access(actor=None, scope=None)
    assert not import_file(spec(write_rows), path=file(tmp_path, rows), access=nowhere).ok
    refused = Access(actor=None, refusal="your role may not do this")
    result = import_file(spec(write_rows), path=tmp_path / "never-read.csv", access=refused)
    assert result.error_lines() == [f"{tmp_path / 'never-read.csv'}: your role may not do this"]


def test_rows_given_in_code_are_checked_the_same_way(county):
    rows = pl.DataFrame(
        {ROW: [2, 3], "code": ["007", "08"], "name": ["好", "好"], "kind": ["a", "乙"]}
    )
    result = import_frame(spec(write_rows), rows, source="api")
    assert result.error_lines() == [f"api:3:code: {ERR_CODE}"]


def test_a_declaration_missing_its_parsed_column_or_message_is_refused():
    with pytest.raises(ValueError, match="into="):
        Field("amount", "金额", kind=MONEY)
    with pytest.raises(ValueError, match="invalid="):
        Field("code", "编码", pattern=r"^\d+$")


def test_a_message_template_is_filled_per_row():
    df = pl.DataFrame({"n": [1, 2], "who": ["a", "b"]})
    out = df.select(message_expr("{who} has {n!r} heads", who=pl.col("who"), n=pl.col("n")))
    assert out.to_series().to_list() == ["a has 1 heads", "b has 2 heads"]


def test_bulk_update_sets_each_rows_columns_by_key(county):
    a, b, untouched = Region.objects.filter(path__startswith=county.path).order_by("code")[1:4]
    assert (
        bulk_update(
            Region,
            pl.DataFrame({"id": [b.pk, a.pk], "name": ["乙村", "甲村"], "code": [b.code, a.code]}),
        )
        == 2
    )
    assert Region.objects.get(pk=a.pk).name == "甲村" and Region.objects.get(pk=b.pk).name == "乙村"
    assert Region.objects.get(pk=untouched.pk).name == untouched.name
