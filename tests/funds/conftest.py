"""Fixtures for the fund tests: households with bank accounts in the session's county,
helpers to write spreadsheets, and the bank's side of a payment run."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
import xlsxwriter

from fangpin.funds import exports, services
from fangpin.funds.importer import bank_return_import
from fangpin.registry.models import Household

Y1, Y2 = 2018, 2019  # two past years: a year can be settled once it is over


@pytest.fixture
def households(county):
    """Ten managed households of the county that have a bank account, by household number."""
    return list(
        Household.objects.filter(village__path__startswith=county.path)
        .exclude(bank_account="")
        .select_related("village")
        .order_by("household_no")[:10]
    )


def write_csv(path, header, rows, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_xlsx(path, header, rows):
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, header)
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            if isinstance(value, dt.date):
                ws.write_datetime(
                    i,
                    j,
                    dt.datetime.combine(value, dt.time()),
                    wb.add_format({"num_format": "yyyy-mm-dd"}),
                )
            elif isinstance(value, str):
                ws.write_string(i, j, value)
            else:
                ws.write(i, j, value)
    wb.close()
    return path


def read_batch_csv(content: bytes) -> list[dict]:
    text = content.decode("utf-8-sig")
    return list(csv.DictReader(text.splitlines()))


def bank_pays(tmp_path, *, county, year, actor, failures=None, paid_on=None, name="return"):
    """Export the waiting payments as a CSV batch, and import the bank's return of that same file.

    ``failures`` maps an account number to the bank's reason; every other line is paid.
    """
    failures = failures or {}
    batch = services.payment_batch_export(county=county, year=year, actor=actor)
    assert batch is not None
    rows = read_batch_csv(exports.bank_batch_file(batch=batch, fmt="csv").content)
    header = ["参考号", "状态", "失败原因", "支付日期", "收款账号", "户名", "金额"]
    lines = [
        [
            r["参考号/reference"],
            "失败" if r["收款账号/account"] in failures else "成功",
            failures.get(r["收款账号/account"], ""),
            (paid_on or dt.date(year, 6, 30)).isoformat(),
            r["收款账号/account"],
            r["户名/name"],
            r["金额/amount"],
        ]
        for r in rows
    ]
    result = bank_return_import(
        path=write_csv(tmp_path / f"{name}.csv", header, lines), actor=actor
    )
    assert result.ok, result.error_lines()
    return batch, result
