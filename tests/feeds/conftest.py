"""Feed test helpers: a lake under a temporary directory, CSV files from rows."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fangpin.common.idnumber import check_char


def valid_id(first17: str) -> str:
    return first17 + check_char(first17)


ALICE = valid_id("13043419800101001")
BOB = valid_id("13043419850202002")
CAROL = valid_id("13043420010303003")


@pytest.fixture
def lake(settings, tmp_path):
    settings.LAKE_DIR = tmp_path / "lake"
    return settings.LAKE_DIR


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def medical_row(**change) -> dict:
    row = {
        "结算单号": "S0001",
        "身份证号": ALICE,
        "医疗机构": "魏县人民医院",
        "入院日期": "2019-03-01",
        "出院日期": "2019-03-10",
        "总费用": "50000.00",
        "基本医保报销": "20000",
        "大病保险报销": "5000.5",
        "医疗救助": "1000",
        "个人自付": "23999.50",
    }
    row.update(change)
    return row
