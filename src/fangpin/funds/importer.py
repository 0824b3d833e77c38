"""File imports of the fund: contributions (资金筹集) and the bank's return file (银行回盘).

The same rules as the registry import (``fangpin.registry.importer``): the whole
file is read as text (``fangpin.common.tabular``), every row checked set-based
with polars, and either every problem is returned (``PATH:ROW:COLUMN: message``,
nothing written) or the changes are written in one transaction. Importing the same
file again changes nothing: a contribution whose document number is already
recorded with the same values is left as it is; a return line whose payment
already has that outcome is left as it is.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.common.money import Money
from fangpin.common.tabular import (
    ROW,
    Column,
    ImportOutcome,
    Problem,
    TableError,
    chunks,
    collect_problems,
    fen_to_text,
    frame_of,
    problems_from_mask,
    read_import_table,
    text_to_date,
    yuan_to_fen,
)
from fangpin.regions.models import Level, Region

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
    ERR_AMOUNT,
    ERR_BEFORE_FUND_YEAR,
    ERR_FUTURE_YEAR,
    ERR_NOT_POSITIVE,
    ERR_SOURCE,
    ERR_YEAR,
    ERR_YEAR_SETTLED,
    FIRST_YEAR,
    FundError,
    ReturnLine,
)

MAX_ROWS = 200_000

ERR_ROLE = "your role may not do this (您的角色无权执行此操作): {action}"
ERR_REQUIRED = "value is required (必填)"
ERR_TOO_LONG = "value is longer than {n} characters (内容过长)"
ERR_UNKNOWN_COUNTY = "unknown county code (县代码不存在)"
ERR_COUNTY_SCOPE = "county is outside your region (县不在您的辖区内)"
ERR_NEGATIVE = "amount must not be negative (金额不能为负数)"
ERR_DATE = "date must be written YYYY-MM-DD, e.g. 2019-03-01 (日期格式错误)"
ERR_FUTURE_DATE = "date is in the future (日期晚于今天)"
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

CONTRIBUTION_COLUMNS = [
    Column("county_code", "县代码"),
    Column("year", "年度", required=False),
    Column("source", "资金来源"),
    Column("amount", "金额"),
    Column("document_no", "文号"),
    Column("received_on", "到账日期"),
    Column("note", "备注", required=False),
]

RETURN_COLUMNS = [
    Column("reference", "参考号"),
    Column("status", "状态"),
    Column("reason", "失败原因", required=False),
    Column("paid_on", "支付日期", required=False),
    Column("account", "收款账号", required=False),
    Column("name", "户名", required=False),
    Column("amount", "金额", required=False),
]

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


def _read(
    path: str | os.PathLike, columns: list[Column], result: FundImportResult
) -> tuple[pl.DataFrame, dict] | None:
    try:
        return read_import_table(
            path, columns, max_bytes=settings.FANGPIN_IMPORT_MAX_BYTES, max_rows=MAX_ROWS
        )
    except TableError as exc:
        result.problems = exc.problems
        return None


def _role_allows(actor: Any, action: str, result: FundImportResult) -> bool:
    if actor is not None and not permissions.role_allows(actor, action):
        result.problems = [Problem(0, "", ERR_ROLE.format(action=action))]
        return False
    return True


def _scope(actor: Any) -> str | None:
    """'' for everything, a path prefix, or None (nothing) — None actor is the operator's CLI."""
    return "" if actor is None else permissions.scope_path(actor)


def _date_year_message(message: str, date_column: str, year_column: str) -> pl.Expr:
    """``ERR_BEFORE_FUND_YEAR``/``ERR_AFTER_FUND_YEAR`` per row: the date as written, the year."""
    template = message.replace("{date}", "{}").replace("{year}", "{}")
    return pl.format(template, pl.col(date_column), pl.col(year_column))


# --- contributions ------------------------------------------------------------------------------


def contributions_import(
    *, path: str | os.PathLike, actor: Any = None, display_path: str | None = None
) -> FundImportResult:
    """Validate a contributions file whole; record its new rows, or report every problem."""
    result = FundImportResult(path=display_path or str(path), kind="contributions")
    if not _role_allows(actor, "funds.record_contribution", result):
        return result
    read = _read(path, CONTRIBUTION_COLUMNS, result)
    if read is None:
        return result
    df, header = read
    today = timezone.localdate()
    aliases = {**{s: s for s in ContributionSource.values}, **SOURCE_ALIASES}
    counties = frame_of(
        list(Region.objects.filter(level=Level.COUNTY).values("code", "id", "path")),
        {"code": pl.String, "id": pl.Int64, "path": pl.String},
    )
    df = (
        df.with_columns(
            pl.col("source")
            .str.to_lowercase()
            .replace_strict(aliases, default=None, return_dtype=pl.String)
            .alias("source_code"),
            yuan_to_fen("amount").alias("fen"),
            text_to_date("received_on").alias("date"),
            pl.col("year").cast(pl.Int64, strict=False).alias("year_given"),
        )
        .with_columns(
            pl.coalesce(pl.col("year_given"), pl.col("date").dt.year().cast(pl.Int64)).alias(
                "year_int"
            ),
        )
        .join(
            counties.rename({"id": "county_id", "path": "county_path"}),
            left_on="county_code",
            right_on="code",
            how="left",
        )
    )

    frames: list[pl.DataFrame] = []

    def add(
        mask: pl.Expr, fld: str, message: str | pl.Expr, frame: pl.DataFrame | None = None
    ) -> None:
        frames.append(
            problems_from_mask(
                df if frame is None else frame, mask, field=fld, header=header[fld], message=message
            )
        )

    for f in ("county_code", "source", "amount", "document_no", "received_on"):
        add(pl.col(f).is_null(), f, ERR_REQUIRED)
    add(
        pl.col("county_code").is_not_null() & pl.col("county_id").is_null(),
        "county_code",
        ERR_UNKNOWN_COUNTY,
    )
    scope = _scope(actor)
    if scope is None:
        add(pl.col("county_id").is_not_null(), "county_code", ERR_COUNTY_SCOPE)
    elif scope:
        add(
            pl.col("county_id").is_not_null() & ~pl.col("county_path").str.starts_with(scope),
            "county_code",
            ERR_COUNTY_SCOPE,
        )
    add(
        pl.col("source").is_not_null() & pl.col("source_code").is_null(),
        "source",
        ERR_SOURCE.format(
            choices=", ".join(ContributionSource.values) + ", " + ", ".join(SOURCE_ALIASES)
        ),
    )
    negative = pl.col("amount").str.starts_with("-")
    add(pl.col("amount").is_not_null() & negative, "amount", ERR_NEGATIVE)
    add(pl.col("amount").is_not_null() & ~negative & pl.col("fen").is_null(), "amount", ERR_AMOUNT)
    add(pl.col("fen") == 0, "amount", ERR_NOT_POSITIVE)
    add(pl.col("received_on").is_not_null() & pl.col("date").is_null(), "received_on", ERR_DATE)
    add(pl.col("date") > pl.lit(today), "received_on", ERR_FUTURE_DATE)
    add(
        pl.col("year").is_not_null()
        & (pl.col("year_given").is_null() | (pl.col("year_given") < FIRST_YEAR)),
        "year",
        ERR_YEAR,
    )
    add(
        pl.col("year_int") > today.year,
        "year",
        pl.format(ERR_FUTURE_YEAR.replace("{year}", "{}"), pl.col("year_int")),
    )
    # money received belongs to the fund of the year it arrives in (services.checks)
    received_year = pl.col("date").dt.year().cast(pl.Int64)
    for outside, message in (
        (received_year < pl.col("year_int"), ERR_BEFORE_FUND_YEAR),
        (received_year > pl.col("year_int"), ERR_AFTER_FUND_YEAR),
    ):
        add(outside, "received_on", _date_year_message(message, "received_on", "year_int"))
    for f, n in (("document_no", 64), ("note", 255)):
        add(pl.col(f).str.len_chars() > n, f, ERR_TOO_LONG.format(n=n))
    first_row = pl.col(ROW).min().over("county_code", "document_no")
    add(
        pl.col("document_no").is_not_null() & (pl.col(ROW) != first_row),
        "document_no",
        pl.format(ERR_DUPLICATE_DOCUMENT_IN_FILE.replace("{first}", "{}"), first_row),
    )

    # already recorded: the same values are left alone (idempotent), other values are an error
    docs = df["document_no"].drop_nulls().unique().to_list()
    schema = {
        "county_id": pl.Int64,
        "document_no": pl.String,
        "db_source": pl.String,
        "db_fen": pl.Int64,
        "db_date": pl.Date,
        "db_year": pl.Int64,
    }
    found: list[dict] = []
    for chunk in chunks(docs):
        found += [
            {
                "county_id": c,
                "document_no": d,
                "db_source": s,
                "db_fen": a.fen,
                "db_date": r,
                "db_year": y,
            }
            for c, d, s, a, r, y in Contribution.objects.filter(
                document_no__in=chunk, reversed_at__isnull=True
            ).values_list("county_id", "document_no", "source", "amount", "received_on", "year")
        ]
    df = df.join(frame_of(found, schema), on=["county_id", "document_no"], how="left")
    recorded = pl.col("db_fen").is_not_null()
    same = (
        recorded
        & pl.col("source_code").eq_missing(pl.col("db_source"))
        & pl.col("fen").eq_missing(pl.col("db_fen"))
        & pl.col("date").eq_missing(pl.col("db_date"))
        & pl.col("year_int").eq_missing(pl.col("db_year"))
    )
    add(
        recorded & ~same,
        "document_no",
        pl.format(
            ERR_DOCUMENT_DIFFERS.replace("{recorded}", "{} {} {} {}"),
            pl.col("db_source"),
            fen_to_text(pl.col("db_fen")),
            pl.col("db_date").cast(pl.String),
            pl.col("db_year"),
        ),
    )
    df = df.with_columns(same.fill_null(False).alias("same"))

    # a new row may not go into a settled year
    settled = frame_of(
        list(Settlement.objects.filter(reopened_at__isnull=True).values("county_id", "year")),
        {"county_id": pl.Int64, "year": pl.Int64},
    ).with_columns(pl.lit(True).alias("settled"))
    df = df.join(
        settled, left_on=["county_id", "year_int"], right_on=["county_id", "year"], how="left"
    )
    add(
        pl.col("settled").fill_null(False) & ~pl.col("same"),
        "year",
        pl.format(ERR_YEAR_SETTLED.replace("{year}", "{}"), pl.col("year_int")),
    )

    result.problems = collect_problems(frames)
    if result.problems:
        return result

    new = df.filter(~pl.col("same"))
    result.unchanged = df.height - new.height
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
    try:
        with transaction.atomic():
            created = services.contributions_bulk_record(
                rows=rows, actor=actor, source_path=result.path
            )
    except FundError as exc:  # a year settled or a document recorded since the checks above
        result.problems = [Problem(0, "", exc.message)]
        return result
    result.created = len(created)
    return result


# --- bank return (银行回盘) -----------------------------------------------------------------------


def bank_return_import(
    *, path: str | os.PathLike, actor: Any = None, display_path: str | None = None
) -> FundImportResult:
    """Validate the bank's return file whole; mark each payment paid (and book it) or failed."""
    result = FundImportResult(path=display_path or str(path), kind="bank_return")
    if not _role_allows(actor, "funds.pay", result):
        return result
    read = _read(path, RETURN_COLUMNS, result)
    if read is None:
        return result
    df, header = read
    return _bank_return_apply(df, header, actor, result)


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
    result = FundImportResult(path=source, kind="bank_return")
    if not _role_allows(actor, "funds.pay", result):
        return result
    df = pl.DataFrame(
        {
            ROW: list(range(2, len(returns) + 2)),
            "reference": [r.reference for r in returns],
            "status": ["ok" if r.ok else "failed" for r in returns],
            "reason": [r.reason or None for r in returns],
            "paid_on": [r.paid_on.isoformat() if r.paid_on else None for r in returns],
            "account": [None] * len(returns),
            "name": [None] * len(returns),
            "amount": [None] * len(returns),
        },
        schema={ROW: pl.Int64, **{c.field: pl.String for c in RETURN_COLUMNS}},
    )
    header = {c.field: c.field for c in RETURN_COLUMNS}
    return _bank_return_apply(df, header, actor, result)


def _bank_return_apply(
    df: pl.DataFrame, header: dict, actor: Any, result: FundImportResult
) -> FundImportResult:
    today = timezone.localdate()
    df = df.with_columns(
        pl.col("status")
        .str.to_lowercase()
        .replace_strict(STATUS_ALIASES, default=None, return_dtype=pl.Boolean)
        .alias("ok"),
        text_to_date("paid_on").alias("date"),
        yuan_to_fen("amount").alias("fen"),
    )
    refs = df["reference"].drop_nulls().unique().to_list()
    schema = {
        "reference": pl.String,
        "attempt_id": pl.Int64,
        "attempt_status": pl.String,
        "db_fen": pl.Int64,
        "db_account": pl.String,
        "path": pl.String,
        "county_id": pl.Int64,
        "year": pl.Int64,
    }
    found: list[dict] = []
    for chunk in chunks(refs):
        found += [
            {
                "reference": ref,
                "attempt_id": pk,
                "attempt_status": st,
                "db_fen": amount.fen,
                "db_account": acct,
                "path": path,
                "county_id": cid,
                "year": year,
            }
            for ref, pk, st, amount, acct, path, cid, year in PaymentAttempt.objects.filter(
                reference__in=chunk
            ).values_list(
                "reference",
                "id",
                "status",
                "payment__amount",
                "bank_account",
                "payment__household__village__path",
                "payment__county_id",
                "payment__year",
            )
        ]
    settled = frame_of(
        list(Settlement.objects.filter(reopened_at__isnull=True).values("county_id", "year")),
        {"county_id": pl.Int64, "year": pl.Int64},
    ).with_columns(pl.lit(True).alias("settled"))
    df = df.join(frame_of(found, schema), on="reference", how="left").join(
        settled, on=["county_id", "year"], how="left"
    )
    target = (
        pl.when(pl.col("ok"))
        .then(pl.lit(PaymentStatus.SUCCEEDED.value))
        .otherwise(pl.lit(PaymentStatus.FAILED.value))
    )
    known = pl.col("attempt_id").is_not_null()
    returned = pl.col("attempt_status").is_in(
        [PaymentStatus.SUCCEEDED.value, PaymentStatus.FAILED.value]
    )
    same = known & returned & pl.col("ok").is_not_null() & (pl.col("attempt_status") == target)
    df = df.with_columns(same.fill_null(False).alias("same"))

    frames: list[pl.DataFrame] = []

    def add(mask: pl.Expr, fld: str, message: str | pl.Expr) -> None:
        frames.append(problems_from_mask(df, mask, field=fld, header=header[fld], message=message))

    for f in ("reference", "status"):
        add(pl.col(f).is_null(), f, ERR_REQUIRED)
    add(pl.col("status").is_not_null() & pl.col("ok").is_null(), "status", ERR_STATUS)
    add((pl.col("ok") == False) & pl.col("reason").is_null(), "reason", ERR_REASON_FOR_FAILED)  # noqa: E712
    add(pl.col("reason").str.len_chars() > 255, "reason", ERR_TOO_LONG.format(n=255))
    first_row = pl.col(ROW).min().over("reference")
    add(
        pl.col("reference").is_not_null() & (pl.col(ROW) != first_row),
        "reference",
        pl.format(ERR_DUPLICATE_REFERENCE.replace("{first}", "{}"), first_row),
    )
    add(pl.col("reference").is_not_null() & ~known, "reference", ERR_UNKNOWN_REFERENCE)
    scope = _scope(actor)
    if scope is None:
        add(known, "reference", ERR_REFERENCE_SCOPE)
    elif scope:
        add(known & ~pl.col("path").str.starts_with(scope), "reference", ERR_REFERENCE_SCOPE)
    add(
        known & (pl.col("attempt_status") == PaymentStatus.REQUESTED.value),
        "reference",
        ERR_NOT_EXPORTED,
    )
    add(
        known & returned & pl.col("ok").is_not_null() & ~pl.col("same"),
        "status",
        pl.format(ERR_ALREADY_RETURNED.replace("{status}", "{}"), pl.col("attempt_status")),
    )
    add(pl.col("paid_on").is_not_null() & pl.col("date").is_null(), "paid_on", ERR_DATE)
    add(pl.col("date") > pl.lit(today), "paid_on", ERR_FUTURE_DATE)
    # the bank pays a year's relief within the year or after it, never before (services.ledger)
    add(
        known & (pl.col("date").dt.year().cast(pl.Int64) < pl.col("year")),
        "paid_on",
        _date_year_message(ERR_BEFORE_FUND_YEAR, "paid_on", "year"),
    )
    add(
        pl.col("amount").is_not_null() & known & ~pl.col("fen").eq_missing(pl.col("db_fen")),
        "amount",
        pl.format(ERR_AMOUNT_MISMATCH.replace("{amount}", "{}"), fen_to_text(pl.col("db_fen"))),
    )
    add(
        pl.col("account").is_not_null() & known & (pl.col("account") != pl.col("db_account")),
        "account",
        ERR_ACCOUNT_MISMATCH,
    )
    add(
        known & pl.col("settled").fill_null(False) & ~pl.col("same"),
        "reference",
        pl.format(ERR_YEAR_SETTLED.replace("{year}", "{}"), pl.col("year")),
    )
    result.problems = collect_problems(frames)
    if result.problems:
        return result

    todo = df.filter(~pl.col("same"))
    result.unchanged = df.height - todo.height
    lines = [
        ReturnLine(
            attempt_id=r["attempt_id"],
            ok=r["ok"],
            reason=r["reason"] or "",
            paid_on=r["date"] or today,
        )
        for r in todo.sort(ROW).iter_rows(named=True)
    ]
    try:
        with transaction.atomic():
            result.succeeded, result.failed = services.bank_returns_write(
                lines=lines, actor=actor, source_path=result.path
            )
    except FundError as exc:  # a year settled since the checks above
        result.problems = [Problem(0, "", exc.message)]
    return result
