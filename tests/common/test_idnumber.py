import datetime as dt

import polars as pl
import pytest

from fangpin.common.idnumber import (
    ERR_CHECKSUM,
    ERR_LENGTH,
    check_char,
    id_number_problem,
    id_number_problem_expr,
    mask_id_number,
)


def make(first17: str) -> str:
    return first17 + check_char(first17)


VALID = "11010519491231002X"  # the GB 11643 standard's own example


def test_the_standards_example_is_valid():
    assert id_number_problem(VALID) is None
    assert id_number_problem(VALID.lower()) is None


def test_a_wrong_check_digit_says_which_one_is_expected():
    problem = id_number_problem("110105194912310021")
    assert problem == ERR_CHECKSUM.format(expected="X")


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        ("1101051949123100", "18"),  # too short
        ("11010519491231002Y", "X"),  # bad last character
        (make("13043419900230001"), "19900230"),  # 30 February
        (make("13043418001231001"), "18001231"),  # before 1880
        (make("99043419900101001"), "99"),  # no such province
        (make("00043419900101001"), "00"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(number, fragment):
    problem = id_number_problem(number)
    assert problem is not None and fragment in problem


def test_a_birth_date_in_the_future_is_refused():
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    number = make(f"130434{tomorrow:%Y%m%d}001")
    assert "future" in id_number_problem(number)
    assert id_number_problem(number, today=tomorrow) is None


@pytest.mark.parametrize("former", ["130421", "130428", "130429"])
def test_an_old_region_code_that_no_longer_exists_is_still_valid(former):
    # 邯郸县, 肥乡县, 永年县: abolished, but IDs keep the code of first registration
    assert id_number_problem(make(f"{former}19650304002")) is None


def test_the_set_based_check_agrees_with_the_scalar_one():
    numbers = [
        VALID,
        "110105194912310021",
        "1101051949123100",
        make("13043419900230001"),
        make("99043419900101001"),
        make("13042819650304002"),
        "A1010519491231002X",
        make("13043420990101001"),
    ]
    df = pl.DataFrame({"id": numbers}).with_columns(problem=id_number_problem_expr("id"))
    assert df["problem"].to_list() == [id_number_problem(n) for n in numbers]
    assert df["problem"][2] == ERR_LENGTH


def test_masking_keeps_four_and_four():
    assert mask_id_number("13043419900101123X") == "1304**********123X"
