"""Reading the lake: each feed as one Ibis table over all its accepted batches.

``lake_table(con, kind)`` scans ``LAKE_DIR/<kind>/year=*/batch-*.parquet``
(temporary files start with a dot and are never matched); a feed with no batch
yet is an empty in-memory table of the same schema, so an expression built on
it still runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from fangpin.common.memtable import arrow_memtable

from . import schemas as s
from .services import lake_dir

_ARROW = {
    s.MONEY: pa.int64(),
    s.DATE: pa.date32(),
    s.YEAR: pa.int32(),
    s.BOOL: pa.bool_(),
}


def lake_schema(kind: str) -> pa.Schema:
    schema = s.SCHEMAS[kind]
    fields = [pa.field("source_row", pa.int64())]
    fields += [pa.field(c.field, _ARROW.get(c.type, pa.string())) for c in schema.columns]
    fields += [pa.field("period_year", pa.int32()), pa.field("batch", pa.string())]
    return pa.schema(fields)


def lake_files(
    kind: str, *, root: Path | None = None, years: Iterable[int] | None = None
) -> list[Path]:
    """The accepted batch files of ``kind`` (only those of ``years``, a partition pruning)."""
    base = (root or lake_dir()) / kind
    if not base.is_dir():
        return []
    files = sorted(base.glob("year=*/batch-*.parquet"))
    if years is not None:
        wanted = {f"year={y}" for y in years}
        files = [f for f in files if f.parent.name in wanted]
    return files


def lake_table(
    con: ibis.BaseBackend,
    kind: str,
    *,
    root: Path | None = None,
    years: Iterable[int] | None = None,
) -> ir.Table:
    files = lake_files(kind, root=root, years=years)
    if not files:
        return arrow_memtable(lake_schema(kind).empty_table())
    return con.read_parquet([str(f) for f in files], hive_partitioning=False)
