"""Cadre import (帮扶干部导入): one row per cadre, validated whole, then written whole.

The one import pipeline (``fangpin.common.pipeline``): the file (.xlsx or .csv,
headers in Chinese or English) is checked set-based with polars; on any problem
nothing is written and every problem is reported as ``PATH:ROW:COLUMN: message``;
otherwise the differences are written in one transaction with an audit row each.
This module declares the columns, the cadres' own rules and the write. A cadre is identified by their phone
number, so importing the same file again changes nothing, and a changed name,
work unit, level or region updates the cadre.

=========  ===========  ==========================================================
中文        English      notes
=========  ===========  ==========================================================
姓名        name         up to 64 characters
工作单位     work_unit    e.g. 县审计局, 赵枣林村委会; up to 128
层级        level        city/county/township/village or 市级/县级/乡镇/村级
手机号       phone        11-digit mobile, or a landline such as 0310-1234567
区划代码     region_code  where the cadre serves: a region at the cadre's level or
                         below (a county cadre stationed in a village), in your region
=========  ===========  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import polars as pl
from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.common.audit import Action, audit_record_rows, audit_rows
from fangpin.common.bulk import bulk_insert, bulk_update, db_datetime, filter_in
from fangpin.common.pipeline import (  # noqa: F401 (the messages tests name here)
    CHOICE,
    ERR_REQUIRED,
    ERR_TOO_LONG,
    Field,
    ImportRun,
    ImportSpec,
    Lookup,
    import_file,
    in_scope,
)
from fangpin.common.tabular import ImportOutcome, frame_of
from fangpin.regions.models import LEVEL_ORDER
from fangpin.regions.selectors import region_lookup

from .cadres import LEVEL_ALIASES, PHONE_PATTERN
from .models import Cadre

MAX_ROWS = 200_000
CADRE_FIELDS = ["name", "work_unit", "level", "region_id"]
DEPTH = {lv.value: i for i, lv in enumerate(LEVEL_ORDER)}  # city 0 … village 3

ERR_LEVEL = "level must be city/county/township/village or 市级/县级/乡镇/村级 (层级无效)"
ERR_PHONE = (
    "phone must be an 11-digit mobile number or a landline such as 0310-1234567 (电话号码格式错误)"
)
ERR_DUPLICATE_PHONE = "phone appears more than once in the file (电话重复), first on row {first}"
ERR_UNKNOWN_REGION = "unknown region code (区划代码不存在)"
ERR_REGION_SCOPE = "region is outside your region (区划不在您的辖区内)"
ERR_REGION_LEVEL = (
    "the region is above the cadre's level: a cadre serves at their level or below "
    "(区划层级高于干部层级)"
)
ERR_PHONE_ELSEWHERE = (
    "this phone belongs to a cadre outside your region (该电话已登记给辖区外的干部)"
)


COLUMNS = (
    Field("name", "姓名", max_chars=64),
    Field("work_unit", "工作单位", max_chars=128),
    Field(
        "level", "层级", kind=CHOICE, into="level_code", choices=LEVEL_ALIASES, invalid=ERR_LEVEL
    ),
    Field(
        "phone",
        "手机号",
        clean=lambda phone: phone.str.replace_all(r"\s", ""),
        pattern=PHONE_PATTERN,
        invalid=ERR_PHONE,
        unique=ERR_DUPLICATE_PHONE,
    ),
    Field(
        "region_code",
        "区划代码",
        lookup=region_lookup(unknown=ERR_UNKNOWN_REGION, outside=ERR_REGION_SCOPE),
    ),
)


@dataclass
class CadreImportResult(ImportOutcome):
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def summary(self) -> str:
        return (
            f"cadres 干部: {self.created} created 新增, {self.updated} updated 更新, "
            f"{self.unchanged} unchanged 未变"
        )


_DB_SCHEMA = {
    "id": pl.Int64,
    "phone": pl.String,
    "name_db": pl.String,
    "work_unit_db": pl.String,
    "level_db": pl.String,
    "region_id_db": pl.Int64,
    "region_path_db": pl.String,
}


def _check(df: pl.DataFrame, run: ImportRun) -> pl.DataFrame:
    """A cadre serves at their level or below; a phone of a cadre outside the importer's
    region is not theirs to take over. The rows come out with the recorded cadre's values."""

    def depth(level: str) -> pl.Expr:
        return pl.col(level).replace_strict(DEPTH, default=None, return_dtype=pl.Int64)

    run.add(df, depth("region_level") < depth("level_code"), "region_code", ERR_REGION_LEVEL)
    phones = df["phone"].drop_nulls().unique().to_list()
    recorded = frame_of(
        list(
            filter_in(Cadre.objects, "phone", phones).values_list(
                "id", "phone", "name", "work_unit", "level", "region_id", "region__path"
            )
        ),
        _DB_SCHEMA,
    )
    df = df.join(recorded, on="phone", how="left")
    run.add(
        df,
        pl.col("id").is_not_null() & ~in_scope(pl.col("region_path_db"), run.scope),
        "phone",
        ERR_PHONE_ELSEWHERE,
    )
    return df


def _write(df: pl.DataFrame, run: ImportRun) -> None:
    """New cadres inserted, changed ones updated, set-based, each with its audit row."""
    result: CadreImportResult = run.result
    now = timezone.now()
    stamp = pl.lit(db_datetime(now))
    rows = df.select(
        "id",
        "phone",
        "name",
        "work_unit",
        pl.col("level_code").alias("level"),
        "region_id",
        "region_path",
        *[f"{f}_db" for f in CADRE_FIELDS],
    )
    new = rows.filter(pl.col("id").is_null())
    changed = rows.filter(
        pl.col("id").is_not_null()
        & pl.any_horizontal([~pl.col(f).eq_missing(pl.col(f"{f}_db")) for f in CADRE_FIELDS])
    )
    bulk_insert(
        Cadre,
        new.select(
            *CADRE_FIELDS,
            "phone",
            pl.lit(True).alias("active"),
            stamp.alias("created_at"),
            stamp.alias("updated_at"),
        ),
    )
    bulk_update(Cadre, changed.select("id", *CADRE_FIELDS, stamp.alias("updated_at")))
    created = new.drop("id").join(
        frame_of(
            list(
                filter_in(Cadre.objects, "phone", new["phone"].to_list()).values_list("phone", "id")
            ),
            {"phone": pl.String, "id": pl.Int64},
        ),
        on="phone",
    )
    result.created = created.height
    result.updated = changed.height
    result.unchanged = rows.height - created.height - changed.height
    source = pl.lit(result.path)
    audit_record_rows(
        audit_rows(
            created,
            actor=run.actor,
            action=Action.CADRE_CREATED,
            object_type="pairing.cadre",
            region_path="region_path",
            data={"name": pl.col("name"), "level": pl.col("level"), "source": source},
        ),
        audit_rows(
            changed,
            actor=run.actor,
            action=Action.CADRE_UPDATED,
            object_type="pairing.cadre",
            region_path="region_path",
            data={
                "name": pl.col("name"),
                "before": pl.struct(**{f: pl.col(f"{f}_db") for f in CADRE_FIELDS}),
                "source": source,
            },
        ),
        at=now,
    )


SPEC = ImportSpec(
    fields=COLUMNS,
    access=partial(permissions.import_access, action="pairing.import"),
    result=CadreImportResult,
    check=_check,
    write=_write,
    max_rows=MAX_ROWS,
    noun="cadres",
)

# ``cadre_import(path=, actor=None, display_path=None, progress=None)`` → CadreImportResult
cadre_import = SPEC.run
