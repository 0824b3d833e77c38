"""Set-based inserts of a polars frame into a model's table (``bulk_insert``).

``QuerySet.bulk_create`` builds a model instance and prepares every value of
every row in Python — for the hundred thousand rows of a city-wide screening
that costs more than the database does. ``bulk_insert`` sends the frame's
rows straight to the database — ``COPY … FROM STDIN`` on PostgreSQL, one
JSON array per batch on SQLite — with the values already in their database form:
integer fen for money, text for choices, JSON text for JSON fields, and the
backend's own form for datetimes.
Only for rows the caller has validated; model ``save()`` logic does not run.

``bulk_update`` changes existing rows the same way: one ``UPDATE … FROM`` the frame (an
array per column on PostgreSQL, a JSON array on SQLite), instead of ``QuerySet.bulk_update``'s
model instance per row and ``CASE WHEN`` per value.

``in_values`` is the other direction: "the rows whose key is one of these
100,000 values" as one statement with one parameter, instead of twenty chunked
``IN (…)`` lists that Django expands value by value.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import polars as pl
from django.db import connection, models
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL


def db_datetime(value: dt.datetime) -> Any:
    """A timezone-aware datetime as the current backend stores it."""
    return connection.ops.adapt_datetimefield_value(value)


def db_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def bulk_insert(model: type[models.Model], frame: pl.DataFrame, *, batch_rows: int = 50_000) -> int:
    """Insert ``frame``'s rows into ``model``'s table; its columns are field attnames."""
    if frame.height == 0:
        return 0
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name).column for name in frame.columns]
    # table and column names come from the model's meta and are quoted; values are parameters
    names = ", ".join(map(quote, columns))
    if connection.vendor == "postgresql":  # COPY: one stream, no per-row statement at all
        copy_sql = f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
            for row in frame.iter_rows():
                copy.write_row(row)
        return frame.height
    # SQLite: each batch is one JSON array of rows that SQLite unpacks itself (json_each) —
    # half the time of executemany, which binds every value of every row from Python
    keys = [f"c{i}" for i in range(len(columns))]
    picks = ", ".join(f"value ->> '$.{key}'" for key in keys)
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({names}) SELECT {picks} FROM json_each(%s)"  # noqa: S608
    renamed = frame.rename(dict(zip(frame.columns, keys, strict=True)))
    with connection.cursor() as cursor:
        for start in range(0, frame.height, batch_rows):
            cursor.execute(sql, [renamed.slice(start, batch_rows).write_json()])
    return frame.height


def bulk_update(model: type[models.Model], frame: pl.DataFrame, *, key: str = "id") -> int:
    """Set each row's other columns on the row of ``model`` whose ``key`` is the row's ``key``;
    the columns are field attnames, the values in their database form (as ``bulk_insert``)."""
    if frame.height == 0:
        return 0
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    fields = [model._meta.get_field(name) for name in frame.columns]
    columns = [quote(f.column) for f in fields]
    key_column = quote(model._meta.get_field(key).column)
    sets = [c for c, name in zip(columns, frame.columns, strict=True) if name != key]
    if connection.vendor == "postgresql":  # one array per column, unnested side by side
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        assign = ", ".join(f"{c} = v.{c}" for c in sets)
        sql = (
            f"UPDATE {table} SET {assign} FROM unnest({arrays}) AS v({', '.join(columns)}) "  # noqa: S608
            f"WHERE {table}.{key_column} = v.{key_column}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [frame[name].to_list() for name in frame.columns])
        return frame.height
    keys = {name: f"c{i}" for i, name in enumerate(frame.columns)}  # SQLite: one JSON array
    assign = ", ".join(
        f"{c} = v.value ->> '$.{keys[name]}'"
        for c, name in zip(columns, frame.columns, strict=True)
        if name != key
    )
    sql = (
        f"UPDATE {table} SET {assign} FROM json_each(%s) AS v "  # noqa: S608
        f"WHERE {table}.{key_column} = v.value ->> '$.{keys[key]}'"
    )
    renamed = frame.rename(keys)
    with connection.cursor() as cursor:
        for start in range(0, frame.height, 50_000):
            cursor.execute(sql, [renamed.slice(start, 50_000).write_json()])
    return frame.height


def _values_subquery(values: list[Any]) -> tuple[str, list[Any]]:
    """A sub-query listing ``values``, sent as one parameter: an array on PostgreSQL (typed:
    a literal array does not carry its type), a JSON array unpacked by ``json_each`` on
    SQLite. Either way the database looks each value up in the column's index."""
    if connection.vendor == "postgresql":
        kind = "bigint" if all(isinstance(v, int) for v in values) else "text"
        return f"SELECT unnest(%s::{kind}[])", [values]
    return "SELECT value FROM json_each(%s)", [json.dumps(values)]


def in_values(column_sql: str, values: Sequence[str] | Sequence[int]) -> tuple[str, list[Any]]:
    """A ``WHERE`` condition "``column_sql`` is one of ``values``" and its one parameter,
    for raw SQL (``filter_in`` for a queryset)."""
    subquery, params = _values_subquery(list(values))
    return f"{column_sql} IN ({subquery})", params


def filter_in(qs: QuerySet, field: str, values: Sequence[str] | Sequence[int]) -> QuerySet:
    """``qs`` filtered to ``field`` in ``values``, the values sent as one parameter instead
    of one parameter per value, in chunks."""
    values = list(values)
    if not values:
        return qs.none()
    subquery, params = _values_subquery(values)
    return qs.filter(**{f"{field}__in": RawSQL(subquery, params)})  # noqa: S611 -- no user SQL
