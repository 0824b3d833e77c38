"""The units of each circumstance (``expression.screening_units``): what one start line and one
cap apply to. Education is counted per student and year — every row of the student's year
summed, then netted of loans and grants — before the start line (POLICY.md: 8,000 per student
per year; brackets 0–5k 50%, 5k–10k 60%, >10k 70%; cap 20,000 per student per year)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fangpin.regions.models import Level, Region
from fangpin.screening.models import Warning
from fangpin.screening.services import screening_compute, screening_run

from .test_services import YEAR, person, write

pytestmark = pytest.mark.django_db

HOUSEHOLDS = {
    "ED-1": [40, 41],  # one student (41), two 13,000-yuan payments in the year
    "ED-2": [42, 43, 44],  # two students: 43 pays 40,000 in two rows, 44 pays 12,000
    "ED-3": [45, 46],  # one student: a loan of 8,000 on a 5,000 term, then a 14,000 term
    "ED-4": [47, 48],  # one student: 5,000 in 2019 and 5,000 in 2018 (not the same year)
}


def student_row(n: int, term_start: str, tuition: str, loan: str = "0") -> dict:
    return {
        "id_number": person(n),
        "school": "河北传媒学院",
        "level": "本科",
        "full_time": "是",
        "term_start": term_start,
        "tuition": tuition,
        "accommodation": "0",
        "textbooks": "0",
        "loan": loan,
        "grant": "0",
    }


@pytest.fixture
def education_lake(lake, tmp_path, county):
    village = Region.objects.filter(level=Level.VILLAGE, path__startswith=county.path).first()
    write(
        tmp_path,
        "roster",
        [
            {
                "year": str(year),
                "id_number": person(n),
                "name": f"人{n}",
                "household_no": no,
                "village_code": village.code,
                "relation": "户主" if i == 0 else "子女",
            }
            for year in (YEAR - 1, YEAR)
            for no, people in HOUSEHOLDS.items()
            for i, n in enumerate(people)
        ],
    )
    write(
        tmp_path,
        "education",
        [
            student_row(41, "2019-02-25", "13000"),
            student_row(41, "2019-09-01", "13000"),
            student_row(43, "2019-02-25", "30000"),
            student_row(43, "2019-09-01", "10000"),
            student_row(44, "2019-09-01", "12000"),
            student_row(46, "2019-02-25", "5000", loan="8000"),
            student_row(46, "2019-09-01", "14000"),
            student_row(48, "2018-09-01", "5000"),
            student_row(48, "2019-09-01", "5000"),
        ],
    )
    return village


def education_warnings() -> dict[str, tuple]:
    return {
        w.household.household_no: (
            w.self_paid.amount,
            w.estimated_relief.amount,
            w.units,
            w.feed_refs,
        )
        for w in Warning.objects.filter(circumstance="education").select_related("household")
    }


def test_one_student_with_two_13000_payments_in_a_year_gets_11100(education_lake, county):
    """26,000 − 8,000 = 18,000 above the start line: 5,000 × 50% + 5,000 × 60% + 8,000 × 70%
    = 2,500 + 3,000 + 5,600 — not two rows of 13,000 each helped for 5,000 − 2,500."""
    screening_run(year=YEAR, county_code=county.code)
    assert education_warnings()["ED-1"] == (
        Decimal("26000.00"),
        Decimal("11100.00"),
        1,
        [person(41)],
    )


def test_two_students_of_a_household_each_have_their_own_start_line_and_cap(education_lake, county):
    """Student 43: 40,000 − 8,000 = 32,000 above → 2,500 + 3,000 + 15,400 = 20,900, capped at
    20,000; student 44: 12,000 − 8,000 = 4,000 above → 2,000. One warning, two students:
    22,000 (the household's 52,000 under one start line and one cap would give 20,000)."""
    screening_run(year=YEAR, county_code=county.code)
    assert education_warnings()["ED-2"] == (
        Decimal("52000.00"),
        Decimal("22000.00"),
        2,
        sorted([person(43), person(44)]),
    )


def test_a_loan_of_the_year_is_netted_against_the_whole_years_costs(education_lake, county):
    """5,000 + 14,000 − 8,000 = 11,000: 3,000 above the start line → 1,500 (netting each row
    and keeping it not below zero would count 0 + 14,000 and give 3,100)."""
    screening_run(year=YEAR, county_code=county.code)
    assert education_warnings()["ED-3"] == (
        Decimal("11000.00"),
        Decimal("1500.00"),
        1,
        [person(46)],
    )


def test_a_students_rows_of_another_year_are_not_summed_in(education_lake, county):
    """5,000 in 2018 and 5,000 in 2019: each year under the start line, no warning."""
    assert (
        "ED-4"
        not in screening_compute(year=YEAR, county_code=county.code)["household_no"].to_list()
    )
    screening_run(year=YEAR, county_code=county.code)
    assert set(education_warnings()) == {"ED-1", "ED-2", "ED-3"}
