"""The outer range of every year and date a user gives (``common.bounds``)."""

import pytest

from fangpin.common.bounds import ERR_YEAR, RangeError, year_checked, year_param
from fangpin.common.errors import DomainError


@pytest.mark.parametrize("given", [2000, "2026", " 2100 ", "２０２６"])
def test_a_year_from_2000_to_2100_is_taken_as_written(given):
    assert 2000 <= year_checked(given) <= 2100


@pytest.mark.parametrize(
    "given", [0, 1999, 2101, 10000, -1, "0", "abc", "", "2026.0", "1e3", True, 2026.0, None, 10**30]
)
def test_anything_else_is_refused_naming_the_field(given):
    with pytest.raises(RangeError) as refused:
        year_checked(given, field="period")
    assert refused.value.field == "period"
    assert refused.value.message == ERR_YEAR.format(field="period", value=given)
    assert isinstance(refused.value, DomainError)  # 422 from the API, 400 on a page


def test_a_page_parameter_left_blank_takes_its_default():
    assert year_param(None, default=2026) == year_param("  ", default=2026) == 2026
    assert year_param("2019", default=2026) == 2019
    with pytest.raises(RangeError):
        year_param("0", default=2026)
