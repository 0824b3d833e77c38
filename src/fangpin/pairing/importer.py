"""Cadre import (帮扶干部导入): one row per cadre, validated whole, then written whole.

The registry import's rules (``fangpin.registry.importer``): the file (.xlsx or
.csv, headers in Chinese or English) is checked set-based with polars; on any
problem nothing is written and every problem is reported as
``PATH:ROW:COLUMN: message``; otherwise the differences are written in one
transaction with an audit row each. A cadre is identified by their phone
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

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.common.audit import audit_record_many
from fangpin.common.models import AuditEvent
from fangpin.common.tabular import (
    ROW,
    Column,
    ImportOutcome,
    Problem,
    TableError,
    collect_problems,
    frame_of,
    problems_from_mask,
    read_import_table,
)
from fangpin.regions.models import LEVEL_ORDER, Region

from .cadres import LEVEL_ALIASES, PHONE_PATTERN
from .models import Cadre

COLUMNS = [
    Column("name", "姓名"),
    Column("work_unit", "工作单位"),
    Column("level", "层级"),
    Column("phone", "手机号"),
    Column("region_code", "区划代码"),
]
REQUIRED = [c.field for c in COLUMNS]
MAX_ROWS = 200_000
CADRE_FIELDS = ["name", "work_unit", "level", "region_id"]

ERR_REQUIRED = "value is required (必填)"
ERR_TOO_LONG = "value is longer than {n} characters (内容过长)"
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


def _depth(level: str) -> int:
    return [lv.value for lv in LEVEL_ORDER].index(level)


def _prepare(df: pl.DataFrame) -> pl.DataFrame:
    depth = {lv.value: _depth(lv.value) for lv in LEVEL_ORDER}
    return df.with_columns(
        pl.col("phone").str.replace_all(r"\s", ""),
        pl.col("level")
        .str.to_lowercase()
        .replace_strict(LEVEL_ALIASES, default=None, return_dtype=pl.String)
        .alias("level_code"),
    ).with_columns(
        pl.col("level_code")
        .replace_strict(depth, default=None, return_dtype=pl.Int64)
        .alias("level_depth")
    )


def _validate(
    df: pl.DataFrame, header: dict[str, str], regions: pl.DataFrame, scope: str | None
) -> list[pl.DataFrame]:
    out: list[pl.DataFrame] = []

    def add(frame: pl.DataFrame, mask: pl.Expr, fld: str, message: str | pl.Expr) -> None:
        out.append(problems_from_mask(frame, mask, field=fld, header=header[fld], message=message))

    for f in REQUIRED:
        add(df, pl.col(f).is_null(), f, ERR_REQUIRED)
    for f, n in (("name", 64), ("work_unit", 128)):
        add(df, pl.col(f).str.len_chars() > n, f, ERR_TOO_LONG.format(n=n))
    add(df, pl.col("level").is_not_null() & pl.col("level_code").is_null(), "level", ERR_LEVEL)
    add(
        df,
        pl.col("phone").is_not_null() & ~pl.col("phone").str.contains(PHONE_PATTERN),
        "phone",
        ERR_PHONE,
    )
    first_row = pl.col(ROW).min().over("phone")
    add(
        df,
        pl.col("phone").is_not_null() & (pl.col(ROW) != first_row),
        "phone",
        pl.format(ERR_DUPLICATE_PHONE.replace("{first}", "{}"), first_row),
    )
    joined = df.join(regions, left_on="region_code", right_on="code", how="left")
    add(
        joined,
        pl.col("region_code").is_not_null() & pl.col("path").is_null(),
        "region_code",
        ERR_UNKNOWN_REGION,
    )
    if scope:
        add(
            joined,
            pl.col("path").is_not_null() & ~pl.col("path").str.starts_with(scope),
            "region_code",
            ERR_REGION_SCOPE,
        )
    add(
        joined,
        pl.col("region_depth").is_not_null()
        & pl.col("level_depth").is_not_null()
        & (pl.col("region_depth") < pl.col("level_depth")),
        "region_code",
        ERR_REGION_LEVEL,
    )
    return out


def cadre_import(
    *,
    path: str | os.PathLike,
    actor: Any = None,
    display_path: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> CadreImportResult:
    """Validate ``path`` whole; write nothing on any problem; otherwise write the differences.

    ``actor`` (a user, or None for the operator on the command line) limits the
    regions the file may name to the actor's region and signs the audit rows.
    """
    say = progress or (lambda message: None)
    result = CadreImportResult(path=display_path or str(path))
    if actor is not None:
        reason = permissions.why_not(actor, "pairing.import")
        if reason:
            result.problems = [Problem(0, "", reason)]
            return result
    say(f"reading {result.path} (读取文件)…")
    try:
        df, header = read_import_table(
            path, COLUMNS, max_bytes=settings.FANGPIN_IMPORT_MAX_BYTES, max_rows=MAX_ROWS
        )
    except TableError as exc:
        result.problems = exc.problems
        return result

    scope = permissions.scope_path(actor) if actor is not None else ""
    depth = {lv.value: _depth(lv.value) for lv in LEVEL_ORDER}
    regions = frame_of(
        list(
            Region.objects.filter(
                code__in=df["region_code"].drop_nulls().unique().to_list()
            ).values_list("code", "id", "path", "level")
        ),
        {"code": pl.String, "id": pl.Int64, "path": pl.String, "level": pl.String},
    ).with_columns(
        pl.col("level")
        .replace_strict(depth, default=None, return_dtype=pl.Int64)
        .alias("region_depth")
    )
    say(f"checking {df.height:,} rows (检查数据)…")
    df = _prepare(df)
    frames = _validate(df, header, regions, scope)

    # a phone the database holds for a cadre outside the actor's region
    phones = df["phone"].drop_nulls().unique().to_list()
    existing = frame_of(
        list(
            Cadre.objects.filter(phone__in=phones).values_list(
                "id", "phone", "name", "work_unit", "level", "region_id", "region__path"
            )
        ),
        {
            "id": pl.Int64,
            "phone": pl.String,
            "name": pl.String,
            "work_unit": pl.String,
            "level": pl.String,
            "region_id": pl.Int64,
            "region_path": pl.String,
        },
    )
    if scope:
        foreign = existing.filter(~pl.col("region_path").str.starts_with(scope)).select("phone")
        clash = df.join(foreign, on="phone", how="semi")
        frames.append(
            problems_from_mask(
                clash,
                pl.lit(True),
                field="phone",
                header=header["phone"],
                message=ERR_PHONE_ELSEWHERE,
            )
        )
    result.problems = collect_problems(frames)
    if result.problems:
        return result

    rows = df.join(
        regions.select("code", pl.col("id").alias("region_id"), "path"),
        left_on="region_code",
        right_on="code",
        how="left",
    ).select("phone", "name", "work_unit", pl.col("level_code").alias("level"), "region_id", "path")
    say(f"writing {rows.height:,} cadres (写入数据库)…")
    _write(rows, existing, actor, result)
    return result


@transaction.atomic
def _write(
    rows: pl.DataFrame, existing: pl.DataFrame, actor: Any, result: CadreImportResult
) -> None:
    actor_id = getattr(actor, "pk", None)
    cmp = rows.join(existing.drop("region_path"), on="phone", how="left", suffix="_db")
    new = cmp.filter(pl.col("id").is_null())
    changed = cmp.filter(
        pl.col("id").is_not_null()
        & pl.any_horizontal([~pl.col(f).eq_missing(pl.col(f"{f}_db")) for f in CADRE_FIELDS])
    )
    created = Cadre.objects.bulk_create(
        [
            Cadre(
                name=r["name"],
                work_unit=r["work_unit"],
                level=r["level"],
                phone=r["phone"],
                region_id=r["region_id"],
            )
            for r in new.iter_rows(named=True)
        ],
        batch_size=2000,
    )
    if changed.height:
        now = timezone.now()
        Cadre.objects.bulk_update(
            [
                Cadre(
                    id=r["id"],
                    name=r["name"],
                    work_unit=r["work_unit"],
                    level=r["level"],
                    region_id=r["region_id"],
                    updated_at=now,
                )
                for r in changed.iter_rows(named=True)
            ],
            [*CADRE_FIELDS, "updated_at"],
            batch_size=2000,
        )
    result.created = len(created)
    result.updated = changed.height
    result.unchanged = rows.height - len(created) - changed.height
    path_of = dict(zip(rows["phone"].to_list(), rows["path"].to_list(), strict=True))
    events = [
        AuditEvent(
            actor_id=actor_id,
            action="pairing.cadre.created",
            object_type="pairing.cadre",
            object_id=str(c.pk),
            region_path=path_of[c.phone],
            data={"name": c.name, "level": c.level, "source": result.path},
        )
        for c in created
    ]
    events += [
        AuditEvent(
            actor_id=actor_id,
            action="pairing.cadre.updated",
            object_type="pairing.cadre",
            object_id=str(r["id"]),
            region_path=r["path"],
            data={
                "name": r["name"],
                "before": {f: r[f"{f}_db"] for f in CADRE_FIELDS},
                "source": result.path,
            },
        )
        for r in changed.iter_rows(named=True)
    ]
    audit_record_many(events)
