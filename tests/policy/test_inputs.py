"""One case read from JSON-like data: every wrong field is named, with a message a person reads."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from fangpin.policy import inputs
from fangpin.policy.inputs import CaseInputError, case_from_mapping

GOOD = {
    "date": "2019-09-01",
    "county": "130432",
    "household_type": "marginal",
    "circumstance": "education",
    "members": 6,
    "annual_income": "27588",
    "self_paid": "16400",
}


def errors_of(data, reference) -> dict[str, str]:
    with pytest.raises(CaseInputError) as info:
        case_from_mapping(data, parameters=reference)
    return dict(info.value.errors)


def test_a_good_case_is_read_exactly(reference):
    case = case_from_mapping({**GOOD, "paid_this_year": "12.30"}, parameters=reference)
    assert case.date == datetime.date(2019, 9, 1)
    assert case.annual_income == Decimal("27588") and case.self_paid == Decimal("16400")
    assert case.paid_this_year == Decimal("12.30")
    assert case.members == 6 and case.exclusions == frozenset()


def test_relief_already_paid_defaults_to_zero(reference):
    assert case_from_mapping(GOOD, parameters=reference).paid_this_year == 0


def test_whole_yuan_may_be_given_as_integers(reference):
    case = case_from_mapping({**GOOD, "annual_income": 27588}, parameters=reference)
    assert case.annual_income == Decimal(27588)


@pytest.mark.parametrize("field", sorted(set(inputs.INPUT_FIELDS) - {"paid_this_year"}))
def test_a_missing_field_is_named(reference, field):
    data = {k: v for k, v in GOOD.items() if k != field}
    assert errors_of(data, reference) == {field: inputs.ERR_MISSING}


def test_an_unknown_field_is_named(reference):
    errors = errors_of({**GOOD, "exclusions": ["vehicle"]}, reference)
    assert list(errors) == ["exclusions"]
    assert errors["exclusions"].startswith("is not a case field")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date", "2019/09/01", "must be an ISO date"),
        ("date", 20190901, "must be an ISO date"),
        ("date", "2016-12-31", "before the policy existed"),
        ("county", "13043", "6-digit county code"),
        ("county", 130432, "6-digit county code"),
        ("county", "130499", "unknown county code"),
        ("household_type", "poor", "must be one of unstable, marginal, sudden, ordinary"),
        ("circumstance", "housing", "must be one of medical, education, accident, industry"),
        ("members", 0, "at least 1"),
        ("members", "6", "at least 1"),
        ("members", 2.5, "at least 1"),
        ("members", True, "at least 1"),
        ("annual_income", "abc", "not a decimal amount"),
        ("annual_income", "1e5", "not a decimal amount"),
        ("annual_income", "NaN", "not a decimal amount"),
        ("annual_income", "1,000", "not a decimal amount"),
        ("annual_income", 27588.5, "decimal string"),
        ("self_paid", "-1", "must not be negative"),
        ("self_paid", "16400.005", "at most two decimal places"),
        ("self_paid", "99999999999", "must be at most"),
        ("paid_this_year", "-0.01", "must not be negative"),
        ("paid_this_year", False, "not a decimal amount"),
    ],
)
def test_a_wrong_value_is_refused_naming_its_field(reference, field, value, message):
    errors = errors_of({**GOOD, field: value}, reference)
    assert list(errors) == [field]
    assert message in errors[field]


def test_every_wrong_field_is_reported_at_once(reference):
    errors = errors_of(
        {**GOOD, "members": 0, "self_paid": "-3", "county": "130499", "colour": "red"}, reference
    )
    assert set(errors) == {"members", "self_paid", "county", "colour"}


def test_a_case_must_be_an_object(reference):
    errors = errors_of(["2019-09-01"], reference)
    assert "JSON object" in errors["(case)"]
