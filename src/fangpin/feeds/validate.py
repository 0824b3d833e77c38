"""Validating a feed file against its schema, set-based with polars.

``feed_read(path, schema)`` reads an .xlsx, .csv or .parquet file as text
(``fangpin.common.tabular``; a Parquet file is cast to text the same way), maps
Chinese or English headers to field names and returns the rows with ``__row``.

``feed_check(df, header, schema)`` runs every check as a filter over the whole
frame (no loop over rows) and returns ``(typed, problems)``: the rows that
passed, converted to their types (money as integer fen, dates as dates,
booleans, choice codes), plus a ``year`` column; and a problems frame (row,
column, value, message) for the rows that did not. A row with any problem is
rejected whole.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl

from fangpin.common.idnumber import id_number_problem_expr, id_number_valid_expr
from fangpin.common.tabular import (
    PROBLEM_SCHEMA,
    ROW,
    Problem,
    TableError,
    map_columns,
    problems_from_mask,
    read_text_table,
    text_to_date,
    yuan_to_fen,
)

from . import schemas as s

FIRST_YEAR = 2000
MAX_FEN = 10**15  # 10 trillion yuan: anything above is a typo

ERR_REQUIRED = "value is required (必填)"
ERR_TOO_LONG = "value is longer than {n} characters (内容过长)"
ERR_CODE = "must be letters, digits or - (编码格式错误)"
ERR_DATE = "date must be YYYY-MM-DD, e.g. 2019-03-01 (日期格式错误)"
ERR_FUTURE_DATE = "date is in the future (日期晚于今天)"
ERR_OLD_DATE = "date is before 2000 (日期早于2000年)"
ERR_YEAR = "year must be a whole number from 2000 (年度无效)"
ERR_FUTURE_YEAR = "year is in the future (年度晚于今年)"
ERR_AMOUNT = "amount must be yuan with at most two decimals, e.g. 12345.60 (金额格式错误)"
ERR_NEGATIVE = "amount must not be negative (金额不能为负数)"
ERR_BOOL = "must be 是/否 (yes/no) (是否填写错误)"
ERR_CHOICE = "must be one of: {choices} (取值无效)"
ERR_DUPLICATE = "duplicate of row {first}: the same {key} appears twice (重复记录)"
ERR_SELF_PAID = (
    "self-paid must equal total cost minus the three reimbursements ({expected}) "
    "within one fen (个人自付应等于总费用减去报销)"
)
ERR_REIMBURSED_ABOVE_TOTAL = "reimbursements exceed the total cost (报销金额超过总费用)"
ERR_DATE_ORDER = "admitted after discharged (入院日期晚于出院日期)"
ERR_COMPENSATION_ABOVE_LOSS = "insurance and assistance exceed the loss (赔付与救助超过损失金额)"
ERR_PARQUET = "cannot read the file as Parquet: {detail} (文件无法读取)"


def _table_columns(schema: s.FeedSchema):
    from fangpin.common.tabular import Column

    return [Column(c.field, c.zh, c.required) for c in schema.columns]


def feed_read(
    path: str | os.PathLike, schema: s.FeedSchema, *, max_bytes: int
) -> tuple[pl.DataFrame, dict[str, str]]:
    """The file as text with ``__row``, headers mapped; raises ``TableError``."""
    p = Path(path)
    if p.suffix.lower() == ".parquet":
        if not p.is_file():
            raise TableError([Problem(0, "", "no such file (文件不存在)")])
        try:
            raw = pl.read_parquet(p)
        except Exception as exc:  # pyarrow and polars raise their own hierarchies
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "unreadable"
            raise TableError([Problem(0, "", ERR_PARQUET.format(detail=detail))]) from None
        raw = raw.with_columns(pl.all().cast(pl.String).str.strip_chars())
        raw = raw.with_columns(
            [pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in raw.columns]
        ).with_row_index(ROW, offset=2)
        raw = raw.with_columns(pl.col(ROW).cast(pl.Int64))
        if raw.height == 0:
            raise TableError([Problem(0, "", "the file holds no data rows (文件没有数据行)")])
    else:
        raw = read_text_table(p, max_bytes=max_bytes)
    df, header, problems = map_columns(raw, _table_columns(schema))
    if problems:
        raise TableError(problems)
    return df, header


def feed_check(
    df: pl.DataFrame, header: dict[str, str], schema: s.FeedSchema, *, today: dt.date | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Check every row set-based; return (valid rows typed, problems frame)."""
    today = today or dt.date.today()
    typed: list[pl.Expr] = []
    for c in schema.columns:
        if c.type == s.MONEY:
            typed.append(yuan_to_fen(c.field).alias(f"__t_{c.field}"))
        elif c.type == s.DATE:
            typed.append(text_to_date(c.field).alias(f"__t_{c.field}"))
        elif c.type == s.YEAR:
            typed.append(pl.col(c.field).cast(pl.Int64, strict=False).alias(f"__t_{c.field}"))
        elif c.type in (s.BOOL, s.CHOICE):
            lookup = {k.lower(): v for k, v in c.choices.items()}
            typed.append(
                pl.col(c.field)
                .str.to_lowercase()
                .replace_strict(lookup, default=None, return_dtype=pl.String)
                .alias(f"__t_{c.field}")
            )
        elif c.type == s.ID_NUMBER:
            typed.append(pl.col(c.field).str.to_uppercase().alias(f"__t_{c.field}"))
        else:
            typed.append(pl.col(c.field).alias(f"__t_{c.field}"))
    df = df.with_columns(typed)

    checks: list[tuple[pl.Expr, str, str | pl.Expr]] = []

    def add(mask: pl.Expr, fld: str, message: str | pl.Expr) -> None:
        checks.append((mask, fld, message))

    for c in schema.columns:
        v, t = pl.col(c.field), pl.col(f"__t_{c.field}")
        present = v.is_not_null()
        if c.required:
            add(v.is_null(), c.field, ERR_REQUIRED)
        if c.type == s.ID_NUMBER:
            problem = id_number_problem_expr(c.field, today=today)
            add(present & ~id_number_valid_expr(c.field, today=today), c.field, problem)
        elif c.type in (s.TEXT, s.CODE):
            add(
                present & (v.str.len_chars() > c.max_len),
                c.field,
                ERR_TOO_LONG.format(n=c.max_len),
            )
            if c.type == s.CODE:
                add(present & ~v.str.contains(r"^[0-9A-Za-z\-]+$"), c.field, ERR_CODE)
        elif c.type == s.DATE:
            add(present & t.is_null(), c.field, ERR_DATE)
            add(t > pl.lit(today), c.field, ERR_FUTURE_DATE)
            add(t.dt.year() < FIRST_YEAR, c.field, ERR_OLD_DATE)
        elif c.type == s.YEAR:
            add(present & (t.is_null() | (t < FIRST_YEAR)), c.field, ERR_YEAR)
            add(t > today.year, c.field, ERR_FUTURE_YEAR)
        elif c.type == s.MONEY:
            negative = v.str.starts_with("-")
            add(present & negative, c.field, ERR_NEGATIVE)
            add(present & ~negative & (t.is_null() | (t > MAX_FEN)), c.field, ERR_AMOUNT)
        elif c.type == s.BOOL:
            add(present & t.is_null(), c.field, ERR_BOOL)
        elif c.type == s.CHOICE:
            shown = ", ".join(dict.fromkeys(c.choices))
            add(present & t.is_null(), c.field, ERR_CHOICE.format(choices=shown))

    # duplicates of the key within the file (reported on every row after the first)
    key_t = [f"__t_{k}" for k in schema.key]
    first_row = pl.col(ROW).min().over(key_t)
    key_names = " + ".join(header[k] for k in schema.key)
    add(
        pl.all_horizontal([pl.col(k).is_not_null() for k in key_t]) & (pl.col(ROW) != first_row),
        schema.key[-1],
        pl.format(ERR_DUPLICATE.replace("{first}", "{}").replace("{key}", key_names), first_row),
    )

    def fen(name: str) -> pl.Expr:
        return pl.col(f"__t_{name}")

    if s.RULE_DATE_ORDER in schema.rules:
        add(fen("admitted") > fen("discharged"), "admitted", ERR_DATE_ORDER)
    if s.RULE_REIMBURSED_NOT_ABOVE_TOTAL in schema.rules:
        reimbursed = fen("basic_insurance") + fen("serious_illness") + fen("medical_assistance")
        add(reimbursed > fen("total_cost"), "total_cost", ERR_REIMBURSED_ABOVE_TOTAL)
    if s.RULE_SELF_PAID in schema.rules:
        expected = (
            fen("total_cost")
            - fen("basic_insurance")
            - fen("serious_illness")
            - fen("medical_assistance")
        )
        shown = pl.format(
            "{}.{}",
            expected // 100,
            (expected % 100).cast(pl.String).str.zfill(2),
        )
        add(
            (expected >= 0) & ((fen("self_paid") - expected).abs() > 1),
            "self_paid",
            pl.format(ERR_SELF_PAID.replace("{expected}", "{}"), shown),
        )
    if s.RULE_COMPENSATION_NOT_ABOVE_LOSS in schema.rules:
        paid = fen("insurance_paid") + (
            fen("assistance_paid") if "assistance_paid" in df.columns else pl.lit(0)
        )
        add(paid > fen("loss"), "loss", ERR_COMPENSATION_ABOVE_LOSS)

    # every check in one parallel pass over the file; only the checks that fail somewhere
    # are run again to collect their rows and messages (a good file costs one pass)
    failing = df.select(
        [mask.fill_null(False).any().alias(f"check{i}") for i, (mask, _, _) in enumerate(checks)]
    ).row(0)
    frames = [
        problems_from_mask(df, mask, field=fld, header=header[fld], message=message)
        for (mask, fld, message), fails in zip(checks, failing, strict=True)
        if fails
    ]
    frames = [f.cast(PROBLEM_SCHEMA) for f in frames if f.height]  # type: ignore[arg-type]
    problems = (
        pl.concat(frames).sort(["row", "column", "message"])
        if frames
        else pl.DataFrame(schema=PROBLEM_SCHEMA)
    )
    bad_rows = problems["row"].unique()
    period = pl.col(f"__t_{schema.period}")
    year = period if schema.column(schema.period).type == s.YEAR else period.dt.year()
    valid = df.filter(~pl.col(ROW).is_in(bad_rows.implode())).select(
        pl.col(ROW).alias("source_row"),
        *[_final(c) for c in schema.columns],
        year.cast(pl.Int32).alias("period_year"),
    )
    return valid, problems


def _final(c: s.FeedColumn) -> pl.Expr:
    t = pl.col(f"__t_{c.field}")
    if c.type == s.MONEY:
        return t.cast(pl.Int64).alias(c.field)  # integer fen
    if c.type == s.BOOL:
        return (t == "true").alias(c.field)
    if c.type == s.YEAR:
        return t.cast(pl.Int32).alias(c.field)
    return t.alias(c.field)
