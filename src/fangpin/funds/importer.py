"""File imports of the fund: contributions (资金筹集) and the bank's return file (银行回盘).

Both run through the one import pipeline (``fangpin.common.pipeline``): the whole file is
read as text, every row checked set-based with polars, and either every problem is
returned (``PATH:ROW:COLUMN: message``, nothing written) or the changes are written in one
transaction by the fund's services (``services.contributions_bulk_record``,
``services.bank_returns_write``). This module declares the two files' columns, the fund's
own rules and the writes. Importing the same file again changes nothing: a contribution
whose document number is already recorded with the same values is left as it is; a return
line whose payment already has that outcome is left as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import polars as pl

from fangpin.accounts import permissions
from fangpin.common.bulk import filter_in
from fangpin.common.fields import fen_of
from fangpin.common.money import Money
from fangpin.common.pipeline import (  # noqa: F401 (the messages callers and tests name here)
    CHOICE,
    DATE,
    ERR_DATE,
    ERR_FUTURE_DATE,
    ERR_NEGATIVE,
    ERR_REQUIRED,
    ERR_TOO_LONG,
    MONEY,
    YEAR,
    Field,
    ImportRun,
    ImportSpec,
    Lookup,
    import_file,
    import_frame,
    message_expr,
)
from fangpin.common.tabular import ROW, ImportOutcome, fen_to_text, frame_of
from fangpin.regions.models import Level, Region
from fangpin.regions.selectors import region_lookup

from . import services
from .models import (
    SOURCE_ALIASES,
    Contribution,
    ContributionSource,
    PaymentAttempt,
    PaymentStatus,
    Settlement,
)
from .services import (
    ERR_AFTER_FUND_YEAR,
    ERR_BEFORE_FUND_YEAR,
    ERR_NOT_POSITIVE,
    ERR_SOURCE,
    ERR_YEAR_SETTLED,
    ReturnLine,
)

MAX_ROWS = 200_000

ERR_UNKNOWN_COUNTY = "unknown county code (县代码不存在)"
ERR_COUNTY_SCOPE = "county is outside your region (县不在您的辖区内)"
ERR_DUPLICATE_DOCUMENT_IN_FILE = (
    "document number appears more than once in the file (文号重复), first on row {first}"
)
ERR_DOCUMENT_DIFFERS = (
    "document number is already recorded with other values (文号已登记且内容不同): {recorded}"
)
ERR_STATUS = "status must be ok or failed (成功/失败) (状态无效)"
ERR_REASON_FOR_FAILED = "a failed payment needs the bank's reason (支付失败须填写原因)"
ERR_DUPLICATE_REFERENCE = (
    "reference appears more than once in the file (参考号重复), first on row {first}"
)
ERR_UNKNOWN_REFERENCE = "unknown payment reference (参考号不存在)"
ERR_REFERENCE_SCOPE = "payment is outside your region (款项不在您的辖区内)"
ERR_NOT_EXPORTED = "this payment was never sent to the bank (该笔款项尚未报盘)"
ERR_ALREADY_RETURNED = "the bank already returned this payment as {status} (该笔款项已回盘)"
ERR_AMOUNT_MISMATCH = "amount differs from the payment's {amount} (金额与报盘不符)"
ERR_ACCOUNT_MISMATCH = "account differs from the one the payment was sent to (账号与报盘不符)"

STATUS_ALIASES = {
    "ok": True,
    "success": True,
    "succeeded": True,
    "paid": True,
    "成功": True,
    "已到账": True,
    "支付成功": True,
    "failed": False,
    "fail": False,
    "failure": False,
    "失败": False,
    "退回": False,
    "支付失败": False,
}
RETURNED = [PaymentStatus.SUCCEEDED.value, PaymentStatus.FAILED.value]


@dataclass
class FundImportResult(ImportOutcome):
    kind: str = ""
    created: int = 0
    unchanged: int = 0
    succeeded: int = 0
    failed: int = 0

    def summary(self) -> str:
        if self.kind == "contributions":
            return f"contributions 资金筹集: {self.created} recorded 新增, {self.unchanged} unchanged 未变"
        return (
            f"bank return 银行回盘: {self.succeeded} paid 成功, {self.failed} failed 失败, "
            f"{self.unchanged} unchanged 未变"
        )


def _settled(df: pl.DataFrame, year: str) -> pl.DataFrame:
    """``df`` with ``settled``: whether its county's fund ``year`` is settled (not reopened)."""
    settled = frame_of(
        list(Settlement.objects.filter(reopened_at__isnull=True).values_list("county_id", "year")),
        {"county_id": pl.Int64, "year": pl.Int64},
    ).with_columns(pl.lit(True).alias("settled"))
    return df.join(
        settled, left_on=["county_id", year], right_on=["county_id", "year"], how="left"
    ).with_columns(pl.col("settled").fill_null(False))


def _outside_year(message: str, date: str, year: str) -> pl.Expr:
    """``ERR_BEFORE_FUND_YEAR``/``ERR_AFTER_FUND_YEAR`` per row: the date as written, the year."""
    return message_expr(message, date=pl.col(date), year=pl.col(year))


# --- contributions ------------------------------------------------------------------------------


CONTRIBUTION_COLUMNS = (
    Field(
        "county_code",
        "县代码",
        lookup=region_lookup(
            level=Level.COUNTY,
            prefix="county",
            unknown=ERR_UNKNOWN_COUNTY,
            outside=ERR_COUNTY_SCOPE,
        ),
    ),
    Field("year", "年度", required=False, kind=YEAR, into="year_given"),
    Field(
        "source",
        "资金来源",
        kind=CHOICE,
        into="source_code",
        choices={**{s: s for s in ContributionSource.values}, **SOURCE_ALIASES},
        invalid=ERR_SOURCE.format(
            choices=", ".join(ContributionSource.values) + ", " + ", ".join(SOURCE_ALIASES)
        ),
    ),
    Field("amount", "金额", kind=MONEY, into="fen"),
    Field(
        "document_no",
        "文号",
        max_chars=64,
        unique=ERR_DUPLICATE_DOCUMENT_IN_FILE,
        unique_with=("county_code",),
    ),
    Field("received_on", "到账日期", kind=DATE, into="date"),
    Field("note", "备注", required=False, max_chars=255),
)


def _contributions_check(df: pl.DataFrame, run: ImportRun) -> pl.DataFrame:
    """The fund year (given, or the year the money arrived) holds the date received and is
    not settled; a document already recorded must carry the same values (then it is left)."""
    df = df.with_columns(
        pl.coalesce("year_given", pl.col("date").dt.year().cast(pl.Int64)).alias("year_int")
    )
    run.add(df, pl.col("fen") == 0, "amount", ERR_NOT_POSITIVE)
    # money received belongs to the fund of the year it arrives in (services.checks)
    received_year = pl.col("date").dt.year().cast(pl.Int64)
    for outside, message in (
        (received_year < pl.col("year_int"), ERR_BEFORE_FUND_YEAR),
        (received_year > pl.col("year_int"), ERR_AFTER_FUND_YEAR),
    ):
        run.add(df, outside, "received_on", _outside_year(message, "received_on", "year_int"))

    # already recorded: the same values are left alone (idempotent), other values are an error
    recorded = frame_of(
        list(
            filter_in(
                Contribution.objects.filter(reversed_at__isnull=True),
                "document_no",
                df["document_no"].drop_nulls().unique().to_list(),
            ).values_list(
                "county_id", "document_no", "source", fen_of("amount"), "received_on", "year"
            )
        ),
        {
            "county_id": pl.Int64,
            "document_no": pl.String,
            "db_source": pl.String,
            "db_fen": pl.Int64,
            "db_date": pl.Date,
            "db_year": pl.Int64,
        },
    )
    df = df.join(recorded, on=["county_id", "document_no"], how="left")
    known = pl.col("db_fen").is_not_null()
    same = (
        known
        & pl.col("source_code").eq_missing(pl.col("db_source"))
        & pl.col("fen").eq_missing(pl.col("db_fen"))
        & pl.col("date").eq_missing(pl.col("db_date"))
        & pl.col("year_int").eq_missing(pl.col("db_year"))
    )
    run.add(
        df,
        known & ~same,
        "document_no",
        message_expr(
            ERR_DOCUMENT_DIFFERS.replace("{recorded}", "{source} {fen} {date} {year}"),
            source=pl.col("db_source"),
            fen=fen_to_text(pl.col("db_fen")),
            date=pl.col("db_date").cast(pl.String),
            year=pl.col("db_year"),
        ),
    )
    df = _settled(df.with_columns(same.fill_null(False).alias("same")), "year_int")
    # a new row may not go into a settled year
    run.add(
        df,
        pl.col("settled") & ~pl.col("same"),
        "year",
        message_expr(ERR_YEAR_SETTLED, year=pl.col("year_int")),
    )
    return df


def _contributions_write(df: pl.DataFrame, run: ImportRun) -> None:
    new = df.filter(~pl.col("same"))
    run.result.unchanged = df.height - new.height
    by_id = {c.pk: c for c in Region.objects.filter(pk__in=new["county_id"].unique().to_list())}
    rows = [
        Contribution(
            county=by_id[r["county_id"]],
            year=r["year_int"],
            source=r["source_code"],
            amount=Money.from_fen(r["fen"]),
            document_no=r["document_no"],
            received_on=r["date"],
            note=r["note"] or "",
        )
        for r in new.sort(ROW).iter_rows(named=True)
    ]
    created = services.contributions_bulk_record(rows=rows, actor=run.actor, source_path=run.path)
    run.result.created = len(created)


CONTRIBUTIONS = ImportSpec(
    fields=CONTRIBUTION_COLUMNS,
    access=partial(permissions.import_access, action="funds.record_contribution"),
    result=partial(FundImportResult, kind="contributions"),
    check=_contributions_check,
    write=_contributions_write,
    max_rows=MAX_ROWS,
    noun="contributions",
)
# ``contributions_import(path=, actor=None, display_path=None)``: record a contributions file
contributions_import = CONTRIBUTIONS.run


# --- bank return (银行回盘) -----------------------------------------------------------------------


def _attempts(references: list[str]) -> pl.DataFrame:
    """The payment attempts the return names, with what the bank was sent."""
    rows = filter_in(PaymentAttempt.objects, "reference", references).values_list(
        "reference",
        "id",
        "status",
        fen_of("payment__amount"),
        "bank_account",
        "payment__household__village__path",
        "payment__county_id",
        "payment__year",
    )
    return frame_of(
        list(rows),
        {
            "code": pl.String,
            "attempt_id": pl.Int64,
            "attempt_status": pl.String,
            "db_fen": pl.Int64,
            "db_account": pl.String,
            "path": pl.String,
            "county_id": pl.Int64,
            "year": pl.Int64,
        },
    )


RETURN_COLUMNS = (
    Field(
        "reference",
        "参考号",
        unique=ERR_DUPLICATE_REFERENCE,
        lookup=Lookup(_attempts, ERR_UNKNOWN_REFERENCE, ERR_REFERENCE_SCOPE),
    ),
    Field("status", "状态", kind=CHOICE, into="ok", choices=STATUS_ALIASES, invalid=ERR_STATUS),
    Field("reason", "失败原因", required=False, max_chars=255),
    Field("paid_on", "支付日期", required=False, kind=DATE, into="date"),
    Field("account", "收款账号", required=False),
    Field("name", "户名", required=False),
    Field("amount", "金额", required=False, kind=MONEY, into="fen"),
)


@dataclass(frozen=True)
class BankReturn:
    """A return line given in code (the demo, tests, a bank interface)."""

    reference: str
    ok: bool
    reason: str = ""
    paid_on: dt.date | None = None


def bank_returns_record(
    *, returns: Sequence[BankReturn], actor: Any = None, source: str = "api"
) -> FundImportResult:
    """The bank-return import for lines given in code: the same checks, the same write."""
    rows = pl.DataFrame(
        {
            ROW: list(range(2, len(returns) + 2)),
            "reference": [r.reference for r in returns],
            "status": ["ok" if r.ok else "failed" for r in returns],
            "reason": [r.reason or None for r in returns],
            "paid_on": [r.paid_on.isoformat() if r.paid_on else None for r in returns],
        },
        schema={
            ROW: pl.Int64,
            **dict.fromkeys(["reference", "status", "reason", "paid_on"], pl.String),
        },
    )
    return BANK_RETURN.run_rows(rows, source=source, actor=actor)


def _bank_return_check(df: pl.DataFrame, run: ImportRun) -> pl.DataFrame:
    """A line returns a payment sent to the bank and not yet returned otherwise, with its
    amount and account, paid within its fund year or after, the year not settled."""
    known = pl.col("attempt_id").is_not_null()
    target = (
        pl.when(pl.col("ok"))
        .then(pl.lit(PaymentStatus.SUCCEEDED.value))
        .otherwise(pl.lit(PaymentStatus.FAILED.value))
    )
    returned = pl.col("attempt_status").is_in(RETURNED)
    same = known & returned & pl.col("ok").is_not_null() & (pl.col("attempt_status") == target)
    df = _settled(df.with_columns(same.fill_null(False).alias("same")), "year")

    def add(mask: pl.Expr, fld: str, message: str | pl.Expr) -> None:
        run.add(df, mask, fld, message)

    add((pl.col("ok") == False) & pl.col("reason").is_null(), "reason", ERR_REASON_FOR_FAILED)  # noqa: E712
    add(
        known & (pl.col("attempt_status") == PaymentStatus.REQUESTED.value),
        "reference",
        ERR_NOT_EXPORTED,
    )
    add(
        known & returned & pl.col("ok").is_not_null() & ~pl.col("same"),
        "status",
        message_expr(ERR_ALREADY_RETURNED, status=pl.col("attempt_status")),
    )
    # the bank pays a year's relief within the year or after it, never before (services.ledger)
    add(
        known & (pl.col("date").dt.year().cast(pl.Int64) < pl.col("year")),
        "paid_on",
        _outside_year(ERR_BEFORE_FUND_YEAR, "paid_on", "year"),
    )
    add(
        pl.col("amount").is_not_null() & known & ~pl.col("fen").eq_missing(pl.col("db_fen")),
        "amount",
        message_expr(ERR_AMOUNT_MISMATCH, amount=fen_to_text(pl.col("db_fen"))),
    )
    add(
        pl.col("account").is_not_null() & known & (pl.col("account") != pl.col("db_account")),
        "account",
        ERR_ACCOUNT_MISMATCH,
    )
    add(
        known & pl.col("settled") & ~pl.col("same"),
        "reference",
        message_expr(ERR_YEAR_SETTLED, year=pl.col("year")),
    )
    return df


def _bank_return_write(df: pl.DataFrame, run: ImportRun) -> None:
    todo = df.filter(~pl.col("same"))
    run.result.unchanged = df.height - todo.height
    lines = [
        ReturnLine(
            attempt_id=r["attempt_id"],
            ok=r["ok"],
            reason=r["reason"] or "",
            paid_on=r["date"] or run.today,
        )
        for r in todo.sort(ROW).iter_rows(named=True)
    ]
    run.result.succeeded, run.result.failed = services.bank_returns_write(
        lines=lines, actor=run.actor, source_path=run.path
    )


BANK_RETURN = ImportSpec(
    fields=RETURN_COLUMNS,
    access=partial(permissions.import_access, action="funds.pay"),
    result=partial(FundImportResult, kind="bank_return"),
    check=_bank_return_check,
    write=_bank_return_write,
    max_rows=MAX_ROWS,
    noun="return lines",
)
# ``bank_return_import(path=, actor=None, display_path=None)``: mark each payment the bank's
# return names paid (and book it) or failed
bank_return_import = BANK_RETURN.run
