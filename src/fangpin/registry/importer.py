"""Registry import: one row per member, validated whole, then written whole.

``registry_import(path=..., actor=...)`` reads an .xlsx or .csv file (headers in
Chinese or English), checks every row set-based with polars, and either returns
every problem (``PATH:ROW:COLUMN: message``, nothing written) or writes the
differences against the database in one transaction and returns the counts.
Importing the same file twice changes nothing the second time.

Household-level columns (village, type, year, income, bank) repeat on each
member's row and must agree within a household; the household is the unit that
is created, updated or left unchanged. A household's members in the file are
its members: members no longer listed are removed, with an audit row.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.common.bulk import bulk_insert, db_datetime, filter_in
from fangpin.common.idnumber import id_number_problem_expr
from fangpin.common.models import AuditEvent
from fangpin.common.tabular import (
    ROW,
    Column,
    ImportOutcome,
    TableError,
    collect_problems,
    frame_of,
    problems_from_mask,
    read_import_table,
    yuan_to_fen,
)
from fangpin.regions.models import Level, Region

from .models import (
    HEAD_RELATIONS,
    HOUSEHOLD_TYPE_ALIASES,
    Household,
    HouseholdType,
    IncomeRecord,
    IncomeSource,
    Labour,
    Member,
)

COLUMNS = [
    Column("household_no", "户编号"),
    Column("village_code", "村代码"),
    Column("household_type", "户类型"),
    Column("name", "姓名"),
    Column("id_number", "身份证号"),
    Column("relation", "与户主关系"),
    Column("labour", "劳动能力", required=False),
    Column("year", "年度", required=False),
    Column("annual_income", "家庭年可支配收入", required=False),
    Column("bank", "开户行", required=False),
    Column("bank_account", "银行账号", required=False),
]
HOUSEHOLD_FIELDS = [
    "village_code",
    "household_type",
    "year",
    "annual_income",
    "bank",
    "bank_account",
]
REQUIRED = ["household_no", "village_code", "household_type", "name", "id_number", "relation"]
FIRST_YEAR = 2000
MAX_ROWS = 2_000_000

ERR_REQUIRED = "value is required (必填)"
ERR_HOUSEHOLD_NO = "household number must be 1–32 letters, digits or - (户编号格式错误)"
ERR_TOO_LONG = "value is longer than {n} characters (内容过长)"
ERR_UNKNOWN_VILLAGE = "unknown village code (村代码不存在)"
ERR_VILLAGE_SCOPE = "village is outside your region (村不在您的辖区内)"
ERR_HOUSEHOLD_TYPE = "household type must be one of: {choices} (户类型无效)"
ERR_DUPLICATE_ID = (
    "ID number appears more than once in the file (身份证号重复), first on row {first}"
)
ERR_ID_ELSEWHERE = (
    "ID number is already registered in household {household} (身份证号已登记在其他户)"
)
# the same, where that household lies outside the user's region: its number is not theirs to see
ERR_ID_OUTSIDE = (
    "ID number is already registered in a household outside your region "
    "(身份证号已登记在辖区外农户)"
)
ERR_YEAR = "year must be a whole number from 2000 (年度无效)"
ERR_FUTURE_YEAR = "year {year} is in the future (年度晚于今年)"
ERR_YEAR_WITHOUT_INCOME = "year and annual income go together (年度与收入须同时填写)"
ERR_AMOUNT = (
    "amount must be a number of yuan with at most two decimals, e.g. 12345.60 (金额格式错误)"
)
ERR_NEGATIVE = "amount must not be negative (金额不能为负数)"
ERR_BANK_ACCOUNT = "bank account must be 8–32 digits (银行账号格式错误)"
ERR_LABOUR = (
    "labour capacity must be able/weak/none or 有劳动能力/弱劳动能力/无劳动能力 (劳动能力无效)"
)
ERR_INCONSISTENT = "differs from row {first} of the same household (同一户的户级信息不一致)"
ERR_HEAD_COUNT = (
    "household {household} must have exactly one head (户主); the file lists {n} (户主人数错误)"
)

LABOUR_ALIASES = {
    **{c.value: c.value for c in Labour},
    "有劳动能力": Labour.ABLE.value,
    "弱劳动能力": Labour.WEAK.value,
    "部分丧失劳动能力": Labour.WEAK.value,
    "无劳动能力": Labour.NONE.value,
    "丧失劳动能力": Labour.NONE.value,
}
TYPE_CHOICES = ", ".join([t.value for t in HouseholdType] + list(HOUSEHOLD_TYPE_ALIASES))
HOUSEHOLD_DB_FIELDS = ["village_id", "household_type", "bank_name", "bank_account"]


@dataclass
class ImportResult(ImportOutcome):
    households_created: int = 0
    households_updated: int = 0
    households_unchanged: int = 0
    members_created: int = 0
    members_updated: int = 0
    members_removed: int = 0
    incomes_recorded: int = 0

    def summary(self) -> str:
        return (
            f"households 户: {self.households_created} created 新增, {self.households_updated} updated 更新, "
            f"{self.households_unchanged} unchanged 未变; members 成员: {self.members_created} created, "
            f"{self.members_updated} updated, {self.members_removed} removed; "
            f"income records 收入记录: {self.incomes_recorded} added"
        )


# --- validation -------------------------------------------------------------------------


def _validate(
    df: pl.DataFrame, header: dict[str, str], villages: pl.DataFrame, scope: str | None
) -> list[pl.DataFrame]:
    """Every row-level check, each a set-based filter producing problem rows."""
    today = dt.date.today()
    out: list[pl.DataFrame] = []

    def add(mask: pl.Expr, fld: str, message: str | pl.Expr) -> None:
        out.append(problems_from_mask(df, mask, field=fld, header=header[fld], message=message))

    for f in REQUIRED:
        add(pl.col(f).is_null(), f, ERR_REQUIRED)
    add(
        pl.col("household_no").is_not_null()
        & ~pl.col("household_no").str.contains(r"^[0-9A-Za-z\-]{1,32}$"),
        "household_no",
        ERR_HOUSEHOLD_NO,
    )
    for f, n in (("name", 64), ("relation", 16), ("bank", 64)):
        add(pl.col(f).str.len_chars() > n, f, ERR_TOO_LONG.format(n=n))

    # village: must exist as a village, and lie in the importer's region
    joined = df.join(villages, left_on="village_code", right_on="code", how="left")
    unknown = joined.filter(pl.col("village_code").is_not_null() & pl.col("path").is_null())
    out.append(
        problems_from_mask(
            unknown,
            pl.lit(True),
            field="village_code",
            header=header["village_code"],
            message=ERR_UNKNOWN_VILLAGE,
        )
    )
    if scope:
        out.append(
            problems_from_mask(
                joined,
                pl.col("path").is_not_null() & ~pl.col("path").str.starts_with(scope),
                field="village_code",
                header=header["village_code"],
                message=ERR_VILLAGE_SCOPE,
            )
        )

    add(
        pl.col("household_type").is_not_null() & pl.col("type_code").is_null(),
        "household_type",
        ERR_HOUSEHOLD_TYPE.format(choices=TYPE_CHOICES),
    )

    # ID numbers: checksum, date, province (set-based), then duplicates in the file
    add(
        pl.col("id_number").is_not_null()
        & id_number_problem_expr("id_number", today=today).is_not_null(),
        "id_number",
        id_number_problem_expr("id_number", today=today),
    )
    first_row = pl.col(ROW).min().over("id_norm")
    add(
        pl.col("id_number").is_not_null() & (pl.col(ROW) != first_row),
        "id_number",
        pl.format(ERR_DUPLICATE_ID.replace("{first}", "{}"), first_row),
    )

    # year and income
    add(pl.col("year").is_not_null() & pl.col("year_int").is_null(), "year", ERR_YEAR)
    add(
        pl.col("year_int") > today.year,
        "year",
        pl.format(ERR_FUTURE_YEAR.replace("{year}", "{}"), pl.col("year_int")),
    )
    add(
        pl.col("year").is_null() != pl.col("annual_income").is_null(),
        "year",
        ERR_YEAR_WITHOUT_INCOME,
    )
    add(pl.col("annual_income").str.starts_with("-"), "annual_income", ERR_NEGATIVE)
    add(
        pl.col("annual_income").is_not_null()
        & ~pl.col("annual_income").str.starts_with("-")
        & pl.col("income_fen").is_null(),
        "annual_income",
        ERR_AMOUNT,
    )
    add(pl.col("labour").is_not_null() & pl.col("labour_code").is_null(), "labour", ERR_LABOUR)
    add(
        pl.col("bank_account").is_not_null() & ~pl.col("bank_account").str.contains(r"^\d{8,32}$"),
        "bank_account",
        ERR_BANK_ACCOUNT,
    )

    # household-level columns must agree with the household's first row
    for f in HOUSEHOLD_FIELDS:
        first_val = pl.col(f).sort_by(ROW).first().over("household_no")
        first_at = pl.col(ROW).min().over("household_no")
        add(
            pl.col("household_no").is_not_null() & ~pl.col(f).eq_missing(first_val),
            f,
            pl.format(ERR_INCONSISTENT.replace("{first}", "{}"), first_at),
        )

    # exactly one head per household (reported on the household's first row)
    heads = (
        df.filter(pl.col("household_no").is_not_null())
        .group_by("household_no")
        .agg(pl.col(ROW).min().alias(ROW), pl.col("is_head").sum().alias("n"))
        .filter(pl.col("n") != 1)
    )
    out.append(
        heads.select(
            pl.col(ROW).alias("row"),
            pl.lit(header["relation"]).alias("column"),
            pl.col("household_no").alias("value"),
            pl.format(
                ERR_HEAD_COUNT.replace("{household}", "{}").replace("{n}", "{}"),
                pl.col("household_no"),
                pl.col("n"),
            ).alias("message"),
        )
    )
    return out


def _prepare(df: pl.DataFrame) -> pl.DataFrame:
    """Derived columns used by checks and by the write."""
    aliases = {**{t.value: t.value for t in HouseholdType}, **HOUSEHOLD_TYPE_ALIASES}
    return df.with_columns(
        pl.col("id_number").str.to_uppercase().alias("id_norm"),
        pl.col("household_type")
        .str.to_lowercase()
        .replace_strict(aliases, default=None, return_dtype=pl.String)
        .alias("type_code"),
        pl.col("year").cast(pl.Int64, strict=False).alias("year_int"),
        yuan_to_fen("annual_income").alias("income_fen"),
        pl.col("relation").is_in(sorted(HEAD_RELATIONS)).fill_null(False).alias("is_head"),
        pl.col("labour")
        .str.to_lowercase()
        .replace_strict(LABOUR_ALIASES, default=None, return_dtype=pl.String)
        .alias("labour_code"),
    ).with_columns(
        pl.when(pl.col("year_int") < FIRST_YEAR)
        .then(None)
        .otherwise(pl.col("year_int"))
        .alias("year_int")
    )


# --- the import -------------------------------------------------------------------------


def registry_import(
    *,
    path: str | os.PathLike,
    actor: Any = None,
    display_path: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Validate ``path`` whole; write nothing on any problem; otherwise write the differences.

    ``actor`` (a user, or None for the command line run by an operator) limits
    the villages the file may name to the actor's region, and signs the audit rows.
    ``progress`` receives a line at each stage (reading, checking, writing).
    """
    say = progress or (lambda message: None)
    result = ImportResult(path=display_path or str(path))
    say(f"reading {result.path} (读取文件)…")
    try:
        df, header = read_import_table(
            path, COLUMNS, max_bytes=settings.FANGPIN_IMPORT_MAX_BYTES, max_rows=MAX_ROWS
        )
    except TableError as exc:
        result.problems = exc.problems
        return result

    scope = permissions.scope_path(actor) if actor is not None else ""
    villages = frame_of(
        list(Region.objects.filter(level=Level.VILLAGE).values("code", "id", "path")),
        {"code": pl.String, "id": pl.Int64, "path": pl.String},
    )
    say(f"checking {df.height:,} rows (检查数据)…")
    df = _prepare(df)
    frames = _validate(df, header, villages, scope)

    # an ID number in the file that the database holds for a household not in the file
    ids = df["id_norm"].drop_nulls().unique().to_list()
    nos = df["household_no"].drop_nulls().unique().to_list()
    held_rows = list(
        filter_in(Member.objects, "id_number", ids).values(
            "id_number", "household__household_no", "household__village__path"
        )
    )
    held = frame_of(
        held_rows,
        {
            "id_number": pl.String,
            "household__household_no": pl.String,
            "household__village__path": pl.String,
        },
    ).filter(~pl.col("household__household_no").is_in(nos))
    if held.height:
        clash = df.join(held, left_on="id_norm", right_on="id_number", how="inner")
        frames.append(
            problems_from_mask(
                clash,
                pl.lit(True),
                field="id_number",
                header=header["id_number"],
                message=pl.when(pl.col("household__village__path").str.starts_with(scope or ""))
                .then(
                    pl.format(
                        ERR_ID_ELSEWHERE.replace("{household}", "{}"),
                        pl.col("household__household_no"),
                    )
                )
                .otherwise(pl.lit(ERR_ID_OUTSIDE)),
            )
        )
    result.problems = collect_problems(frames)
    if result.problems:
        return result

    df = df.join(
        villages.rename({"id": "village_id", "path": "village_path"}),
        left_on="village_code",
        right_on="code",
        how="left",
    )
    say(f"writing {len(nos):,} households (写入数据库)…")
    _write(df, nos, actor, result)
    return result


@transaction.atomic
def household_ids(nos: list[str]) -> pl.DataFrame:
    """The registry's households among ``nos`` (one statement, however many):
    household_no, household_id, region_path."""
    rows = filter_in(Household.objects, "household_no", nos).values_list(
        "household_no", "id", "village__path"
    )
    return frame_of(
        list(rows),
        {"household_no": pl.String, "household_id": pl.Int64, "region_path": pl.String},
    )


def _write(df: pl.DataFrame, nos: list[str], actor: Any, result: ImportResult) -> None:
    actor_id = getattr(actor, "pk", None)
    file_hh = (
        df.sort(ROW)
        .group_by("household_no", maintain_order=True)
        .agg(
            pl.col("village_id").first(),
            pl.col("village_path").first(),
            pl.col("type_code").first().alias("household_type"),
            pl.col("bank").first().fill_null("").alias("bank_name"),
            pl.col("bank_account").first().fill_null(""),
            pl.col("year_int").first().alias("year"),
            pl.col("income_fen").first(),
        )
    )
    hh_schema = {
        "id": pl.Int64,
        "household_no": pl.String,
        "village_id": pl.Int64,
        "household_type": pl.String,
        "bank_name": pl.String,
        "bank_account": pl.String,
    }
    existing = frame_of(
        list(filter_in(Household.objects, "household_no", nos).values(*hh_schema)),
        hh_schema,
    )

    cmp = file_hh.join(existing, on="household_no", how="left", suffix="_db")
    new_hh = cmp.filter(pl.col("id").is_null())
    changed_expr = pl.any_horizontal(
        [~pl.col(f).eq_missing(pl.col(f"{f}_db")) for f in HOUSEHOLD_DB_FIELDS]
    )
    changed_hh = cmp.filter(pl.col("id").is_not_null() & changed_expr)

    # households: create and update (set-based inserts, ``common.bulk``)
    now = timezone.now()
    stamp = db_datetime(now)
    bulk_insert(
        Household,
        new_hh.select(
            "household_no",
            "village_id",
            "household_type",
            "bank_name",
            "bank_account",
            pl.lit(stamp).alias("created_at"),
            pl.lit(stamp).alias("updated_at"),
        ),
    )
    created = household_ids(new_hh["household_no"].to_list()).select(
        "household_no", pl.col("household_id").alias("hh_id")
    )
    if changed_hh.height:  # bulk_update does not apply auto_now: ``now`` is given
        objs = [
            Household(
                id=r["id"],
                household_no=r["household_no"],
                village_id=r["village_id"],
                household_type=r["household_type"],
                bank_name=r["bank_name"],
                bank_account=r["bank_account"],
                updated_at=now,
            )
            for r in changed_hh.iter_rows(named=True)
        ]
        Household.objects.bulk_update(objs, HOUSEHOLD_DB_FIELDS + ["updated_at"], batch_size=2000)
    ids = created.vstack(existing.select(pl.col("household_no"), pl.col("id").alias("hh_id")))
    file_hh = file_hh.join(ids, on="household_no", how="left")

    # members: create, update (name, relation or household changed), remove (no longer listed)
    file_m = df.select(
        "household_no",
        "name",
        pl.col("id_norm").alias("id_number"),
        "relation",
        pl.col("labour_code").alias("labour"),  # null: not given in the file, keep what is recorded
    ).join(ids, on="household_no", how="left")
    m_schema = {
        "id": pl.Int64,
        "household_id": pl.Int64,
        "name": pl.String,
        "id_number": pl.String,
        "relation": pl.String,
        "labour": pl.String,
    }
    existing_ids = existing["id"].to_list()
    db_m = frame_of(
        list(filter_in(Member.objects, "household_id", existing_ids).values(*m_schema)), m_schema
    )
    mcmp = file_m.join(db_m, on="id_number", how="full", coalesce=True, suffix="_db")
    m_new = mcmp.filter(pl.col("id").is_null())
    m_gone = mcmp.filter(pl.col("hh_id").is_null())
    m_changed = mcmp.filter(
        pl.col("id").is_not_null()
        & pl.col("hh_id").is_not_null()
        & (
            ~pl.col("name").eq_missing(pl.col("name_db"))
            | ~pl.col("relation").eq_missing(pl.col("relation_db"))
            | (pl.col("labour").is_not_null() & ~pl.col("labour").eq_missing(pl.col("labour_db")))
            | (pl.col("hh_id") != pl.col("household_id"))
        )
    ).with_columns(pl.coalesce("labour", "labour_db").alias("labour"))
    if m_gone.height:
        filter_in(Member.objects, "id", m_gone["id"].to_list()).delete()
    if m_changed.height:
        Member.objects.bulk_update(
            [
                Member(
                    id=r["id"],
                    household_id=r["hh_id"],
                    name=r["name"],
                    relation=r["relation"],
                    labour=r["labour"],
                )
                for r in m_changed.iter_rows(named=True)
            ],
            ["household_id", "name", "relation", "labour"],
            batch_size=2000,
        )
    bulk_insert(
        Member,
        m_new.select(
            pl.col("hh_id").alias("household_id"),
            "name",
            "id_number",
            "relation",
            pl.col("labour").fill_null(""),
        ),
    )

    # incomes: a new record when the year's latest figure differs (history is kept)
    with_income = file_hh.filter(pl.col("year").is_not_null())
    inc_schema = {
        "household_id": pl.Int64,
        "year": pl.Int64,
        "annual_income": pl.Int64,
        "id": pl.Int64,
    }
    latest_rows = [
        {
            "household_id": hid,
            "year": y,
            "annual_income": m.fen if m is not None else None,
            "id": i,
        }
        for hid, y, m, i in filter_in(
            IncomeRecord.objects, "household_id", existing_ids
        ).values_list("household_id", "year", "annual_income", "id")
    ]
    latest = (
        frame_of(latest_rows, inc_schema)
        .sort("id")
        .group_by("household_id", "year")
        .agg(pl.col("annual_income").last())
    )
    inc_new = with_income.join(
        latest, left_on=["hh_id", "year"], right_on=["household_id", "year"], how="left"
    ).filter(~pl.col("income_fen").eq_missing(pl.col("annual_income")))
    bulk_insert(
        IncomeRecord,
        inc_new.select(
            pl.col("hh_id").alias("household_id"),
            "year",
            pl.col("income_fen").alias("annual_income"),
            pl.lit(IncomeSource.SURVEY.value).alias("source"),
            pl.lit(stamp).alias("recorded_at"),
            pl.lit(actor_id, dtype=pl.Int64).alias("recorded_by_id"),
            pl.lit("registry import").alias("note"),
        ),
    )

    # which existing households changed at all
    touched = pl.concat(
        [
            changed_hh.select(pl.col("id").alias("hh_id")),
            m_changed.select("hh_id"),
            m_changed.select(pl.col("household_id").alias("hh_id")),
            m_gone.select(pl.col("household_id").alias("hh_id")),
            m_new.select("hh_id"),
            inc_new.select("hh_id"),
        ]
    ).unique()
    created_ids = created["hh_id"]
    updated = file_hh.filter(
        pl.col("hh_id").is_in(touched["hh_id"].implode())
        & ~pl.col("hh_id").is_in(created_ids.implode())
    )
    result.households_created = created.height
    result.households_updated = updated.height
    result.households_unchanged = file_hh.height - created.height - updated.height
    result.members_created = m_new.height
    result.members_updated = m_changed.height
    result.members_removed = m_gone.height
    result.incomes_recorded = inc_new.height

    # audit: one row per created or updated household, in the same transaction
    def audit(frame: pl.DataFrame, action: str, object_type: str, obj: str, data: pl.Expr):
        return frame.select(
            pl.lit(stamp).alias("at"),
            pl.lit(actor_id, dtype=pl.Int64).alias("actor_id"),
            pl.lit(action).alias("action"),
            pl.lit(object_type).alias("object_type"),
            pl.col(obj).cast(pl.String).alias("object_id"),
            (pl.col("village_path") if "village_path" in frame.columns else pl.lit(""))
            .fill_null("")
            .alias("region_path"),
            pl.lit("").alias("from_state"),
            pl.lit("").alias("to_state"),
            pl.lit("").alias("reason"),
            data.alias("data"),
        )

    source = pl.lit(result.path)
    household_data = pl.struct(household_no=pl.col("household_no"), source=source)
    events = [
        audit(
            file_hh.filter(pl.col("hh_id").is_in(created_ids.implode())),
            "registry.household.created",
            "registry.household",
            "hh_id",
            household_data.struct.json_encode(),
        ),
        audit(
            updated,
            "registry.household.updated",
            "registry.household",
            "hh_id",
            household_data.struct.json_encode(),
        ),
        audit(
            m_gone,
            "registry.member.removed",
            "registry.member",
            "id",
            pl.struct(household_id=pl.col("household_id"), source=source).struct.json_encode(),
        ),
    ]
    bulk_insert(AuditEvent, pl.concat(events))
