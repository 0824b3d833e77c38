"""Files the fund hands out: the bank batch (报盘文件) and the settlement report (结算报告).

The bank batch has one row per payment — account, name, amount, reference — with
headers the return import also reads (``收款账号/account`` …), so a bank that
returns our file with a status column added is understood. Amounts are written as
text with two decimals: the bank reads them exactly. The settlement report writes
amounts as numbers (formatted to the fen) so an auditor can add them up.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

import xlsxwriter

from fangpin.common.exports import safe_row, write_text
from fangpin.common.money import Money
from fangpin.regions.models import Region

from . import selectors
from .models import AccountKind, BankBatch, ContributionSource, PaymentStatus, Settlement

BATCH_HEADERS = ["收款账号/account", "户名/name", "金额/amount", "参考号/reference"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class FileOut:
    content: bytes
    content_type: str
    filename: str


def _batch_rows(batch: BankBatch) -> list[list[str]]:
    attempts = batch.attempts.select_related("payment").order_by("id")
    return [[a.bank_account, a.account_name, str(a.payment.amount), a.reference] for a in attempts]


def bank_batch_file(*, batch: BankBatch, fmt: str) -> FileOut:
    """The batch as .xlsx (text cells) or .csv (UTF-8 with BOM, which Excel in China opens)."""
    rows = _batch_rows(batch)
    stem = batch.filename_stem
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(BATCH_HEADERS)
        writer.writerows(safe_row(r) for r in rows)
        return FileOut(("\ufeff" + buf.getvalue()).encode("utf-8"), CSV, f"{stem}.csv")
    if fmt != "xlsx":
        raise ValueError(f"unknown format {fmt!r}: xlsx or csv")
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = wb.add_worksheet("报盘")
    bold = wb.add_format({"bold": True})
    right = wb.add_format({"align": "right"})
    ws.write_row(0, 0, BATCH_HEADERS, bold)
    for i, (account, name, amount, reference) in enumerate(rows, start=1):
        write_text(ws, i, 0, account)
        write_text(ws, i, 1, name)
        write_text(ws, i, 2, amount, right)
        write_text(ws, i, 3, reference)
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 12)
    ws.set_column(2, 2, 14)
    ws.set_column(3, 3, 24)
    wb.close()
    return FileOut(out.getvalue(), XLSX, f"{stem}.xlsx")


# --- the settlement report ------------------------------------------------------------------


@dataclass
class SettlementReport:
    """Everything the settlement report shows (HTML and XLSX read the same object)."""

    county: Region
    year: int
    settlement: Settlement | None
    summary: selectors.FundSummary
    lines: list[tuple[str, Money]]
    sources: list[tuple[str, Money]]
    months: list[tuple[dt.date, int, Money]]
    journal: list


def settlement_report(*, county: Region, year: int) -> SettlementReport:
    summary = selectors.fund_summary(county=county, year=year)
    s = summary.settlement
    contract = summary.contract
    lines: list[tuple[str, Money]] = [
        ("Premium paid into the pool 保费", summary.premium),
        ("Relief paid to households 已付救助金", summary.relief_paid),
        ("Insurer fee 保险公司管理费", summary.fee),
        ("Surplus (+) or shortfall (−) 结余(+)/缺口(−)", s.result if s else summary.result_to_date),
    ]
    if s:
        lines += [
            (
                "Shortfall made up by the county 县财政补足",
                -s.result if s.result.fen < 0 else Money(0),
            ),
            ("Unspent fund 资金结余", s.fund_remainder),
            (f"Carried into {year + 1} 结转下年", s.carried_forward),
        ]
    if contract is None:
        lines.append(("No insurance contract 无保险合同", Money(0)))
    sources = [
        (str(ContributionSource(k.removeprefix("source_")).label), summary.balances[k])
        for k in selectors.SOURCE_KINDS
    ]
    sources.append((str(AccountKind.CARRIED_FORWARD.label), summary.brought_forward))
    return SettlementReport(
        county=county,
        year=year,
        settlement=s,
        summary=summary,
        lines=lines,
        sources=sources,
        months=selectors.relief_by_month(county=county, year=year),
        journal=list(selectors.journal(county=county, year=year)),
    )


def settlement_report_xlsx(*, report: SettlementReport) -> FileOut:
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = wb.add_format({"bold": True})
    money = wb.add_format({"num_format": "#,##0.00"})
    title = wb.add_format({"bold": True, "font_size": 14})
    s, summary, contract = report.settlement, report.summary, report.summary.contract

    ws = wb.add_worksheet("结算 Settlement")
    ws.set_column(0, 0, 44)
    ws.set_column(1, 1, 22)
    ws.write(
        0, 0, f"{report.county.name} {report.year} 防贫保险年终结算 Year-end settlement", title
    )
    row = 2
    facts = [
        ("County 县", f"{report.county.name} ({report.county.code})"),
        ("Year 年度", str(report.year)),
        ("Status 状态", "settled 已结算" if s else "open 未结算"),
    ]
    if contract:
        facts += [
            ("Insurer 承保公司", contract.insurer),
            ("Policy number 保单号", contract.policy_no),
            ("Rural population 农村人口", f"{contract.rural_population:,}"),
            ("Insured share 框定比例", f"{contract.insured_share.normalize():f}"),
            ("Insured persons 框定人数", f"{contract.insured_persons:,}"),
            ("Premium per person 人均保费", str(contract.premium_per_person)),
            ("Fee rate 管理费率", f"{contract.fee_rate.normalize():f}"),
        ]
    if s:
        facts += [
            ("Settled at 结算时间", s.settled_at.strftime("%Y-%m-%d %H:%M")),
            ("Settled by 结算人", s.settled_by.username if s.settled_by else "command line 命令行"),
        ]
    for label, value in facts:
        ws.write(row, 0, label, bold)
        write_text(ws, row, 1, value)
        row += 1
    row += 1
    for label, amount in report.lines:
        ws.write(row, 0, label, bold)
        ws.write_number(row, 1, amount.amount, money)
        row += 1
    ws.write(row, 0, "Payments 笔数", bold)
    ws.write_number(row, 1, summary.relief_count)
    row += 1
    ws.write(row, 0, "Loss ratio 赔付率", bold)
    write_text(ws, row, 1, summary.loss_ratio_percent)

    ws = wb.add_worksheet("资金来源 Sources")
    ws.set_column(0, 0, 44)
    ws.set_column(1, 1, 18)
    ws.write_row(0, 0, ["Source 来源", "Amount 金额"], bold)
    for i, (label, amount) in enumerate(report.sources, start=1):
        ws.write(i, 0, label)
        ws.write_number(i, 1, amount.amount, money)

    ws = wb.add_worksheet("救助支付 Payments")
    ws.write_row(
        0,
        0,
        ["Household 户编号", "Village 村", "Amount 金额", "Paid on 到账日期", "Decision 决定编号"],
        bold,
    )
    ws.set_column(0, 4, 18)
    paid = selectors.payments_list(
        county=report.county, year=report.year, status=PaymentStatus.SUCCEEDED
    )
    for i, p in enumerate(paid.order_by("paid_on", "id"), start=1):
        write_text(ws, i, 0, p.household.household_no)
        write_text(ws, i, 1, p.household.village.name)
        ws.write_number(i, 2, p.amount.amount, money)
        write_text(ws, i, 3, p.paid_on.isoformat() if p.paid_on else "")
        write_text(ws, i, 4, p.decision_key)

    ws = wb.add_worksheet("科目余额 Balances")
    ws.set_column(0, 0, 44)
    ws.set_column(1, 1, 18)
    ws.write_row(0, 0, ["Account 科目", "Balance 余额"], bold)
    for i, r in enumerate(summary.rows, start=1):
        ws.write(i, 0, r.label)
        ws.write_number(i, 1, r.amount.amount, money)

    ws = wb.add_worksheet("凭证 Journal")
    ws.write_row(
        0,
        0,
        [
            "#",
            "Date 日期",
            "Kind 类型",
            "Memo 摘要",
            "Account 科目",
            "Year 年度",
            "Debit 借",
            "Credit 贷",
        ],
        bold,
    )
    ws.set_column(3, 4, 36)
    row = 1
    for tx in report.journal:
        for leg in tx.legs.all():
            ws.write_number(row, 0, tx.pk)
            write_text(ws, row, 1, tx.date.isoformat())
            write_text(ws, row, 2, tx.kind)
            write_text(ws, row, 3, tx.memo)
            write_text(ws, row, 4, str(AccountKind(leg.account.kind).label))
            ws.write_number(row, 5, leg.account.year)
            col = 6 if leg.amount.fen > 0 else 7
            ws.write_number(row, col, abs(leg.amount).amount, money)
            row += 1
    wb.close()
    return FileOut(
        out.getvalue(), XLSX, f"fangpin-settlement-{report.county.code}-{report.year}.xlsx"
    )
