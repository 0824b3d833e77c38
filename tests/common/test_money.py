from decimal import Decimal

import pytest

from fangpin.common.money import ERR_FLOAT, Money, round_fen


def test_money_refuses_floats_everywhere():
    with pytest.raises(TypeError, match="float"):
        Money(0.1)
    with pytest.raises(TypeError, match="float"):
        Money("1") + 0.1
    with pytest.raises(TypeError, match="float"):
        Money("1") * 0.5
    assert "浮点数" in ERR_FLOAT


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("2.675", "2.68"),
        ("-0.005", "-0.01"),
        ("1234.5", "1234.50"),
        (Decimal("16400") * Decimal("0.6"), "9840.00"),
        (7, "7.00"),
    ],
)
def test_money_rounds_half_up_to_the_fen(given, expected):
    assert str(Money(given)) == expected


def test_money_stores_as_integer_fen_and_back():
    m = Money("4540.00")
    assert m.fen == 454000
    assert Money.from_fen(454000) == m
    assert Money.from_fen(-1) == Money("-0.01")
    with pytest.raises(TypeError):
        Money.from_fen(1.0)  # type: ignore[arg-type]


def test_money_arithmetic_is_exact():
    total = sum([Money("0.10")] * 10, Money(0))
    assert total == Money("1.00")
    assert Money("5000") * Decimal("0.5") + Money("3400") * Decimal("0.6") == Money("4540")
    assert Money("10") - Money("0.01") == Money("9.99")
    assert Money("1") < Money("1.01")
    assert round_fen(Decimal("1.005")) == Decimal("1.01")


def test_money_rejects_garbage():
    for bad in ("abc", "1,000", "", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            Money(bad)
    with pytest.raises(TypeError):
        Money(True)


def test_money_is_immutable_and_hashable():
    m = Money("1")
    with pytest.raises(AttributeError):
        m._amount = Decimal(2)  # type: ignore[misc]
    assert {Money("1.00"), Money("1")} == {Money("1")}


def test_money_refuses_an_amount_it_could_not_round_to_the_fen_or_store():
    """``1e30`` yuan overflowed Decimal's 28 digits when rounded (a server error); now it is a
    ValueError with a message like any other bad amount, from text, Decimal or fen."""
    for bad in ("1e30", "-1e30", "100000000000000", Decimal("1E+26")):
        with pytest.raises(ValueError, match="金额超出范围"):
            Money(bad)
    with pytest.raises(ValueError, match="金额超出范围"):
        Money.from_fen(10**30)
    with pytest.raises(ValueError, match="金额超出范围"):
        Money("99999999999999.99") + Money("0.01")
    assert Money("99999999999999.99").fen == 9_999_999_999_999_999
    assert Money("-99999999999999.99").fen == -9_999_999_999_999_999
