"""Registry import: one row per member, validated whole, then written whole.

``registry_import(path=..., actor=...)`` runs the file through the one import pipeline
(``fangpin.common.pipeline``): an .xlsx or .csv file (headers in Chinese or English),
every row checked set-based with polars, and either every problem returned
(``PATH:ROW:COLUMN: message``, nothing written) or the differences against the database
written in one transaction and counted. Importing the same file twice changes nothing the
second time. This module declares the columns (``COLUMNS``), the registry's own rules
(``_check``) and the write (``_write``).

Household-level columns (village, type, year, income, bank) repeat on each
member's row and must agree within a household; the household is the unit that
is created, updated or left unchanged. A household's members in the file are
its members: members no longer listed are removed, with an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.common.audit import Action, audit_record_rows, audit_rows
from fangpin.common.bulk import bulk_insert, bulk_update, db_datetime, filter_in
from fangpin.common.fields import fen_of
from fangpin.common.pipeline import (  # noqa: F401 (the messages callers and tests name here)
    CHOICE,
    ERR_AMOUNT,
    ERR_FUTURE_YEAR,
    ERR_NEGATIVE,
    ERR_REQUIRED,
    ERR_TOO_LONG,
    ERR_YEAR,
    ID_NUMBER,
    MONEY,
    YEAR,
    Field,
    ImportRun,
    ImportSpec,
    Lookup,
    import_file,
    in_scope,
    message_expr,
)
from fangpin.common.tabular import ROW, ImportOutcome, frame_of
from fangpin.regions.models import Level
from fangpin.regions.selectors import region_lookup

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

MAX_ROWS = 2_000_000
HOUSEHOLD_NO = r"^[0-9A-Za-z\-]{1,32}$"
BANK_ACCOUNT = r"^\d{8,32}$"

ERR_HOUSEHOLD_NO = "household number must be 1–32 letters, digits or - (户编号格式错误)"
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
ERR_YEAR_WITHOUT_INCOME = "year and annual income go together (年度与收入须同时填写)"
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
TYPE_ALIASES = {**{t.value: t.value for t in HouseholdType}, **HOUSEHOLD_TYPE_ALIASES}
TYPE_CHOICES = ", ".join([t.value for t in HouseholdType] + list(HOUSEHOLD_TYPE_ALIASES))
HOUSEHOLD_FIELDS = [
    "village_code",
    "household_type",
    "year",
    "annual_income",
    "bank",
    "bank_account",
]
HOUSEHOLD_DB_FIELDS = ["village_id", "household_type", "bank_name", "bank_account"]


COLUMNS = (
    Field("household_no", "户编号", pattern=HOUSEHOLD_NO, invalid=ERR_HOUSEHOLD_NO),
    Field(
        "village_code",
        "村代码",
        lookup=region_lookup(
            level=Level.VILLAGE,
            prefix="village",
            unknown=ERR_UNKNOWN_VILLAGE,
            outside=ERR_VILLAGE_SCOPE,
        ),
    ),
    Field(
        "household_type",
        "户类型",
        kind=CHOICE,
        into="type_code",
        choices=TYPE_ALIASES,
        invalid=ERR_HOUSEHOLD_TYPE.format(choices=TYPE_CHOICES),
    ),
    Field("name", "姓名", max_chars=64),
    Field("id_number", "身份证号", kind=ID_NUMBER, into="id_norm", unique=ERR_DUPLICATE_ID),
    Field("relation", "与户主关系", max_chars=16),
    Field(
        "labour",
        "劳动能力",
        required=False,
        kind=CHOICE,
        into="labour_code",
        choices=LABOUR_ALIASES,
        invalid=ERR_LABOUR,
    ),
    Field("year", "年度", required=False, kind=YEAR, into="year_int"),
    Field("annual_income", "家庭年可支配收入", required=False, kind=MONEY, into="income_fen"),
    Field("bank", "开户行", required=False, max_chars=64),
    Field(
        "bank_account", "银行账号", required=False, pattern=BANK_ACCOUNT, invalid=ERR_BANK_ACCOUNT
    ),
)


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


# --- the registry's own rules -----------------------------------------------------------------


def _check(df: pl.DataFrame, run: ImportRun) -> pl.DataFrame:
    """What a household must be: year and income together, its household-level columns the
    same on each member's row, exactly one head; no ID number held by another household."""
    df = df.with_columns(
        pl.col("relation").is_in(sorted(HEAD_RELATIONS)).fill_null(False).alias("is_head")
    )
    run.add(
        df,
        pl.col("year").is_null() != pl.col("annual_income").is_null(),
        "year",
        ERR_YEAR_WITHOUT_INCOME,
    )
    household = pl.col("household_no").is_not_null()
    first_at = pl.col(ROW).min().over("household_no")
    for f in HOUSEHOLD_FIELDS:
        first_val = pl.col(f).sort_by(ROW).first().over("household_no")
        run.add(
            df,
            household & ~pl.col(f).eq_missing(first_val),
            f,
            message_expr(ERR_INCONSISTENT, first=first_at),
        )
    heads = pl.col("is_head").sum().over("household_no")  # said on the household's first row
    run.add(
        df,
        household & (pl.col(ROW) == first_at) & (heads != 1),
        "relation",
        message_expr(ERR_HEAD_COUNT, household=pl.col("household_no"), n=heads),
        value="household_no",
    )

    # an ID number in the file that the database holds for a household not in the file
    nos = df["household_no"].drop_nulls().unique().to_list()
    held = frame_of(
        list(
            filter_in(
                Member.objects, "id_number", df["id_norm"].drop_nulls().unique().to_list()
            ).values_list("id_number", "household__household_no", "household__village__path")
        ),
        {"id_number": pl.String, "held_in": pl.String, "held_path": pl.String},
    ).filter(~pl.col("held_in").is_in(nos))
    if held.height:
        clash = df.join(held, left_on="id_norm", right_on="id_number", how="inner")
        run.add(
            clash,
            pl.lit(True),
            "id_number",
            pl.when(in_scope(pl.col("held_path"), run.scope))
            .then(message_expr(ERR_ID_ELSEWHERE, household=pl.col("held_in")))
            .otherwise(pl.lit(ERR_ID_OUTSIDE)),
        )
    return df


# --- the write --------------------------------------------------------------------------------


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


def _write(df: pl.DataFrame, run: ImportRun) -> None:
    """The differences against the database, set-based (``common.bulk``), with their audit
    rows; runs in the pipeline's transaction."""
    result: ImportResult = run.result
    actor_id = run.actor_id
    nos = df["household_no"].unique().to_list()
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
        list(filter_in(Household.objects, "household_no", nos).values_list(*hh_schema)),
        hh_schema,
    )

    cmp = file_hh.join(existing, on="household_no", how="left", suffix="_db")
    new_hh = cmp.filter(pl.col("id").is_null())
    changed_expr = pl.any_horizontal(
        [~pl.col(f).eq_missing(pl.col(f"{f}_db")) for f in HOUSEHOLD_DB_FIELDS]
    )
    changed_hh = cmp.filter(pl.col("id").is_not_null() & changed_expr)

    # households: create and update
    now = timezone.now()
    stamp = pl.lit(db_datetime(now))
    bulk_insert(
        Household,
        new_hh.select(
            "household_no",
            *HOUSEHOLD_DB_FIELDS,
            stamp.alias("created_at"),
            stamp.alias("updated_at"),
        ),
    )
    created = household_ids(new_hh["household_no"].to_list()).select(
        "household_no", pl.col("household_id").alias("hh_id")
    )
    bulk_update(Household, changed_hh.select("id", *HOUSEHOLD_DB_FIELDS, stamp.alias("updated_at")))
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
        list(filter_in(Member.objects, "household_id", existing_ids).values_list(*m_schema)),
        m_schema,
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
    bulk_update(
        Member,
        m_changed.select("id", pl.col("hh_id").alias("household_id"), "name", "relation", "labour"),
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
    inc_schema = {"household_id": pl.Int64, "year": pl.Int64, "annual_income": pl.Int64}
    latest = (
        frame_of(
            list(
                filter_in(IncomeRecord.objects, "household_id", existing_ids)
                .order_by("id")
                .values_list("household_id", "year", fen_of("annual_income"))
            ),
            inc_schema,
        )
        .group_by("household_id", "year", maintain_order=True)
        .agg(pl.col("annual_income").last())
    )
    inc_new = (
        file_hh.filter(pl.col("year").is_not_null())
        .join(latest, left_on=["hh_id", "year"], right_on=["household_id", "year"], how="left")
        .filter(~pl.col("income_fen").eq_missing(pl.col("annual_income")))
    )
    bulk_insert(
        IncomeRecord,
        inc_new.select(
            pl.col("hh_id").alias("household_id"),
            "year",
            pl.col("income_fen").alias("annual_income"),
            pl.lit(IncomeSource.SURVEY.value).alias("source"),
            stamp.alias("recorded_at"),
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
    created_ids = created["hh_id"].implode()
    updated = file_hh.filter(
        pl.col("hh_id").is_in(touched["hh_id"].implode()) & ~pl.col("hh_id").is_in(created_ids)
    )
    result.households_created = created.height
    result.households_updated = updated.height
    result.households_unchanged = file_hh.height - created.height - updated.height
    result.members_created = m_new.height
    result.members_updated = m_changed.height
    result.members_removed = m_gone.height
    result.incomes_recorded = inc_new.height

    # audit: one row per created or updated household, one per removed member
    source = pl.lit(result.path)
    household = {"household_no": pl.col("household_no"), "source": source}
    audit_record_rows(
        *(
            audit_rows(
                frame,
                actor=run.actor,
                action=action,
                object_type="registry.household",
                object_id="hh_id",
                region_path="village_path",
                data=household,
            )
            for frame, action in (
                (file_hh.filter(pl.col("hh_id").is_in(created_ids)), Action.HOUSEHOLD_CREATED),
                (updated, Action.HOUSEHOLD_UPDATED),
            )
        ),
        audit_rows(
            m_gone,
            actor=run.actor,
            action=Action.MEMBER_REMOVED,
            object_type="registry.member",
            data={"household_id": pl.col("household_id"), "source": source},
        ),
        at=now,
    )


SPEC = ImportSpec(
    fields=COLUMNS,
    access=permissions.import_access,  # any importer the page or the command lets in
    result=ImportResult,
    check=_check,
    write=_write,
    max_rows=MAX_ROWS,
    noun="rows",
)

# ``registry_import(path=, actor=None, display_path=None, progress=None)`` → ImportResult
registry_import = SPEC.run
