"""Properties over random cases and random parameter trees (hypothesis).

- The scalar evaluator and the DuckDB batch agree to the fen, on every column.
- Relief never decreases as the self-paid amount grows.
- Relief is zero at or below the start line.
- Relief never exceeds the cap (nor the cap less what was already paid).
"""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangpin.policy import spec
from fangpin.policy.loader import ParameterSet, parameters_from_documents
from fangpin.policy.scalar import Case, relief_calculate

from .conftest import COUNTY_CODES, run_batch

FIRST = datetime.date(2017, 1, 1)
SECOND = datetime.date(2019, 1, 1)
SLOW = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FAST = settings(max_examples=300, deadline=None)


def yuan(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


fen_amounts = st.integers(min_value=0, max_value=20_000_000)  # up to 200,000 yuan
lines = st.one_of(st.just(0), st.integers(1, 1_000_000))  # a line of 0 is an edge of its own
rates = st.integers(min_value=0, max_value=10_000).map(lambda n: Decimal(n).scaleb(-4))


def leaf(kind: str, values: dict[datetime.date, Any], **extra: Any) -> dict[str, Any]:
    """A generated leaf; the metadata marks the first value, each later value its own."""
    first = min(values)
    later = {"source": "assumed", "reference": "hypothesis, later value"}
    return {
        "description": "generated",
        "type": kind,
        "unit": "test",
        "metadata": {"source": "assumed", "reference": "hypothesis"},
        "values": {
            on: {"value": value, **({} if on == first else later)} for on, value in values.items()
        },
        **extra,
    }


@st.composite
def ladders(draw: st.DrawFn) -> list[dict[str, Decimal]]:
    steps = draw(st.lists(st.integers(min_value=1, max_value=5_000_000), max_size=4))
    thresholds = [0]
    for step in steps:
        thresholds.append(thresholds[-1] + step)
    return [{"threshold": yuan(t), "rate": draw(rates)} for t in thresholds]


@st.composite
def parameter_sets(draw: st.DrawFn) -> ParameterSet:
    """A random, valid city tree: two dated periods, any ladders, lines, caps and flags."""
    dates = (FIRST, SECOND)
    relief: dict[str, Any] = {}
    for circumstance in spec.CIRCUMSTANCES:
        relief[circumstance] = {
            "start_line": leaf(
                "amount",
                {
                    on: {h: yuan(draw(st.integers(0, 3_000_000))) for h in spec.HOUSEHOLD_TYPES}
                    for on in dates
                },
                keyed_by="household_type",
            ),
            "brackets": leaf("ladder", {on: draw(ladders()) for on in dates}),
            "cap": leaf("amount", {on: yuan(draw(fen_amounts)) for on in dates}),
            "cap_scope": leaf(
                "choice",
                {FIRST: draw(st.sampled_from(spec.CAP_SCOPES))},
                choices=list(spec.CAP_SCOPES),
            ),
        }
    city = {
        "income_test": {
            "line": leaf("amount", {on: yuan(draw(lines)) for on in dates}),
            "basis": leaf(
                "choice",
                {on: draw(st.sampled_from(spec.INCOME_BASES)) for on in dates},
                choices=list(spec.INCOME_BASES),
            ),
        },
        "relief": relief,
        "exclusions": {
            x: {"applies": leaf("flag", {on: draw(st.booleans()) for on in dates})}
            for x in spec.EXCLUSIONS
        },
    }
    # the counts the rest of the application reads (procedure, pairing, risk)
    for path, allowed in spec.COUNT_VALUES.items():
        *groups, name = path.split(".")
        node = city
        for group in groups:
            node = node.setdefault(group, {})
        node[name] = leaf("count", {FIRST: min(allowed)})
    return parameters_from_documents(city=[("<generated>", "", city)], known_counties=COUNTY_CODES)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    return Case(
        date=draw(st.dates(min_value=FIRST, max_value=datetime.date(2021, 12, 31))),
        county=draw(st.sampled_from(COUNTY_CODES)),
        household_type=draw(st.sampled_from(spec.HOUSEHOLD_TYPES)),
        circumstance=draw(st.sampled_from(spec.CIRCUMSTANCES)),
        members=draw(st.integers(min_value=1, max_value=12)),
        annual_income=yuan(
            draw(st.one_of(st.integers(0, 10_000_000), st.integers(0, 10_000_000_000)))
        ),
        self_paid=yuan(draw(st.one_of(fen_amounts, st.integers(0, 100_000_000)))),
        paid_this_year=yuan(draw(st.one_of(st.just(0), fen_amounts))),
        exclusions=frozenset(draw(st.sets(st.sampled_from(spec.EXCLUSIONS), max_size=2))),
    )


def _row(case: Case) -> dict[str, Any]:
    return {
        "date": case.date,
        "county": case.county,
        "household_type": case.household_type,
        "circumstance": case.circumstance,
        "members": case.members,
        "annual_income": case.annual_income,
        "self_paid": case.self_paid,
        "paid_this_year": case.paid_this_year,
        "exclusions": case.exclusions,
    }


def _assert_scalar_equals_batch(batch_of_cases: list[Case], parameters: ParameterSet) -> None:
    rows = run_batch([_row(c) for c in batch_of_cases], parameters)
    for case, row in zip(batch_of_cases, rows, strict=True):
        result = relief_calculate(case, parameters=parameters)
        assert row["problem"] is None
        assert row["amount"] == result.amount, (case, row)
        assert row["eligible"] is result.eligible, (case, row)
        assert row["bracket_reached"] == result.explanation.bracket_reached, (case, row)
        assert row["cap_applied"] is result.explanation.cap_applied, (case, row)
        assert row["parameter_version"] == result.explanation.parameter_version


@SLOW
@given(batch_of_cases=st.lists(cases(), min_size=1, max_size=40))
def test_scalar_and_batch_agree_to_the_fen_under_the_reference_set(reference, batch_of_cases):
    _assert_scalar_equals_batch(batch_of_cases, reference)


@SLOW
@given(parameters=parameter_sets(), batch_of_cases=st.lists(cases(), min_size=1, max_size=40))
def test_scalar_and_batch_agree_to_the_fen_under_any_parameters(parameters, batch_of_cases):
    _assert_scalar_equals_batch(batch_of_cases, parameters)


@FAST
@given(
    parameters=st.one_of(st.none(), parameter_sets()),
    case=cases(),
    more=st.integers(min_value=0, max_value=20_000_000),
)
def test_relief_never_decreases_as_self_paid_grows(reference, parameters, case, more):
    parameters = parameters or reference
    less = relief_calculate(case, parameters=parameters)
    grown = dataclasses.replace(case, self_paid=case.self_paid + yuan(more))
    assert relief_calculate(grown, parameters=parameters).amount >= less.amount


@FAST
@given(
    parameters=st.one_of(st.none(), parameter_sets()),
    case=cases(),
    below=st.integers(min_value=0, max_value=5_000_000),
)
def test_relief_is_zero_at_or_below_the_start_line(reference, parameters, case, below):
    parameters = parameters or reference
    start = parameters.in_force(case.county, case.date).value(
        spec.start_line_path(case.circumstance)
    )[case.household_type]
    at_or_below = dataclasses.replace(case, self_paid=max(Decimal("0.00"), start - yuan(below)))
    result = relief_calculate(at_or_below, parameters=parameters)
    assert result.amount == 0
    assert result.eligible is False


@FAST
@given(parameters=st.one_of(st.none(), parameter_sets()), case=cases())
def test_relief_never_exceeds_the_cap(reference, parameters, case):
    parameters = parameters or reference
    cap = parameters.in_force(case.county, case.date).value(spec.cap_path(case.circumstance))
    amount = relief_calculate(case, parameters=parameters).amount
    assert 0 <= amount <= cap
    assert amount <= max(Decimal(0), cap - case.paid_this_year)


@st.composite
def edge_cases(draw: st.DrawFn, parameters: ParameterSet) -> Case:
    """A case placed within a few fen of an edge: the income line, the start line, a
    threshold of the ladder or the cap — where rounding and comparisons can go wrong."""
    case = draw(cases())
    force = parameters.in_force(case.county, case.date)
    start = force.value(spec.start_line_path(case.circumstance))[case.household_type]
    ladder = force.value(spec.brackets_path(case.circumstance))
    nudge = yuan(draw(st.integers(min_value=-3, max_value=3)))
    edge = draw(st.sampled_from(["threshold", "start", "line"]))
    if edge == "threshold":
        threshold = draw(st.sampled_from([b.threshold for b in ladder]))
        case = dataclasses.replace(case, self_paid=max(Decimal(0), start + threshold + nudge))
    elif edge == "start":
        case = dataclasses.replace(case, self_paid=max(Decimal(0), start + nudge))
    if edge == "line" or draw(st.booleans()):
        # per-capita income within a fen or so of the line, on the basis in force
        line = force.value(spec.LINE)
        deducted = (
            case.self_paid if force.value(spec.BASIS) == spec.BASIS_AFTER_RIGID_EXPENSE else 0
        )
        offset = yuan(draw(st.integers(min_value=-2 * case.members, max_value=2 * case.members)))
        income = max(Decimal(0), deducted + line * case.members + offset)
        case = dataclasses.replace(case, annual_income=income)
    return case


@SLOW
@given(data=st.data(), parameters=st.one_of(st.none(), parameter_sets()))
def test_scalar_and_batch_agree_at_every_edge(reference, data, parameters):
    parameters = parameters or reference
    batch_of_cases = data.draw(st.lists(edge_cases(parameters), min_size=1, max_size=40))
    _assert_scalar_equals_batch(batch_of_cases, parameters)
