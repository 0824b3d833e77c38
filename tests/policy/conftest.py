"""Fixtures for the policy engine tests: the reference parameters, a DuckDB
connection, and helpers that run cases through the scalar and the batch path."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
import yaml

from fangpin.policy import spec
from fangpin.policy.batch import relief_batch
from fangpin.policy.loader import DEFAULT_ROOT, ParameterSet, parameters_load
from fangpin.regions import handan

COUNTY_CODES = sorted(handan.county_codes())
GUANGPING = "130432"  # 广平县
WEI = "130434"  # 魏县


@pytest.fixture(scope="session")
def reference() -> ParameterSet:
    """The shipped reference set of POLICY.md."""
    return parameters_load(known_counties=COUNTY_CODES)


@pytest.fixture(scope="session")
def duck():
    return ibis.duckdb.connect()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A writable copy of the shipped parameter tree."""
    root = tmp_path / "parameters"
    shutil.copytree(DEFAULT_ROOT, root)
    return root


def override_document(
    county: str, values: Mapping[str, Any], *, effective: str = "2017-01-01"
) -> dict:
    """A county override document setting each path to a value from ``effective`` on."""
    return {
        "county": county,
        "parameters": {
            path: {
                "metadata": {"source": "assumed", "reference": "test scenario"},
                "values": {datetime.date.fromisoformat(effective): {"value": _yaml_value(value)}},
            }
            for path, value in values.items()
        },
    }


def _yaml_value(value: Any) -> Any:
    """Values written in scenario YAML are read by the loader's rules: numbers as Decimal."""
    if isinstance(value, float):  # pragma: no cover — scenario files quote fractional numbers
        raise TypeError("write fractional parameter values as strings in scenario files")
    return value


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def arrow_cases(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Cases as an Arrow table with the types ``relief_batch`` expects."""
    rows = list(rows)
    columns: dict[str, pa.Array] = {
        "case_id": pa.array(range(len(rows)), pa.int64()),
        "date": pa.array([r["date"] for r in rows], pa.date32()),
        "county": pa.array([r["county"] for r in rows], pa.string()),
        "household_type": pa.array([r["household_type"] for r in rows], pa.string()),
        "circumstance": pa.array([r["circumstance"] for r in rows], pa.string()),
        "members": pa.array([r["members"] for r in rows], pa.int32()),
        "annual_income": pa.array(
            [Decimal(r["annual_income"]) for r in rows], pa.decimal128(18, 2)
        ),
        "self_paid": pa.array([Decimal(r["self_paid"]) for r in rows], pa.decimal128(18, 2)),
        "paid_this_year": pa.array(
            [Decimal(r.get("paid_this_year", "0")) for r in rows], pa.decimal128(18, 2)
        ),
    }
    for exclusion in spec.EXCLUSIONS:
        columns[exclusion] = pa.array(
            [exclusion in r.get("exclusions", ()) for r in rows], pa.bool_()
        )
    return pa.table(columns)


def run_batch(
    rows: Iterable[Mapping[str, Any]], parameters: ParameterSet, **kwargs: Any
) -> list[dict[str, Any]]:
    """Run rows through ``relief_batch`` on DuckDB; return the output rows in input order.

    SQL keeps no row order, so the rows carry a ``case_id`` through the batch.
    """
    table = ibis.memtable(arrow_cases(rows))
    if "on" in kwargs:
        table = table.drop("date")
    expr = relief_batch(table, parameters=parameters, counties=COUNTY_CODES, **kwargs)
    return sorted(expr.to_pyarrow().to_pylist(), key=lambda r: r["case_id"])
