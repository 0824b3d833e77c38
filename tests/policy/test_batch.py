"""The batch evaluator: one Ibis expression over a table of cases, exact to the fen,
with compact columns and a full explanation rebuilt for any row."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
import pytest

from fangpin.policy import batch, spec
from fangpin.policy.batch import parameter_frame, relief_batch, relief_explain_row
from fangpin.policy.loader import PolicyInputError, parameters_load

from .conftest import COUNTY_CODES, GUANGPING, WEI, arrow_cases, override_document, run_batch

D = datetime.date
GUAN = {
    "date": D(2019, 9, 1),
    "county": GUANGPING,
    "household_type": "marginal",
    "circumstance": "education",
    "members": 6,
    "annual_income": "27588",
    "self_paid": "16400",
}


def test_the_batch_adds_compact_decision_columns(reference):
    expr = relief_batch(ibis.memtable(arrow_cases([GUAN])), parameters=reference)
    schema = expr.schema()
    assert schema["eligible"] == dt.boolean
    assert schema["amount"] == dt.Decimal(18, 2)
    assert schema["bracket_reached"].is_integer()
    assert schema["cap_applied"] == dt.boolean
    assert schema["parameter_version"].is_string()
    # the input columns pass through untouched
    assert [c for c in schema.names if c not in batch.OUTPUT_COLUMNS] == arrow_cases(
        [GUAN]
    ).column_names
    [row] = expr.to_pyarrow().to_pylist()
    assert row["amount"] == Decimal("4540.00") and row["eligible"] is True
    assert (row["bracket_reached"], row["cap_applied"], row["problem"]) == (2, False, None)
    assert row["parameter_version"] == reference.in_force(GUANGPING, GUAN["date"]).version


def test_the_batch_is_one_expression_without_floating_point(reference):
    expr = relief_batch(ibis.memtable(arrow_cases([GUAN])), parameters=reference)
    sql = ibis.to_sql(expr, dialect="duckdb").upper()
    assert sql.count("SELECT") <= 3  # the cases, the parameter frame, the projection
    for word in ("DOUBLE", "FLOAT", "REAL", "FLOOR"):
        assert word not in sql
    assert not re.search(r"[^/*]/[^/*]", sql), "a division would be floating point in DuckDB"


def test_a_date_for_every_row_can_be_given_once(reference):
    rows = [{**GUAN, "date": D(2018, 9, 1)}, {**GUAN, "circumstance": "medical"}]
    by_column = run_batch(rows, reference)
    at_once = run_batch(rows, reference, on=D(2018, 9, 1))
    assert [r["amount"] for r in at_once] == [r["amount"] for r in by_column]
    assert at_once[0]["parameter_version"] == by_column[0]["parameter_version"]


def test_a_date_before_the_policy_given_once_is_refused(reference):
    with pytest.raises(PolicyInputError) as info:
        run_batch([GUAN], reference, on=D(2016, 1, 1))
    assert info.value.field == "date"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"county": "130499"}, "county"),
        ({"household_type": "poor"}, "household_type"),
        ({"circumstance": "housing"}, "circumstance"),
        ({"date": D(2016, 12, 31)}, "date"),
        ({"members": 0}, "members"),
        ({"annual_income": "-1"}, "annual_income"),
        ({"self_paid": "-0.01"}, "self_paid"),
        ({"paid_this_year": "-5"}, "paid_this_year"),
    ],
)
def test_a_row_the_rules_cannot_evaluate_names_its_problem_column(reference, change, problem):
    good, bad = run_batch([GUAN, {**GUAN, **change}], reference)
    assert good["problem"] is None and good["amount"] == Decimal("4540.00")
    assert bad["problem"] == problem
    assert bad["eligible"] is None and bad["amount"] is None


def test_money_may_come_as_whole_yuan_integers(reference):
    table = pa.table(
        {
            "county": [GUANGPING],
            "household_type": ["marginal"],
            "circumstance": ["education"],
            "members": [6],
            "annual_income": pa.array([27588], pa.int64()),
            "self_paid": pa.array([16400], pa.int32()),
        }
    )
    [row] = (
        relief_batch(ibis.memtable(table), parameters=reference, on=D(2019, 9, 1))
        .to_pyarrow()
        .to_pylist()
    )
    assert row["amount"] == Decimal("4540.00")


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda t: t.drop("members"), ValueError, "no column 'members'"),
        (lambda t: t.mutate(amount=ibis.literal(1)), ValueError, "already has a column 'amount'"),
        (
            lambda t: t.mutate(self_paid=t.self_paid.cast("string")),
            TypeError,
            "'self_paid' must be",
        ),
        (
            lambda t: t.mutate(self_paid=t.self_paid.cast("float64")),
            TypeError,
            "'self_paid' must be",
        ),
        (
            lambda t: t.mutate(self_paid=t.self_paid.cast(dt.Decimal(18, 3))),
            TypeError,
            "3 decimal places",
        ),
        (lambda t: t.mutate(members=t.members.cast("string")), TypeError, "'members' must be"),
        (lambda t: t.mutate(vehicle=ibis.literal("yes")), TypeError, "'vehicle' must be"),
        (lambda t: t.drop("date"), ValueError, "no 'date' column"),
    ],
)
def test_a_table_of_the_wrong_shape_is_refused_naming_the_column(reference, mutate, error, message):
    table = mutate(ibis.memtable(arrow_cases([GUAN])))
    with pytest.raises(error, match=re.escape(message)):
        relief_batch(table, parameters=reference)


def test_a_date_column_and_a_date_given_once_are_not_both_allowed(reference):
    with pytest.raises(ValueError, match="not both"):
        relief_batch(ibis.memtable(arrow_cases([GUAN])), parameters=reference, on=D(2019, 1, 1))


def test_optional_columns_default_to_nothing_paid_and_no_exclusion(reference):
    table = ibis.memtable(arrow_cases([GUAN])).drop("paid_this_year", *spec.EXCLUSIONS)
    [row] = relief_batch(table, parameters=reference).to_pyarrow().to_pylist()
    assert row["amount"] == Decimal("4540.00")


def test_county_overrides_apply_to_their_county_and_period_only():
    parameters = parameters_load(
        known_counties=COUNTY_CODES,
        county_documents={
            WEI: override_document(WEI, {"relief.education.cap": 3000}, effective="2019-01-01")
        },
    )
    rows = [
        {**GUAN, "county": WEI, "date": D(2018, 9, 1)},
        {**GUAN, "county": WEI},
        {**GUAN},
    ]
    out = run_batch(rows, parameters)
    assert [r["amount"] for r in out] == [
        Decimal("4540.00"),
        Decimal("3000.00"),
        Decimal("4540.00"),
    ]
    assert [r["cap_applied"] for r in out] == [False, True, False]
    assert len({r["parameter_version"] for r in out}) == 3


def test_the_parameter_frame_has_a_row_per_county_period_circumstance_and_household_type(reference):
    frame = parameter_frame(reference)
    periods = len(reference.periods())
    assert frame.num_rows == 18 * periods * 4 * 4
    one_day = parameter_frame(reference, on=D(2019, 9, 1))
    assert one_day.num_rows == 18 * 4 * 4
    assert pa.types.is_decimal(one_day.schema.field("_p_rate_0").type)


def test_the_full_explanation_of_any_row_can_be_rebuilt(reference):
    rows = [
        GUAN,
        {**GUAN, "circumstance": "medical", "self_paid": "45700", "paid_this_year": "100"},
    ]
    for row in run_batch(rows, reference):
        result = relief_explain_row(row, parameters=reference)
        assert result.amount == row["amount"]
        assert result.explanation.parameter_version == row["parameter_version"]
        assert result.explanation.bracket_reached == row["bracket_reached"]


def test_an_explanation_is_not_rebuilt_under_other_parameters(reference):
    [row] = run_batch([GUAN], reference)
    changed = parameters_load(
        known_counties=COUNTY_CODES,
        county_documents={GUANGPING: override_document(GUANGPING, {"relief.education.cap": 4000})},
    )
    with pytest.raises(ValueError, match="parameter version"):
        relief_explain_row(row, parameters=changed)


def test_a_tampered_amount_is_caught_when_the_explanation_is_rebuilt(reference):
    [row] = run_batch([GUAN], reference)
    with pytest.raises(ValueError, match="differs"):
        relief_explain_row({**row, "amount": Decimal("4541.00")}, parameters=reference)
