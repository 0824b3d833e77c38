"""The dated parameter tree: the reference set, the value in force on a date,
county overrides, versions, and a malformed tree refused with file, path and problem."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from fangpin.policy import loader, schema, spec
from fangpin.policy.loader import (
    Bracket,
    ParameterError,
    PolicyInputError,
    parameters_load,
)

from .conftest import COUNTY_CODES, GUANGPING, WEI

D = datetime.date


def load(root: Path):
    return parameters_load(root, known_counties=COUNTY_CODES)


def edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def refused(root: Path) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        load(root)
    return info.value


# --------------------------------------------------------------------------- reference set


def test_the_reference_set_holds_every_number_of_policy_md(reference):
    force = reference.in_force(GUANGPING, D(2019, 6, 1))
    assert force.value(spec.LINE) == Decimal("5336")
    assert force.value(spec.BASIS) == spec.BASIS_AFTER_RIGID_EXPENSE
    assert force.value("relief.medical.start_line") == {
        "unstable": Decimal(5000),
        "marginal": Decimal(20000),
        "sudden": Decimal(20000),
        "ordinary": Decimal(20000),
    }
    assert set(force.value("relief.education.start_line").values()) == {Decimal(8000)}
    assert set(force.value("relief.accident.start_line").values()) == {Decimal(10000)}
    assert set(force.value("relief.industry.start_line").values()) == {Decimal(5000)}
    assert force.value("relief.medical.brackets") == (
        Bracket(Decimal(0), Decimal("0.5")),
        Bracket(Decimal(10000), Decimal("0.6")),
        Bracket(Decimal(20000), Decimal("0.7")),
        Bracket(Decimal(50000), Decimal("0.8")),
    )
    assert [b.threshold for b in force.value("relief.education.brackets")] == [0, 5000, 10000]
    assert [b.threshold for b in force.value("relief.accident.brackets")] == [0, 10000, 30000]
    assert [b.rate for b in force.value("relief.industry.brackets")] == [
        Decimal("0.5"),
        Decimal("0.6"),
    ]
    caps = {c: force.value(spec.cap_path(c)) for c in spec.CIRCUMSTANCES}
    assert caps == {"medical": 100000, "education": 20000, "accident": 50000, "industry": 30000}
    scopes = {c: force.value(spec.cap_scope_path(c)) for c in spec.CIRCUMSTANCES}
    assert scopes == {
        "medical": "household_year",
        "education": "student_year",
        "accident": "event",
        "industry": "household_year",
    }
    assert all(force.value(spec.exclusion_path(x)) is True for x in spec.EXCLUSIONS)
    assert force.value("insurance.frame_rate") == Decimal("0.10")
    assert force.value("insurance.premium_per_person") == Decimal(50)


def test_numbers_are_read_as_decimals_never_floats(reference):
    force = reference.in_force(WEI, D(2019, 6, 1))
    for reading in force.readings.values():
        values = reading.value
        if isinstance(values, tuple):
            values = [x for b in values for x in (b.threshold, b.rate)]
        elif isinstance(values, dict):
            values = list(values.values())
        else:
            values = [values]
        assert not any(isinstance(v, float) for v in values), reading.path


def test_each_parameter_carries_its_source_mark_as_policy_md_labels_it(reference):
    force = reference.in_force(WEI, D(2019, 6, 1))
    marks = {path: r.source for path, r in force.readings.items()}
    assert marks["income_test.line"] == "assumed"
    assert marks["relief.medical.start_line"] == "stated"
    assert marks["relief.medical.brackets"] == "assumed"
    assert marks["relief.medical.cap"] == "inferred"
    assert marks["relief.education.cap"] == "assumed"
    assert marks["relief.accident.cap"] == "stated"
    assert marks["relief.industry.cap"] == "inferred"
    assert marks["insurance.frame_rate"] == "stated"
    assert marks["insurance.insurer_fee_rate"] == "assumed"
    assert all(r.reference for r in force.readings.values())


@pytest.mark.parametrize(
    ("on", "line"),
    [
        (D(2017, 1, 1), "4301"),
        (D(2017, 12, 31), "4301"),
        (D(2018, 1, 1), "4833"),
        (D(2019, 7, 1), "5336"),
        (D(2020, 1, 1), "5962"),
        (D(2030, 1, 1), "5962"),
    ],
)
def test_the_value_in_force_is_the_latest_dated_on_or_before_the_day(reference, on, line):
    reading = reference.in_force(GUANGPING, on).reading(spec.LINE)
    assert reading.value == Decimal(line)
    assert reading.effective <= on


def test_a_day_before_the_policy_is_refused_naming_the_date(reference):
    assert reference.policy_start() == D(2017, 1, 1)
    with pytest.raises(PolicyInputError) as info:
        reference.in_force(GUANGPING, D(2016, 12, 31))
    assert info.value.field == "date"
    assert "2017-01-01" in info.value.message


@pytest.mark.parametrize("code", ["130499", "130400", "130421", "13043", "abcdef"])
def test_an_unknown_county_is_refused_naming_the_county(reference, code):
    with pytest.raises(PolicyInputError) as info:
        reference.in_force(code, D(2019, 1, 1))
    assert info.value.field == "county"


def test_the_known_counties_are_handans_eighteen(reference):
    assert len(reference.counties) == 18
    assert loader.known_county_codes() == frozenset(COUNTY_CODES)


def test_the_version_is_stable_and_names_the_content(reference, tree):
    again = load(tree)
    on = D(2019, 6, 1)
    assert again.in_force(GUANGPING, on).version == reference.in_force(GUANGPING, on).version
    assert again.fingerprint == reference.fingerprint
    # the same parameters in two counties: the same version
    assert reference.in_force(WEI, on).version == reference.in_force(GUANGPING, on).version
    # a new year, a new line: a new version
    assert reference.in_force(WEI, D(2020, 6, 1)).version != reference.in_force(WEI, on).version
    edit(tree, "city/relief/medical.yaml", "{value: 100000}", "{value: 120000}")
    changed = load(tree)
    assert changed.in_force(WEI, on).version != reference.in_force(WEI, on).version
    assert changed.fingerprint != reference.fingerprint


def test_a_new_dated_value_changes_a_parameter_from_its_date_only(tree):
    edit(
        tree,
        "city/relief/medical.yaml",
        "    2017-01-01: {value: 100000}",
        "    2017-01-01: {value: 100000}\n    2021-07-01: {value: 150000, note: raised by the 2021 measures,"
        " source: assumed, reference: a test}",
    )
    parameters = load(tree)
    assert parameters.in_force(WEI, D(2021, 6, 30)).value("relief.medical.cap") == 100000
    assert parameters.in_force(WEI, D(2021, 7, 1)).value("relief.medical.cap") == 150000
    history = parameters.history("relief.medical.cap")
    assert [(h.effective, h.value) for h in history] == [
        (D(2017, 1, 1), 100000),
        (D(2021, 7, 1), 150000),
    ]
    assert history[1].note == "raised by the 2021 measures"
    assert D(2021, 7, 1) in [start for start, _end in parameters.periods()]


# --------------------------------------------------------------------------- county overrides

OVERRIDE = """\
county: "130432"
description: 广平县 lowers the medical start line of marginal households from 2020
parameters:
  relief.medical.start_line:
    metadata:
      source: stated
      reference: 广平县防贫实施细则 (example)
    values:
      2020-01-01:
        value: {unstable: 5000, marginal: 15000, sudden: 15000, ordinary: 15000}
  income_test.line:
    metadata: {source: assumed, reference: county line (example)}
    values:
      2019-01-01: {value: 6000}
      2021-01-01: {inherit: city}
"""


@pytest.fixture
def overridden(tree):
    (tree / "counties").mkdir(exist_ok=True)
    (tree / "counties" / f"{GUANGPING}.yaml").write_text(OVERRIDE, encoding="utf-8")
    return load(tree)


def test_a_county_override_governs_that_county_from_its_date(overridden):
    path = "relief.medical.start_line"
    before = overridden.in_force(GUANGPING, D(2019, 12, 31)).reading(path)
    after = overridden.in_force(GUANGPING, D(2020, 1, 1)).reading(path)
    assert before.value["marginal"] == 20000 and before.origin == "city"
    assert after.value["marginal"] == 15000 and after.origin == GUANGPING
    assert after.source == "stated" and "广平县" in after.reference
    # another county keeps the city's value
    assert overridden.in_force(WEI, D(2020, 1, 1)).value(path)["marginal"] == 20000


def test_a_later_city_change_does_not_reach_a_county_with_its_own_value(overridden):
    assert overridden.in_force(GUANGPING, D(2018, 6, 1)).value(spec.LINE) == 4833  # city, before
    assert overridden.in_force(GUANGPING, D(2019, 6, 1)).value(spec.LINE) == 6000
    assert overridden.in_force(GUANGPING, D(2020, 6, 1)).value(spec.LINE) == 6000  # city: 5962
    assert overridden.in_force(WEI, D(2020, 6, 1)).value(spec.LINE) == 5962


def test_a_county_can_return_to_the_citys_value(overridden):
    reading = overridden.in_force(GUANGPING, D(2021, 6, 1)).reading(spec.LINE)
    assert reading.value == 5962 and reading.origin == "city"


def test_an_override_has_its_own_history_and_version(overridden):
    history = overridden.history(spec.LINE, GUANGPING)
    assert [(h.effective.year, h.origin, h.inherit) for h in history] == [
        (2017, "city", False),
        (2018, "city", False),
        (2019, "city", False),
        (2019, GUANGPING, False),
        (2020, "city", False),
        (2021, "city", False),
        (2021, GUANGPING, True),
        # the city's lines carried forward (POLICY.md states none after 2020)
        *[(year, "city", False) for year in range(2022, 2027)],
    ]
    on = D(2020, 6, 1)
    assert overridden.in_force(GUANGPING, on).version != overridden.in_force(WEI, on).version
    assert overridden.in_force(GUANGPING, D(2018, 6, 1)).version == (
        overridden.in_force(WEI, D(2018, 6, 1)).version
    )


def test_overrides_can_be_given_in_memory(reference):
    from .conftest import override_document

    parameters = parameters_load(
        known_counties=COUNTY_CODES,
        county_documents={WEI: override_document(WEI, {"income_test.basis": "per_capita_income"})},
    )
    assert parameters.in_force(WEI, D(2019, 1, 1)).value(spec.BASIS) == "per_capita_income"
    assert parameters.in_force(GUANGPING, D(2019, 1, 1)).value(spec.BASIS) == (
        spec.BASIS_AFTER_RIGID_EXPENSE
    )


# --------------------------------------------------------------------------- malformed trees

MEDICAL = "city/relief/medical.yaml"


def test_a_missing_effective_date_is_refused(tree):
    edit(tree, "city/income_test.yaml", "    2018-01-01: {value: 4833,", "    value: {value: 4833,")
    error = refused(tree)
    assert error.file == "city/income_test.yaml"
    assert error.path == "income_test.line"
    assert error.message == schema.ERR_BAD_DATE.format(key="value")
    assert str(error).startswith("city/income_test.yaml: income_test.line: ")


def test_an_impossible_effective_date_is_refused(tree):
    edit(tree, "city/income_test.yaml", "2018-01-01: {value: 4833,", "2018-13-01: {value: 4833,")
    error = refused(tree)
    assert (error.path, error.message) == (
        "income_test.line",
        schema.ERR_BAD_DATE.format(key="2018-13-01"),
    )


def test_unsorted_thresholds_are_refused(tree):
    edit(tree, MEDICAL, "{threshold: 20000, rate: 0.70}", "{threshold: 5000, rate: 0.70}")
    error = refused(tree)
    assert error.file == MEDICAL
    assert error.path == "relief.medical.brackets @ 2017-01-01"
    assert error.message == schema.ERR_UNSORTED_THRESHOLDS.format(
        thresholds="0, 10000, 5000, 50000"
    )


def test_a_ladder_must_start_at_zero(tree):
    edit(tree, MEDICAL, "{threshold: 0, rate: 0.50}", "{threshold: 100, rate: 0.50}")
    error = refused(tree)
    assert error.message == schema.ERR_LADDER_START.format(value=100)


@pytest.mark.parametrize("rate", ["1.5", "-0.1"])
def test_a_rate_outside_zero_to_one_is_refused(tree, rate):
    edit(tree, MEDICAL, "{threshold: 10000, rate: 0.60}", f"{{threshold: 10000, rate: {rate}}}")
    error = refused(tree)
    assert error.path == "relief.medical.brackets @ 2017-01-01 bracket 2"
    assert error.message == schema.ERR_RATE_RANGE.format(value=Decimal(rate))


def test_a_rate_with_more_than_four_places_is_refused(tree):
    edit(tree, MEDICAL, "rate: 0.60}", "rate: 0.60001}")
    assert refused(tree).message == schema.ERR_RATE_PLACES.format(
        value=Decimal("0.60001"), places=4
    )


def test_a_negative_amount_is_refused(tree):
    edit(tree, MEDICAL, "{value: 100000}", "{value: -100000}")
    error = refused(tree)
    assert (error.file, error.path) == (MEDICAL, "relief.medical.cap @ 2017-01-01")
    assert error.message == schema.ERR_NEGATIVE.format(what="amount", value=-100000)


def test_an_amount_finer_than_the_fen_is_refused(tree):
    edit(tree, MEDICAL, "{value: 100000}", "{value: 100000.005}")
    assert refused(tree).message == schema.ERR_FEN.format(
        what="amount", value=Decimal("100000.005")
    )


def test_an_unknown_household_type_is_refused(tree):
    edit(tree, MEDICAL, "ordinary: 20000}", "ordinary: 20000, poor: 3000}")
    error = refused(tree)
    assert error.path == "relief.medical.start_line @ 2017-01-01"
    assert error.message == schema.ERR_UNKNOWN_HOUSEHOLD_TYPE.format(key="poor")


def test_a_missing_household_type_is_refused(tree):
    edit(tree, MEDICAL, ", ordinary: 20000}", "}")
    assert refused(tree).message == schema.ERR_MISSING_HOUSEHOLD_TYPE.format(key="ordinary")


def test_a_missing_source_mark_is_refused(tree):
    edit(
        tree,
        "city/insurance.yaml",
        "    source: stated\n",
        "",
    )
    error = refused(tree)
    assert (error.path, error.message) == (
        "insurance.frame_rate",
        schema.ERR_MISSING_FIELD.format(field="metadata.source"),
    )


def test_an_unknown_source_mark_is_refused(tree):
    edit(tree, "city/insurance.yaml", "source: stated", "source: guessed")
    assert refused(tree).message == schema.ERR_UNKNOWN_SOURCE.format(source="guessed")


def test_a_missing_reference_is_refused(tree):
    edit(
        tree,
        "city/exclusions.yaml",
        '      reference: POLICY.md, "Exclusions checked by data comparison (信息比对, A)"\n',
        "",
    )
    error = refused(tree)
    assert error.path == "exclusions.public_payroll.applies"
    assert error.message == schema.ERR_MISSING_FIELD.format(field="metadata.reference")


def test_a_misspelt_field_is_refused(tree):
    edit(tree, "city/insurance.yaml", "  unit: /1\n", "  unti: /1\n")
    error = refused(tree)
    assert error.message.startswith("unknown field 'unti'")


def test_a_duplicate_date_is_refused(tree):
    edit(
        tree,
        "city/income_test.yaml",
        "    2019-01-01: {value: 5336,",
        "    2019-01-01: {value: 5400}\n    2019-01-01: {value: 5336,",
    )
    error = refused(tree)
    assert error.file == "city/income_test.yaml"
    assert error.message.startswith("duplicate key '2019-01-01'")


def test_an_entry_without_a_value_is_refused(tree):
    edit(tree, "city/income_test.yaml", "2019-01-01: {value: 5336,", "2019-01-01: {note: pending,")
    assert refused(tree).message == schema.ERR_MISSING_VALUE.format(date="2019-01-01")


def test_a_parameter_without_dated_values_is_refused(tree):
    edit(tree, "city/procedure.yaml", "    2017-01-01: {value: 5}", "    {}")
    error = refused(tree)
    assert error.path == "procedure.public_notice_working_days"
    assert error.message == schema.ERR_NO_VALUES
    assert "to {value: ...};" in error.message  # as a file writes it, not a format's {{…}}


def test_an_empty_ladder_is_refused(tree):
    ladder = "".join(
        f"        - {{threshold: {t}, rate: 0.{r}0}}\n"
        for t, r in ((0, 5), (10000, 6), (20000, 7), (50000, 8))
    )
    edit(tree, MEDICAL, "      value:\n" + ladder, "      value: []\n")
    error = refused(tree)
    assert error.path == "relief.medical.brackets @ 2017-01-01"
    assert error.message == schema.ERR_LADDER_EMPTY
    assert error.message.endswith("list of {threshold, rate}")  # not a format's {{…}}


def test_a_choice_outside_its_choices_is_refused(tree):
    edit(tree, "city/relief/accident.yaml", "{value: event}", "{value: lifetime}")
    error = refused(tree)
    assert error.path == "relief.accident.cap_scope @ 2017-01-01"
    assert error.message.startswith("'lifetime' is not one of")


def test_a_flag_must_be_true_or_false(tree):
    edit(tree, "city/exclusions.yaml", "{value: true}", "{value: 1}")
    assert refused(tree).message == schema.ERR_FLAG.format(value=Decimal(1))


def test_a_parameter_the_engine_needs_cannot_be_removed(tree):
    text = (tree / MEDICAL).read_text(encoding="utf-8")
    (tree / MEDICAL).write_text(text[: text.index("\ncap:")], encoding="utf-8")
    error = refused(tree)
    assert (error.path, error.message) == ("relief.medical.cap", loader.ERR_REQUIRED_MISSING)


def test_a_parameter_the_engine_needs_keeps_its_kind(tree):
    edit(
        tree,
        MEDICAL,
        "  type: amount\n  unit: CNY/household/year\n  metadata:\n    source: inferred",
        "  type: rate\n  unit: CNY/household/year\n  metadata:\n    source: inferred",
    )
    error = refused(tree)
    assert error.path == "relief.medical.cap @ 2017-01-01"  # 100000 is no rate
    assert error.message == schema.ERR_RATE_RANGE.format(value=100000)


def test_invalid_yaml_names_the_file(tree):
    (tree / "city" / "insurance.yaml").write_text("frame_rate: [unclosed\n", encoding="utf-8")
    error = refused(tree)
    assert error.file == "city/insurance.yaml"
    assert error.message.startswith("not valid YAML")


def test_a_county_file_for_an_unknown_county_is_refused(tree):
    (tree / "counties").mkdir(exist_ok=True)
    (tree / "counties" / "130499.yaml").write_text(
        OVERRIDE.replace("130432", "130499"), encoding="utf-8"
    )
    error = refused(tree)
    assert error.file == "counties/130499.yaml"
    assert error.message == loader.ERR_UNKNOWN_COUNTY.format(code="130499")


def test_a_county_file_must_be_named_by_its_code(tree):
    (tree / "counties").mkdir(exist_ok=True)
    (tree / "counties" / "guangping.yaml").write_text(OVERRIDE, encoding="utf-8")
    assert refused(tree).message == loader.ERR_COUNTY_FILE


def test_a_county_file_must_agree_with_its_name(tree):
    (tree / "counties").mkdir(exist_ok=True)
    (tree / "counties" / "130434.yaml").write_text(OVERRIDE, encoding="utf-8")
    error = refused(tree)
    assert error.message == schema.ERR_COUNTY_MISMATCH.format(value="130432", code="130434")


def test_a_county_cannot_override_a_parameter_the_city_does_not_have(tree):
    (tree / "counties").mkdir(exist_ok=True)
    text = OVERRIDE.replace("income_test.line:", "income_test.ceiling:")
    (tree / "counties" / "130432.yaml").write_text(text, encoding="utf-8")
    error = refused(tree)
    assert (error.file, error.path, error.message) == (
        "counties/130432.yaml",
        "income_test.ceiling",
        loader.ERR_UNKNOWN_PATH,
    )


def test_a_county_override_is_checked_like_the_city(tree):
    (tree / "counties").mkdir(exist_ok=True)
    text = OVERRIDE.replace("marginal: 15000", "marginal: -15000")
    (tree / "counties" / "130432.yaml").write_text(text, encoding="utf-8")
    error = refused(tree)
    assert error.file == "counties/130432.yaml"
    assert error.path == "relief.medical.start_line @ 2020-01-01 [marginal]"
    assert error.message == schema.ERR_NEGATIVE.format(what="amount", value=-15000)


def test_only_a_county_may_inherit(tree):
    edit(tree, "city/income_test.yaml", "2020-01-01: {value: 5962,", "2020-01-01: {inherit: city,")
    assert refused(tree).message == schema.ERR_INHERIT_IN_CITY


# --------------------------------------------------------------------------- each value its own mark

LATER_CAP = "    2017-01-01: {value: 100000}\n    2021-07-01: {value: 150000%s}"


def test_a_later_value_without_its_own_source_is_refused(tree):
    edit(
        tree,
        MEDICAL,
        "    2017-01-01: {value: 100000}",
        LATER_CAP % ", reference: 2021 measures (example)",
    )
    error = refused(tree)
    assert (error.file, error.path) == (MEDICAL, "relief.medical.cap @ 2021-07-01")
    assert error.message == schema.ERR_LATER_MARK.format(field="source", first="2017-01-01")
    assert str(error).startswith(
        "city/relief/medical.yaml: relief.medical.cap @ 2021-07-01: missing field 'source'"
    )


def test_a_later_value_without_its_own_reference_is_refused(tree):
    edit(tree, MEDICAL, "    2017-01-01: {value: 100000}", LATER_CAP % ", source: stated")
    error = refused(tree)
    assert error.path == "relief.medical.cap @ 2021-07-01"
    assert error.message == schema.ERR_LATER_MARK.format(field="reference", first="2017-01-01")


def test_a_later_value_is_cited_with_its_own_mark_not_the_parameters(tree):
    from fangpin.policy.scalar import Case, relief_calculate

    edit(
        tree,
        MEDICAL,
        "    2017-01-01: {value: 100000}",
        LATER_CAP % ", source: stated, reference: 2021 measures (example)",
    )
    parameters = load(tree)

    def cap_read(on: datetime.date):
        case = Case(
            date=on,
            county=WEI,
            household_type="unstable",
            circumstance="medical",
            members=4,
            annual_income=Decimal(20000),
            self_paid=Decimal(400000),
        )
        result = relief_calculate(case, parameters=parameters)
        return next(r for r in result.explanation.parameters if r.path == "relief.medical.cap")

    before, after = cap_read(D(2021, 6, 30)), cap_read(D(2021, 7, 1))
    assert (before.value, before.source) == (100000, "inferred")  # the metadata's: first value
    assert "10万" in before.reference
    assert (after.value, after.effective, after.source) == (150000, D(2021, 7, 1), "stated")
    assert after.reference == "2021 measures (example)"
    assert after.as_dict()["source"] == "stated"
    assert parameters.read("relief.medical.cap", on=D(2021, 7, 1)).source == "stated"


def test_the_first_value_takes_its_mark_from_the_metadata_alone(tree):
    edit(tree, "city/insurance.yaml", "{value: 50}", "{value: 50, source: assumed}")
    error = refused(tree)
    assert error.path == "insurance.premium_per_person @ 2017-01-01"
    assert error.message == schema.ERR_FIRST_MARK.format(field="source")


def test_each_reference_line_is_cited_as_its_own_assumed_national_average(reference):
    history = reference.history(spec.LINE)
    assert [(h.effective.year, h.value, h.source) for h in history][:4] == [
        (2017, 4301, "assumed"),
        (2018, 4833, "assumed"),
        (2019, 5336, "assumed"),
        (2020, 5962, "assumed"),
    ]
    for entry, shown in zip(history, ["4,301", "4,833", "5,336", "5,962"], strict=False):
        assert shown in entry.reference and str(entry.effective.year) in entry.reference
        assert "national averages" in entry.reference


def test_a_year_policy_md_gives_no_line_carries_the_last_one_forward_marked_assumed(reference):
    """POLICY.md's reference lines end with 2020; each later year up to 2026 (when the demo
    first ran in its current year) has its own entry, the 2020 value carried forward."""
    later = [h for h in reference.history(spec.LINE) if h.effective.year > 2020]
    assert [h.effective.year for h in later] == list(range(2021, 2027))
    for entry in later:
        assert (entry.value, entry.source) == (5962, "assumed")
        assert "carried forward" in entry.reference and "2020: 5,962" in entry.reference
        assert f"no line for {entry.effective.year}" in entry.reference


def test_a_later_value_of_a_county_override_carries_its_own_mark_too(tree):
    (tree / "counties").mkdir(exist_ok=True)
    text = OVERRIDE.replace("      2021-01-01: {inherit: city}", "      2020-01-01: {value: 6100}")
    (tree / "counties" / f"{GUANGPING}.yaml").write_text(text, encoding="utf-8")
    error = refused(tree)
    assert (error.file, error.path) == ("counties/130432.yaml", "income_test.line @ 2020-01-01")
    assert error.message == schema.ERR_LATER_MARK.format(field="source", first="2019-01-01")


def test_a_county_returning_to_the_city_needs_no_mark_and_is_cited_with_the_citys(overridden):
    reading = overridden.read(spec.LINE, on=D(2021, 6, 1), county=GUANGPING)
    assert (reading.value, reading.origin, reading.source) == (5962, "city", "assumed")
    assert "2020: 5,962" in reading.reference


# --------------------------------------------------------------------------- counts

COUNTS = {
    spec.PUBLIC_NOTICE_WORKING_DAYS: (5, "stated", "working days"),
    spec.VISIT_PERIOD_MONTHS: (3, "stated", "months"),
    spec.STABLE_DAYS: (183, "inferred", "days"),
    spec.WORKING_AGE_MINIMUM: (16, "assumed", "years of age"),
    spec.WORKING_AGE_MAXIMUM: (64, "assumed", "years of age"),
}


@pytest.mark.parametrize("path", list(COUNTS))
def test_the_numbers_of_the_procedure_pairing_and_risk_are_parameters(reference, path):
    value, source, unit = COUNTS[path]
    reading = reference.read(path, on=D(2019, 6, 1), county=GUANGPING)
    assert reading.kind == spec.KIND_COUNT and reading.unit == unit
    assert reading.value == value and type(reading.value) is int
    assert reading.source == source and "POLICY.md" in reading.reference
    assert reading.effective == D(2017, 1, 1)
    assert reference.in_force(WEI, D(2019, 6, 1)).value(path) == value


NOTICE = """\
county: "130432"
parameters:
  procedure.public_notice_working_days:
    metadata: {source: assumed, reference: county notice rule (example)}
    values:
      2020-01-01: {value: 7}
"""


def test_a_parameter_is_read_for_the_county_else_for_the_city(tree):
    (tree / "counties").mkdir(exist_ok=True)
    (tree / "counties" / f"{GUANGPING}.yaml").write_text(NOTICE, encoding="utf-8")
    parameters = load(tree)
    path = spec.PUBLIC_NOTICE_WORKING_DAYS
    assert parameters.value(path, on=D(2020, 3, 2), county=GUANGPING) == 7
    assert parameters.read(path, on=D(2020, 3, 2), county=GUANGPING).origin == GUANGPING
    assert parameters.value(path, on=D(2019, 12, 31), county=GUANGPING) == 5  # before its date
    assert parameters.value(path, on=D(2020, 3, 2), county=WEI) == 5  # no override: the city's
    assert parameters.value(path, on=D(2020, 3, 2)) == 5  # no county at hand: the city's
    with pytest.raises(PolicyInputError) as info:
        parameters.value(path, on=D(2016, 12, 31), county=GUANGPING)
    assert info.value.field == "date"
    assert info.value.message == loader.ERR_NOT_IN_FORCE.format(path=path, on="2016-12-31")
    with pytest.raises(PolicyInputError) as info:
        parameters.value(path, on=D(2020, 3, 2), county="130499")
    assert info.value.field == "county"


def test_parameter_value_reads_the_set_in_use():
    assert loader.parameter_value(spec.PUBLIC_NOTICE_WORKING_DAYS, on=D(2020, 3, 2)) == 5
    assert (
        loader.parameter_value(spec.PUBLIC_NOTICE_WORKING_DAYS, on=D(2020, 3, 2), county=WEI) == 5
    )


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("5.5", schema.ERR_COUNT_WHOLE.format(value=Decimal("5.5"))),
        ("5.0", schema.ERR_COUNT_WHOLE.format(value=Decimal("5.0"))),
        ("-1", schema.ERR_COUNT_RANGE.format(value=-1, max=spec.MAX_COUNT)),
        ("100001", schema.ERR_COUNT_RANGE.format(value=100001, max=spec.MAX_COUNT)),
        ("five", schema.ERR_NOT_A_NUMBER.format(what="count", value="five")),
        ("true", schema.ERR_NOT_A_NUMBER.format(what="count", value=True)),
        ("0", schema.ERR_COUNT_VALUES.format(value=0, allowed="a whole number from 1 to 60")),
    ],
)
def test_a_count_is_a_whole_number_the_path_may_take(tree, written, message):
    edit(tree, "city/procedure.yaml", "{value: 5}", f"{{value: {written}}}")
    error = refused(tree)
    assert (error.file, error.path) == (
        "city/procedure.yaml",
        "procedure.public_notice_working_days @ 2017-01-01",
    )
    assert error.message == message


def test_a_visit_period_must_divide_the_year(tree):
    edit(tree, "city/pairing.yaml", "{value: 3}", "{value: 5}")
    assert refused(tree).message == schema.ERR_COUNT_VALUES.format(
        value=5, allowed="one of 1, 2, 3, 4, 6, 12"
    )


def test_a_count_the_application_does_not_read_is_any_whole_number(tree):
    (tree / "city" / "targets.yaml").write_text(
        "visits_per_year:\n  description: Visits a year (example)\n  type: count\n"
        "  unit: visits\n  metadata: {source: assumed, reference: example}\n"
        "  values:\n    2017-01-01: {value: 12}\n",
        encoding="utf-8",
    )
    assert load(tree).value("targets.visits_per_year", on=D(2019, 1, 1)) == 12


def test_a_parameter_the_application_reads_cannot_be_removed(tree):
    (tree / "city" / "procedure.yaml").unlink()
    error = refused(tree)
    assert (error.path, error.message) == (
        spec.PUBLIC_NOTICE_WORKING_DAYS,
        loader.ERR_REQUIRED_MISSING,
    )


def test_the_working_age_cannot_begin_after_it_ends(tree):
    edit(tree, "city/risk.yaml", "{value: 16}", "{value: 70}")
    error = refused(tree)
    assert (error.file, error.path) == ("city/risk.yaml", "risk.working_age.minimum @ 2017-01-01")
    assert error.message == loader.ERR_ORDER.format(
        lower=spec.WORKING_AGE_MINIMUM,
        lower_value=70,
        upper=spec.WORKING_AGE_MAXIMUM,
        upper_value=64,
    )


def test_the_working_age_is_checked_in_a_county_too(tree):
    (tree / "counties").mkdir(exist_ok=True)
    (tree / "counties" / f"{GUANGPING}.yaml").write_text(
        "parameters:\n  risk.working_age.maximum:\n"
        "    metadata: {source: assumed, reference: example}\n"
        "    values:\n      2020-01-01: {value: 15}\n",
        encoding="utf-8",
    )
    error = refused(tree)
    assert (error.file, error.path) == (
        f"counties/{GUANGPING}.yaml",
        "risk.working_age.maximum @ 2020-01-01",
    )
