"""The batch evaluator: the same rules as ``scalar.py`` as one Ibis expression.

``relief_batch(cases)`` takes an Ibis table of cases (one row per household
and circumstance) and returns the same table with the decision columns added:

============================  ==================================================
``eligible``                  boolean; null where the row has a ``problem``
``amount``                    DECIMAL(18, 2) yuan; null where the row has a ``problem``
``bracket_reached``           highest bracket with a positive slice (0 if not eligible)
``cap_applied``               the ladder total exceeded the cap
``parameter_version``         the version of the parameters in force for the row
``problem``                   null, or the name of the input column that is wrong
============================  ==================================================

It is one expression (a join to a small frame of the parameters in force, then
column arithmetic), never a Python loop over rows, so it runs on DuckDB by
default and on any Ibis backend with decimals, ``greatest``/``least`` and joins.

Exactness (ARCHITECTURE.md, "Money is never a float"): money is converted to
integer fen (BIGINT) on entry. The one multiplication by a rate is done in
DECIMAL(18, 4) and rounded half up to the fen (the slices are never negative,
so "half away from zero" is "half up"); the result is cast back to BIGINT.
No floating-point operation touches an amount. The income test compares
without dividing: per-capita income rounded half up to the fen is below the
line *L* exactly when ``2 × (income − deducted) < (2L − 1) × members`` (in fen;
for a line of 0 the test is ``2 × (income − deducted) ≤ −members``), which is
the scalar path's "round, then compare" written in integers.

``relief_explain_row`` rebuilds the full explanation of any output row with the
scalar evaluator and checks that it gives the same amount under the same
parameter version.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import polars as pl
import pyarrow as pa

from fangpin.common.memtable import arrow_memtable
from fangpin.policy import spec
from fangpin.policy.explain import ReliefResult
from fangpin.policy.loader import (
    ERR_BEFORE_POLICY,
    ParameterSet,
    PolicyInputError,
    parameters_default,
)
from fangpin.policy.scalar import Case, relief_calculate

OUTPUT_COLUMNS: tuple[str, ...] = (
    "eligible",
    "amount",
    "bracket_reached",
    "cap_applied",
    "parameter_version",
    "problem",
)
REQUIRED_COLUMNS: tuple[str, ...] = (
    "county",
    "household_type",
    "circumstance",
    "members",
    "annual_income",
    "self_paid",
)
MONEY_COLUMNS: tuple[str, ...] = ("annual_income", "self_paid", "paid_this_year")

ERR_MISSING_COLUMN = "the cases table has no column {column!r}"
ERR_COLUMN_TYPE = "column {column!r} must be {expected}, not {got}"
ERR_MONEY_SCALE = "column {column!r} has {scale} decimal places; money is to the fen (at most two)"
ERR_OUTPUT_CLASH = "the cases table already has a column {column!r} that relief_batch adds"
ERR_DATE_TWICE = "pass either a 'date' column or on=..., not both"
ERR_NO_DATE = "the cases table has no 'date' column; pass on=<date>"
ERR_NO_COUNTIES = "the parameter set has no list of known counties; pass counties=[...]"
ERR_VERSION_CHANGED = (
    "the row was computed under parameter version {row} but version {now} is in force now; "
    "its explanation cannot be rebuilt from these parameters"
)
ERR_AMOUNT_DIFFERS = "the row's amount {row} differs from the scalar evaluator's {scalar}"

D18_0 = dt.Decimal(18, 0)
D18_2 = dt.Decimal(18, 2)
D18_4 = dt.Decimal(18, 4)
_FEN_PER_YUAN = 100
_OPEN_WIDTH = 10**15  # width of the open top bracket, in fen: above any allowed amount
_FAR_FUTURE = datetime.date(9999, 12, 31)
_P = "_p_"  # prefix of the parameter frame's columns

_FRAME_CACHE_SIZE = 64
_frame_cache: dict[tuple[str, datetime.date | None, tuple[str, ...]], pa.Table] = {}


def _fen(value: Decimal) -> int:
    return int(value * _FEN_PER_YUAN)


def parameter_frame(
    parameters: ParameterSet,
    *,
    on: datetime.date | None = None,
    counties: Iterable[str] | None = None,
) -> pa.Table:
    """The parameters in force as a small table, one row per county × period ×
    circumstance × household type (only the period containing ``on`` if given).

    Amounts are integer fen; rates are DECIMAL(18, 4); ladders are padded to the
    longest one with empty brackets (width 0, rate 0).
    """
    codes = tuple(sorted(counties if counties is not None else parameters.counties or ()))
    if not codes:
        raise ValueError(ERR_NO_COUNTIES)
    cache_key = (parameters.fingerprint, on, codes)
    cached = _frame_cache.get(cache_key)
    if cached is not None:
        return cached

    periods: list[tuple[str, datetime.date, datetime.date | None]] = []
    for code in codes:
        for start, end in parameters.periods(code):
            if on is None or (start <= on and (end is None or on < end)):
                periods.append((code, start, end))

    ladders = {
        (code, start, c): parameters.in_force(code, start).value(spec.brackets_path(c))
        for code, start, _ in periods
        for c in spec.CIRCUMSTANCES
    }
    width = max((len(ladder) for ladder in ladders.values()), default=1)

    rows: dict[str, list[Any]] = {name: [] for name in _frame_columns(width)}
    for code, start, end in periods:
        force = parameters.in_force(code, start)
        after_rigid = force.value(spec.BASIS) == spec.BASIS_AFTER_RIGID_EXPENSE
        line = _fen(force.value(spec.LINE))
        flags = {x: bool(force.value(spec.exclusion_path(x))) for x in spec.EXCLUSIONS}
        for circumstance in spec.CIRCUMSTANCES:
            ladder = ladders[(code, start, circumstance)]
            cap = _fen(force.value(spec.cap_path(circumstance)))
            starts = force.value(spec.start_line_path(circumstance))
            for household_type in spec.HOUSEHOLD_TYPES:
                rows[f"{_P}county"].append(code)
                rows[f"{_P}from"].append(start)
                rows[f"{_P}to"].append(end or _FAR_FUTURE)
                rows[f"{_P}circumstance"].append(circumstance)
                rows[f"{_P}household_type"].append(household_type)
                rows[f"{_P}line"].append(line)
                rows[f"{_P}after_rigid"].append(after_rigid)
                rows[f"{_P}start"].append(_fen(starts[household_type]))
                rows[f"{_P}cap"].append(cap)
                for index in range(width):
                    if index < len(ladder):
                        lower = _fen(ladder[index].threshold)
                        upper = (
                            _fen(ladder[index + 1].threshold)
                            if index + 1 < len(ladder)
                            else lower + _OPEN_WIDTH
                        )
                        rate = ladder[index].rate
                    else:
                        lower, upper, rate = 0, 0, Decimal(0)
                    rows[f"{_P}lower_{index}"].append(lower)
                    rows[f"{_P}width_{index}"].append(upper - lower)
                    rows[f"{_P}rate_{index}"].append(rate)
                for exclusion, applies in flags.items():
                    rows[f"{_P}x_{exclusion}"].append(applies)
                rows[f"{_P}version"].append(force.version)

    # built through polars: pyarrow's own ``pa.array`` imports pandas on first use (0.3 s of
    # a screening run, for a table of a few hundred rows)
    columns = _frame_columns(width)
    table = (
        pl.DataFrame(rows, schema={name: _POLARS[t] for name, t in columns.items()})
        .to_arrow()
        .cast(pa.schema(columns))
    )
    if len(_frame_cache) >= _FRAME_CACHE_SIZE:
        _frame_cache.clear()  # a long-running process asks for many dates; keep memory bounded
    _frame_cache[cache_key] = table
    return table


_POLARS = {
    pa.string(): pl.String,
    pa.date32(): pl.Date,
    pa.int64(): pl.Int64,
    pa.bool_(): pl.Boolean,
    pa.decimal128(18, 4): pl.Decimal(18, 4),
}


def _frame_columns(width: int) -> dict[str, pa.DataType]:
    columns: dict[str, pa.DataType] = {
        f"{_P}county": pa.string(),
        f"{_P}from": pa.date32(),
        f"{_P}to": pa.date32(),
        f"{_P}circumstance": pa.string(),
        f"{_P}household_type": pa.string(),
        f"{_P}line": pa.int64(),
        f"{_P}after_rigid": pa.bool_(),
        f"{_P}start": pa.int64(),
        f"{_P}cap": pa.int64(),
    }
    for index in range(width):
        columns[f"{_P}lower_{index}"] = pa.int64()
        columns[f"{_P}width_{index}"] = pa.int64()
        columns[f"{_P}rate_{index}"] = pa.decimal128(18, 4)
    for exclusion in spec.EXCLUSIONS:
        columns[f"{_P}x_{exclusion}"] = pa.bool_()
    columns[f"{_P}version"] = pa.string()
    return columns


def _check_schema(schema: ibis.Schema, *, on: datetime.date | None) -> None:
    for column in REQUIRED_COLUMNS:
        if column not in schema:
            raise ValueError(ERR_MISSING_COLUMN.format(column=column))
    for column in OUTPUT_COLUMNS:
        if column in schema:
            raise ValueError(ERR_OUTPUT_CLASH.format(column=column))
    for column in ("county", "household_type", "circumstance"):
        if not schema[column].is_string():
            raise TypeError(
                ERR_COLUMN_TYPE.format(column=column, expected="a string", got=schema[column])
            )
    if not schema["members"].is_integer():
        raise TypeError(
            ERR_COLUMN_TYPE.format(column="members", expected="an integer", got=schema["members"])
        )
    for column in MONEY_COLUMNS:
        if column not in schema:
            continue
        dtype = schema[column]
        if dtype.is_decimal():
            if dtype.scale is not None and dtype.scale > 2:
                raise TypeError(ERR_MONEY_SCALE.format(column=column, scale=dtype.scale))
        elif not dtype.is_integer():
            raise TypeError(
                ERR_COLUMN_TYPE.format(
                    column=column, expected="a decimal or an integer (yuan)", got=dtype
                )
            )
    for column in spec.EXCLUSIONS:
        if column in schema and not schema[column].is_boolean():
            raise TypeError(
                ERR_COLUMN_TYPE.format(column=column, expected="a boolean", got=schema[column])
            )
    if "date" in schema:
        if on is not None:
            raise ValueError(ERR_DATE_TWICE)
        if not (schema["date"].is_date() or schema["date"].is_timestamp()):
            raise TypeError(
                ERR_COLUMN_TYPE.format(column="date", expected="a date", got=schema["date"])
            )
    elif on is None:
        raise ValueError(ERR_NO_DATE)


def _to_fen(column: ir.NumericValue) -> ir.IntegerValue:
    """Yuan (decimal to the fen, or whole-yuan integer) to integer fen, exactly."""
    if column.type().is_decimal():
        return (column.cast(D18_2) * _FEN_PER_YUAN).cast("int64")
    return column.cast("int64") * _FEN_PER_YUAN


def relief_batch(
    cases: ir.Table,
    *,
    parameters: ParameterSet | None = None,
    on: datetime.date | None = None,
    counties: Iterable[str] | None = None,
) -> ir.Table:
    """Add the relief decision columns to a table of cases (one Ibis expression).

    Required columns: ``county``, ``household_type``, ``circumstance`` (strings),
    ``members`` (integer), ``annual_income``, ``self_paid`` (decimal yuan to the
    fen, or whole-yuan integers). Optional: ``paid_this_year`` (default 0),
    ``date`` (else pass ``on``), and the boolean exclusion flags
    ``public_payroll``, ``commercial_housing``, ``vehicle``, ``business``
    (missing or null = not found).

    Raises ``PolicyInputError`` (field ``date``) when ``on`` is before the policy.
    """
    params = parameters if parameters is not None else parameters_default()
    schema = cases.schema()
    _check_schema(schema, on=on)
    codes = tuple(sorted(counties if counties is not None else params.counties or ()))
    if not codes:
        raise ValueError(ERR_NO_COUNTIES)
    frame_table = parameter_frame(params, on=on, counties=codes)
    if on is not None and frame_table.num_rows == 0:
        start = min(params.policy_start(code) for code in codes)
        raise PolicyInputError(
            "date", ERR_BEFORE_POLICY.format(on=on.isoformat(), start=start.isoformat())
        )
    width = sum(1 for name in frame_table.column_names if name.startswith(f"{_P}rate_"))
    frame = arrow_memtable(frame_table)

    predicates = [
        cases.county == frame[f"{_P}county"],
        cases.circumstance == frame[f"{_P}circumstance"],
        cases.household_type == frame[f"{_P}household_type"],
    ]
    if on is None:
        row_date = cases.date.cast("date")
        predicates += [row_date >= frame[f"{_P}from"], row_date < frame[f"{_P}to"]]
    joined = cases.left_join(frame, predicates)
    p = {name: joined[name] for name in frame_table.column_names}

    def param(name: str) -> ir.Value:
        return p[f"{_P}{name}"]

    # Inputs in integer fen.
    self_paid = _to_fen(joined.self_paid)
    income = _to_fen(joined.annual_income)
    paid = _to_fen(joined.paid_this_year) if "paid_this_year" in schema else ibis.literal(0)
    members = joined.members.cast("int64")

    # 1. Income test: round(numerator / members, fen) < line, without dividing.
    numerator = income - param("after_rigid").ifelse(self_paid, 0)
    line = param("line")
    income_passed = (line == 0).ifelse(
        2 * numerator <= -members, 2 * numerator < (2 * line - 1) * members
    )
    # 2. Start line.
    start = param("start")
    above_start = self_paid > start
    # 3. Exclusions found by data comparison, where their parameter applies.
    excluded = ibis.literal(False)
    for exclusion in spec.EXCLUSIONS:
        if exclusion in schema:
            excluded = excluded | (joined[exclusion].fill_null(False) & param(f"x_{exclusion}"))
    eligible = income_passed & above_start & ~excluded

    # 4. Stepped relief: each slice × its rate, rounded half up to the fen.
    above = ibis.greatest(self_paid - start, 0)
    ladder_total: ir.IntegerValue = ibis.literal(0, "int64")
    reached: ir.IntegerValue = ibis.literal(0, "int64")
    for index in range(width):
        part = ibis.least(
            ibis.greatest(above - param(f"lower_{index}"), 0), param(f"width_{index}")
        )
        earned = (part.cast(D18_0) * param(f"rate_{index}").cast(D18_4)).round(0).cast("int64")
        ladder_total = ladder_total + earned
        reached = reached + (part > 0).cast("int64")
    # 5. Cap.  6. Netting of relief already paid.
    cap = param("cap")
    amount_fen = eligible.ifelse(ibis.greatest(ibis.least(ladder_total, cap) - paid, 0), 0)

    problem = _problem(joined, schema, codes, matched=param("version").notnull())
    ok = problem.isnull()
    null_bool = ibis.null().cast("boolean")
    result = joined.select(
        *[joined[name] for name in schema.names],
        eligible=ok.ifelse(eligible, null_bool),
        amount=ok.ifelse(
            (amount_fen.cast(D18_2) * ibis.literal(Decimal("0.01"), D18_2)).cast(D18_2),
            ibis.null().cast(D18_2),
        ),
        bracket_reached=ok.ifelse(eligible.ifelse(reached, 0), ibis.null()).cast("int8"),
        cap_applied=ok.ifelse(eligible & (ladder_total > cap), null_bool),
        parameter_version=param("version"),
        problem=problem,
    )
    return result


def _problem(
    joined: ir.Table, schema: ibis.Schema, codes: tuple[str, ...], *, matched: ir.BooleanValue
) -> ir.StringValue:
    """The name of the first wrong input column of a row, or null."""
    max_fen = int(spec.MAX_AMOUNT) * _FEN_PER_YUAN
    checks: list[tuple[ir.BooleanValue, str]] = [
        (joined.county.isnull() | ~joined.county.isin(list(codes)), "county"),
        (
            joined.household_type.isnull()
            | ~joined.household_type.isin(list(spec.HOUSEHOLD_TYPES)),
            "household_type",
        ),
        (
            joined.circumstance.isnull() | ~joined.circumstance.isin(list(spec.CIRCUMSTANCES)),
            "circumstance",
        ),
        (~matched, "date"),
        (joined.members.isnull() | (joined.members < 1), "members"),
    ]
    for column in MONEY_COLUMNS:
        if column in schema:
            fen = _to_fen(joined[column])
            checks.append((fen.isnull() | (fen < 0) | (fen > max_fen), column))
    return ibis.cases(*checks, else_=ibis.null().cast("string"))


def relief_explain_row(
    row: Mapping[str, Any],
    *,
    parameters: ParameterSet | None = None,
    on: datetime.date | None = None,
) -> ReliefResult:
    """Rebuild the full explanation of one row of ``relief_batch``'s output.

    Runs the scalar evaluator on the row's inputs and checks that the parameter
    version in force is the row's and that the amount is the same.
    """
    params = parameters if parameters is not None else parameters_default()
    row_date = row.get("date", on)
    if isinstance(row_date, datetime.datetime):
        row_date = row_date.date()
    paid = row.get("paid_this_year")
    case = Case(
        date=row_date,  # type: ignore[arg-type]
        county=row["county"],
        household_type=row["household_type"],
        circumstance=row["circumstance"],
        members=int(row["members"]),
        annual_income=Decimal(row["annual_income"]),
        self_paid=Decimal(row["self_paid"]),
        paid_this_year=Decimal(paid) if paid is not None else Decimal("0.00"),
        exclusions=frozenset(x for x in spec.EXCLUSIONS if row.get(x)),
    )
    result = relief_calculate(case, parameters=params)
    version = result.explanation.parameter_version
    if row.get("parameter_version") not in (None, version):
        raise ValueError(ERR_VERSION_CHANGED.format(row=row["parameter_version"], now=version))
    if row.get("amount") is not None and Decimal(row["amount"]) != result.amount:
        raise ValueError(ERR_AMOUNT_DIFFERS.format(row=row["amount"], scalar=result.amount))
    return result
