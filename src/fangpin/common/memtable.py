"""``arrow_memtable``: an Arrow table as an in-memory Ibis table, without importing pandas.

``ibis.memtable(pyarrow_table)`` resolves its implementation lazily and, doing so,
imports every pyarrow module Ibis knows of — ``pyarrow.dataset`` among them, which
imports pandas: 0.3 s of a command that needs none of it. A polars frame over the
same buffers resolves through polars only; the schema is given, so the types are
exactly the Arrow table's.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import polars as pl
import pyarrow as pa


def arrow_memtable(table: pa.Table) -> ir.Table:
    return ibis.memtable(pl.from_arrow(table), schema=ibis.Schema.from_pyarrow(table.schema))
