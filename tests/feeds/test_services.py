"""Feed import into the lake: one immutable batch, a manifest row, refusal, idempotence, atomicity."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fangpin.feeds import services
from fangpin.feeds.lake import lake_files
from fangpin.feeds.models import BatchStatus, FeedBatch
from fangpin.feeds.services import FeedError, feed_import

from .conftest import ALICE, BOB, medical_row, write_csv

pytestmark = pytest.mark.django_db


def medical_file(tmp_path: Path, rows: int = 3, bad: int = 0, name="medical.csv") -> Path:
    data = [
        medical_row(结算单号=f"S{i:04d}", 身份证号=ALICE if i % 2 else BOB) for i in range(rows)
    ]
    for i in range(bad):
        data[i]["总费用"] = "-1"
    return write_csv(tmp_path / name, data)


def test_valid_rows_become_one_parquet_batch_with_a_manifest_row(lake, tmp_path):
    result = feed_import(kind="medical", path=medical_file(tmp_path))
    batch = result.batch
    assert result.ok and not result.duplicate
    assert (batch.status, batch.rows_total, batch.rows_accepted, batch.rows_rejected) == (
        BatchStatus.ACCEPTED,
        3,
        3,
        0,
    )
    assert batch.department == "医保" and batch.years == [2019] and len(batch.checksum) == 64
    [path] = lake_files("medical")
    assert path.parent.name == "year=2019" and path.parent.parent == lake / "medical"
    frame = pl.read_parquet(path)
    assert frame["self_paid"].dtype == pl.Int64 and frame["self_paid"].to_list() == [2_399_950] * 3
    assert not list(lake.rglob(".*.tmp"))


def test_the_same_file_twice_is_a_no_op(lake, tmp_path):
    path = medical_file(tmp_path)
    first = feed_import(kind="medical", path=path)
    second = feed_import(kind="medical", path=path)
    assert second.duplicate and second.batch.pk == first.batch.pk
    assert FeedBatch.objects.count() == 1 and len(lake_files("medical")) == 1


def test_a_few_rejected_rows_go_to_the_report_and_the_rest_is_accepted(lake, tmp_path):
    result = feed_import(
        kind="medical",
        path=medical_file(tmp_path, rows=200, bad=2),
        max_rejected_share=Decimal("0.01"),
    )
    assert result.ok and result.batch.rows_accepted == 198 and result.batch.rows_rejected == 2
    report = pl.read_excel(bytes(result.batch.report_xlsx))
    assert report.height == 2 and "金额不能为负数" in report[:, 4].to_list()[0]


def test_more_rejected_rows_than_the_threshold_refuse_the_whole_batch(lake, tmp_path):
    result = feed_import(kind="medical", path=medical_file(tmp_path, rows=200, bad=3))
    assert not result.ok and result.batch.status == BatchStatus.REFUSED
    assert "3 of 200 rows rejected" in result.batch.refusal
    assert lake_files("medical") == [] and result.batch.report_xlsx


def test_an_unreadable_file_is_refused_with_its_problems(lake, tmp_path):
    path = write_csv(tmp_path / "m.csv", [{"foo": "1"}])
    result = feed_import(kind="medical", path=path)
    assert not result.ok and any("required column is missing" in p.message for p in result.problems)


def test_an_unknown_kind_is_an_error(lake, tmp_path):
    with pytest.raises(FeedError, match="unknown feed 'weather'"):
        feed_import(kind="weather", path=medical_file(tmp_path))


def test_a_failure_mid_import_leaves_no_batch_and_no_manifest_row(lake, tmp_path, monkeypatch):
    rows = [medical_row(结算单号="S1"), medical_row(结算单号="S2", 出院日期="2020-01-02")]
    rows[1]["入院日期"] = "2019-12-30"
    path = write_csv(tmp_path / "two-years.csv", rows)
    real_rename = services._rename
    calls = []

    def failing_rename(temporary, final):
        calls.append(final)
        if len(calls) == 2:
            raise OSError("disk full")
        real_rename(temporary, final)

    monkeypatch.setattr(services, "_rename", failing_rename)
    with pytest.raises(OSError, match="disk full"):
        feed_import(kind="medical", path=path)
    assert FeedBatch.objects.count() == 0
    assert [p for p in lake.rglob("*") if p.is_file()] == []
    monkeypatch.setattr(services, "_rename", real_rename)
    result = feed_import(kind="medical", path=path)
    assert result.ok and result.batch.years == [2019, 2020] and len(lake_files("medical")) == 2


def test_a_parquet_file_is_imported_like_a_spreadsheet(lake, tmp_path):
    frame = pl.DataFrame([medical_row(结算单号=f"P{i}") for i in range(2)])
    path = tmp_path / "m.parquet"
    frame.write_parquet(path)
    assert feed_import(kind="medical", path=path).batch.rows_accepted == 2


def test_the_command_imports_a_feed_and_refuses_a_bad_one(lake, tmp_path, capsys):
    call_command("import", "feed", "medical", str(medical_file(tmp_path)))
    assert "accepted" in capsys.readouterr().out
    bad = medical_file(tmp_path, rows=10, bad=5, name="bad.csv")
    report = tmp_path / "report.xlsx"
    with pytest.raises(CommandError, match="refused"):
        call_command("import", "feed", "medical", str(bad), "--report", str(report))
    assert report.stat().st_size > 0
    err = capsys.readouterr().err
    assert "bad.csv:2:总费用: amount must not be negative" in err
