"""Reading the lake: each feed as one Ibis table over its accepted batches.

The lake is what its manifest says it is. ``lake_manifest`` reads, in one query,
the files of every batch whose ``FeedBatch`` row is committed with status
*accepted*; ``lake_files`` and ``lake_table`` read those files and no other. A
file that is in the lake's folders without a committed manifest row — an import
killed after renaming its file into place but before its transaction committed —
is an orphan: no read sees it, and the retry of the same file overwrites or
removes it (``services.feed_import``). A temporary file (``.batch-….tmp``) is never
named by a manifest either.

A read that takes several feeds (the screening, a case's data comparison) takes
one manifest for all of them, so every feed is read as of the same moment.

A feed with no batch yet is an empty in-memory table of the lake's schema, so an
expression built on it still runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from fangpin.common.memtable import arrow_memtable

from . import schemas as s
from .models import BatchStatus, FeedBatch
from .services import lake_dir

_ARROW = {
    s.MONEY: pa.int64(),
    s.DATE: pa.date32(),
    s.YEAR: pa.int32(),
    s.BOOL: pa.bool_(),
}

# kind -> the files of its accepted batches, relative to the lake (``FeedBatch.files``)
Manifest = Mapping[str, Sequence[str]]


def lake_schema(kind: str) -> pa.Schema:
    schema = s.SCHEMAS[kind]
    fields = [pa.field("source_row", pa.int64())]
    fields += [pa.field(c.field, _ARROW.get(c.type, pa.string())) for c in schema.columns]
    fields += [pa.field("period_year", pa.int32()), pa.field("batch", pa.string())]
    return pa.schema(fields)


def lake_manifest(kinds: Iterable[str] | None = None) -> dict[str, list[str]]:
    """The files of every committed, accepted batch (of ``kinds``), per kind: one query."""
    qs = FeedBatch.objects.filter(status=BatchStatus.ACCEPTED)
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    manifest: dict[str, list[str]] = {}
    for kind, files in qs.order_by().values_list("kind", "files"):
        manifest.setdefault(kind, []).extend(files)
    return manifest


def lake_files(
    kind: str,
    *,
    root: Path | None = None,
    years: Iterable[int] | None = None,
    manifest: Manifest | None = None,
) -> list[Path]:
    """The files of ``kind``'s accepted batches (only those of ``years``, a partition pruning),
    as ``manifest`` names them — by default the manifest as committed now."""
    if manifest is None:
        manifest = lake_manifest([kind])
    wanted = None if years is None else {f"year={y}" for y in years}
    base = root or lake_dir()
    return sorted(
        base / name
        for name in manifest.get(kind, ())
        if wanted is None or PurePosixPath(name).parent.name in wanted
    )


def lake_years(kind: str, *, manifest: Manifest | None = None) -> set[int]:
    """The years ``kind``'s accepted batches hold rows of (their ``year=YYYY`` partitions)."""
    if manifest is None:
        manifest = lake_manifest([kind])
    return {int(PurePosixPath(name).parent.name[5:]) for name in manifest.get(kind, ())}


def lake_table(
    con: ibis.BaseBackend,
    kind: str,
    *,
    root: Path | None = None,
    years: Iterable[int] | None = None,
    manifest: Manifest | None = None,
) -> ir.Table:
    files = lake_files(kind, root=root, years=years, manifest=manifest)
    if not files:
        return arrow_memtable(lake_schema(kind).empty_table())
    return con.read_parquet([str(f) for f in files], hive_partitioning=False)
