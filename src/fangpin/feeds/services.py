"""Importing a department feed file into the lake (``feed_import``).

1. The file's SHA-256 is computed; a file already accepted for this kind is a
   no-op (the existing batch is returned).
2. It is read as text and checked set-based against its schema
   (``validate.feed_check``). Rejected rows go to the data-quality report.
3. If the rejected share is above the threshold (default 1%) — or the file
   cannot be read at all — the batch is *refused* whole: a manifest row with the
   report, nothing in the lake.
4. Otherwise the valid rows are written, one Parquet file per year, under a
   temporary name of this import's own in ``LAKE_DIR/<kind>/year=YYYY/`` and
   flushed to disk; then, in one transaction, the manifest row is created, the
   files are renamed into place (and their folders flushed), and the transaction
   commits.

The lake is read through the manifest only (``lake.lake_files``): a batch exists
for a reader when, and only when, its ``FeedBatch`` row has committed, and by then
its files are complete and in place. So a process killed at any point leaves
nothing readable half done:

- before the temporary files are complete, or after some or all renames but
  before the commit: files without a committed manifest row — orphans no read
  sees. The retry of the same file removes them or renames over them (the final
  name is the checksum's, ``batch-<sha16>.parquet``) and imports the batch once.
- after the commit: the batch is complete; the retry is a no-op.

The manifest row is created before the renames, so an import holds its file's key
(one accepted batch per kind and checksum, a unique constraint) from its first
rename to its commit: no other import of the same file renames over it meanwhile,
and the leftovers of an earlier, killed import of the file are its own to remove.
An ordinary failure (an exception) removes this import's files and rolls the row
back — unless the commit itself failed, whose outcome is not known here: then the
files stay, as orphans at worst.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangpin.common.audit import audit_record
from fangpin.common.errors import DomainError
from fangpin.common.tabular import PROBLEM_SCHEMA, ROW, Problem, TableError, problems_to_xlsx

from . import schemas as s
from .hooks import batch_accepted_fire
from .models import BatchStatus, FeedBatch
from .validate import feed_check, feed_read

DEFAULT_MAX_REJECTED_SHARE = Decimal("0.01")

ERR_UNKNOWN_KIND = "unknown feed {kind!r}; one of: {kinds} (数据类别无效)"
ERR_TOO_MANY_REJECTED = (
    "{rejected:,} of {total:,} rows rejected ({share:.1%}), more than the {limit:.1%} allowed; "
    "the batch is refused whole (拒收行数超过阈值，整批拒收)"
)
ERR_UNREADABLE = "the file cannot be read; see the report (文件无法读取，见报告)"
ERR_OUTSIDE_REGION = gettext_lazy("the row belongs to a region outside yours")

STAGES = 4  # checksum, read, check, write: the progress a job shows


class Progress(Protocol):
    def __call__(self, step: str, done: int | None = ..., total: int | None = ...) -> None: ...


# ``FeedBatch.problems``: the report's problems, each with its field and what places its row
PROBLEM_COLUMNS = {
    **PROBLEM_SCHEMA,  # row, column (as written in the file), value, message
    "field": pl.String,  # the schema's field of the column (null for a whole-file problem)
    "id_number": pl.String,  # the row's ID number, as written (upper case)
    "village_code": pl.String,  # the row's village code, where the feed has one
}


class FeedError(DomainError):
    """A feed import refused as a whole (unknown kind, unreadable file)."""


@dataclass
class FeedImportResult:
    batch: FeedBatch
    duplicate: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.batch.status == BatchStatus.ACCEPTED

    def summary(self) -> str:
        b = self.batch
        if self.duplicate:
            return (
                f"{b.kind}: this file was already imported as batch #{b.pk} on "
                f"{b.imported_at:%Y-%m-%d}; nothing changed (该文件已导入，未作改动)"
            )
        if not self.ok:
            return f"{b.kind}: batch #{b.pk} refused (已拒收): {b.refusal}"
        return (
            f"{b.kind}: batch #{b.pk} accepted (已入库): {b.rows_accepted:,} rows into years "
            f"{', '.join(map(str, b.years))}; {b.rows_rejected:,} rejected "
            f"(see the data-quality report 数据质量报告)"
        )


def lake_dir() -> Path:
    return Path(settings.LAKE_DIR)


def file_checksum(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def feed_import(
    *,
    kind: str,
    path: str | os.PathLike,
    actor: Any = None,
    max_rejected_share: Decimal = DEFAULT_MAX_REJECTED_SHARE,
    display_name: str | None = None,
    today: dt.date | None = None,
    region_path: str = "",
    progress: Progress | None = None,
) -> FeedImportResult:
    """Validate ``path`` as a ``kind`` feed and write its valid rows to the lake as one batch.

    ``region_path``: the sender's region (a county's department data officer sends that
    county's rows); a row placed in another region (``selectors.rows_placed``) is rejected
    like a bad row. ``progress(step, done, total)`` hears each of the four stages.
    """
    schema = s.SCHEMAS.get(kind)
    if schema is None:
        raise FeedError(ERR_UNKNOWN_KIND.format(kind=kind, kinds=", ".join(s.KINDS)))
    name = display_name or Path(path).name
    if not Path(path).is_file():
        raise FeedError(f"{name}: no such file (文件不存在)")
    say = progress or (lambda step, done=None, total=None: None)
    say(_("Computing the file's checksum"), 0, STAGES)
    checksum = file_checksum(path)
    existing = FeedBatch.objects.filter(
        kind=kind, checksum=checksum, status=BatchStatus.ACCEPTED
    ).first()
    if existing is not None:
        return FeedImportResult(batch=existing, duplicate=True)

    base = {
        "kind": kind,
        "department": schema.department_zh,
        "source_name": name[:255],
        "region_path": region_path,
    }
    say(_("Reading the file"), 1, STAGES)
    try:
        df, header = feed_read(path, schema, max_bytes=settings.FANGPIN_IMPORT_MAX_BYTES)
    except TableError as exc:
        by_row = _problems_by_row(_problem_frame(exc.problems))
        batch = _refuse(base, checksum, exc.problems, by_row, ERR_UNREADABLE, 0, 0, actor)
        return FeedImportResult(batch=batch, problems=exc.problems)

    say(_("Checking every row"), 2, STAGES)
    valid, problem_frame = feed_check(df, header, schema, today=today)
    if region_path:
        valid, problem_frame = _keep_region(valid, problem_frame, schema, header, region_path)
    problems = [
        Problem(r["row"], r["column"], r["message"], r["value"])
        for r in problem_frame.iter_rows(named=True)
    ]
    by_row = _problems_by_row(problem_frame, rows=df, header=header)
    total = df.height
    rejected = total - valid.height
    share = Decimal(rejected) / Decimal(total)
    if share > max_rejected_share:
        refusal = ERR_TOO_MANY_REJECTED.format(
            rejected=rejected, total=total, share=float(share), limit=float(max_rejected_share)
        )
        batch = _refuse(base, checksum, problems, by_row, refusal, total, rejected, actor)
        return FeedImportResult(batch=batch, problems=problems)

    say(_("Writing the batch into the lake"), 3, STAGES)
    try:
        batch = _accept(
            base=base,
            checksum=checksum,
            schema=schema,
            valid=valid,
            problems=problems,
            problems_by_row=by_row,
            total=total,
            actor=actor,
        )
    except IntegrityError:
        # the same file, accepted by an import that ran alongside this one
        existing = FeedBatch.objects.filter(
            kind=kind, checksum=checksum, status=BatchStatus.ACCEPTED
        ).first()
        if existing is None:
            raise
        return FeedImportResult(batch=existing, duplicate=True)
    return FeedImportResult(batch=batch, problems=problems)


def _keep_region(
    valid: pl.DataFrame,
    problems: pl.DataFrame,
    schema: s.FeedSchema,
    header: dict[str, str],
    region_path: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``valid`` without the rows placed outside ``region_path``, which join ``problems``."""
    from .selectors import rows_placed

    has_village = "village_code" in valid.columns
    rows = valid.select(
        pl.col("source_row").alias("row"),
        pl.col("id_number").cast(pl.String),
        (pl.col("village_code") if has_village else pl.lit(None))
        .cast(pl.String)
        .alias("village_code"),
    )
    placed = rows_placed(rows)
    outside = placed.filter(
        pl.col("path").is_not_null() & ~pl.col("path").str.starts_with(region_path)
    )
    if outside.is_empty():
        return valid, problems
    where = "village_code" if has_village else "id_number"
    found = outside.select(
        pl.col("row"),
        pl.lit(header.get(where, where)).alias("column"),
        pl.col(where).alias("value"),
        pl.lit(str(ERR_OUTSIDE_REGION)).alias("message"),
    ).cast(PROBLEM_SCHEMA)  # type: ignore[arg-type]
    kept = valid.filter(~pl.col("source_row").is_in(outside["row"].implode()))
    return kept, pl.concat([problems.cast(PROBLEM_SCHEMA), found]).sort(  # type: ignore[arg-type]
        ["row", "column", "message"]
    )


@transaction.atomic
def _refuse(
    base: dict,
    checksum: str,
    problems: list[Problem],
    problems_by_row: bytes,
    refusal: str,
    total: int,
    rejected: int,
    actor: Any,
) -> FeedBatch:
    batch = FeedBatch.objects.create(
        **base,
        status=BatchStatus.REFUSED,
        checksum=checksum,
        rows_total=total,
        rows_rejected=rejected,
        refusal=refusal[:255],
        report_xlsx=problems_to_xlsx(problems, source=base["source_name"]),
        problems=problems_by_row,
        imported_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="feeds.batch.refused",
        obj=batch,
        reason=refusal[:255],
        data={"kind": batch.kind, "rows": total, "rejected": rejected},
    )
    return batch


def _problem_frame(problems: list[Problem]) -> pl.DataFrame:
    return pl.DataFrame(
        [(p.row, p.column, p.value, p.message) for p in problems],
        schema=PROBLEM_SCHEMA,
        orient="row",
    )


def _problems_by_row(
    problems: pl.DataFrame,
    *,
    rows: pl.DataFrame | None = None,
    header: dict[str, str] | None = None,
) -> bytes:
    """The problems with their fields and each row's ID number and village code (from the
    file's ``rows`` as read, text), as Parquet: what a report scoped to a region is made of."""
    field_of = {written: name for name, written in (header or {}).items()}
    frame = problems.with_columns(
        pl.col("column")
        .replace_strict(field_of, default=None, return_dtype=pl.String)
        .alias("field")
    )
    place = []
    for name in ("id_number", "village_code"):
        if rows is not None and name in rows.columns:
            place.append(pl.col(name).str.to_uppercase().alias(name))
        else:
            place.append(pl.lit(None, dtype=pl.String).alias(name))
    if rows is not None:
        frame = frame.join(rows.select(pl.col(ROW).alias("row"), *place), on="row", how="left")
    else:
        frame = frame.with_columns(place)
    buf = io.BytesIO()
    frame.select(list(PROBLEM_COLUMNS)).cast(PROBLEM_COLUMNS).write_parquet(buf)  # type: ignore[arg-type]
    return buf.getvalue()


def _write_temporary(
    schema: s.FeedSchema, valid: pl.DataFrame, checksum: str
) -> list[tuple[Path, Path]]:
    """Each year's rows as a Parquet file under a temporary name of this import's own,
    flushed to disk; the (temporary, final) paths."""
    tag = checksum[:16]
    own = secrets.token_hex(6)  # two imports of one file never write the same temporary file
    frame = valid.with_columns(pl.lit(tag).alias("batch"))
    out: list[tuple[Path, Path]] = []
    try:
        for (year,), part in frame.group_by(["period_year"], maintain_order=True):
            folder = lake_dir() / schema.kind / f"year={year}"
            folder.mkdir(parents=True, exist_ok=True)
            final = folder / f"batch-{tag}.parquet"
            temporary = folder / f".batch-{tag}.{own}.tmp"
            out.append((temporary, final))
            part.sort("source_row").write_parquet(temporary)
            _fsync(temporary)
    except BaseException:
        _discard([temporary for temporary, _ in out])
        raise
    return out


def _accept(
    *,
    base: dict,
    checksum: str,
    schema: s.FeedSchema,
    valid: pl.DataFrame,
    problems: list[Problem],
    problems_by_row: bytes,
    total: int,
    actor: Any,
) -> FeedBatch:
    files = _write_temporary(schema, valid, checksum)
    period_col = valid[schema.period]
    if schema.column(schema.period).type == s.YEAR:
        start = dt.date(int(period_col.min()), 1, 1)
        end = dt.date(int(period_col.max()), 12, 31)
    else:
        start, end = period_col.min(), period_col.max()
    renamed: list[Path] = []
    committing = False
    try:
        with transaction.atomic():
            # first the row: from here to the commit this import holds the file's key
            batch = FeedBatch.objects.create(
                **base,
                status=BatchStatus.ACCEPTED,
                checksum=checksum,
                period_from=start,
                period_to=end,
                years=sorted(int(y) for y in valid["period_year"].unique()),
                rows_total=total,
                rows_accepted=valid.height,
                rows_rejected=total - valid.height,
                files=[str(final.relative_to(lake_dir())) for _, final in files],
                report_xlsx=problems_to_xlsx(problems, source=base["source_name"])
                if problems
                else b"",
                problems=problems_by_row if problems else b"",
                imported_by=actor if getattr(actor, "pk", None) else None,
            )
            audit_record(
                actor=actor,
                action="feeds.batch.accepted",
                obj=batch,
                data={"kind": batch.kind, "rows": valid.height, "checksum": checksum},
            )
            batch_accepted_fire(batch=batch, actor=actor)
            _leftovers_remove(schema.kind, checksum[:16], keep=files)
            for temporary, final in files:
                _rename(temporary, final)
                renamed.append(final)
            _sync_folders(sorted({final.parent for _, final in files}))
            committing = True  # leaving the block commits
    except BaseException:
        _discard([temporary for temporary, _ in files] + ([] if committing else renamed))
        raise
    return batch


def _leftovers_remove(kind: str, tag: str, *, keep: list[tuple[Path, Path]]) -> None:
    """Remove what an earlier import of this same file left when it was killed: its
    temporary files, and its renamed files in years this import does not write (those in
    the years it writes are renamed over). No committed manifest row names them — this
    import holds the file's key — so no read sees them."""
    ours = {path for pair in keep for path in pair}
    base = lake_dir() / kind
    left = [*base.glob(f"year=*/batch-{tag}.parquet"), *base.glob(f"year=*/.batch-{tag}.*.tmp")]
    _discard([path for path in left if path not in ours])


def _rename(temporary: Path, final: Path) -> None:
    """Move a finished file into place (atomic on one file system; replaces an orphan)."""
    os.replace(temporary, final)


def _fsync(path: Path) -> None:
    """Flush a written file to disk, so that a batch in the manifest survives a power cut."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _sync_folders(folders: list[Path]) -> None:
    """Flush the folders' entries: the renames are on disk before the manifest commits."""
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _discard(paths: list[Path]) -> None:
    """Remove files no committed manifest row names (this import's, or a killed one's)."""
    for path in paths:
        path.unlink(missing_ok=True)
