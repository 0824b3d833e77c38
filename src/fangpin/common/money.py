"""Exact money: ``Money`` is a yuan amount held as a ``Decimal`` to the fen.

Rules that hold everywhere (ARCHITECTURE.md, "Rules that hold everywhere"):
money is never a float; amounts are rounded ``ROUND_HALF_UP`` to the fen
(0.01 yuan) at named points; the database stores integer fen.

``Money`` accepts ``int``, ``Decimal`` and decimal strings ("1234.5", "1,234.50"
is refused: thousands separators are ambiguous in data files). A ``float`` is
refused with ``TypeError`` because it cannot hold most fen amounts exactly.

An amount is less than ``MAX_YUAN`` (10^14 yuan) either way: anything larger is a
typing error or a probe (``1e30``), and it would not survive the rounding (28 digits of
Decimal precision) nor fit the database's BIGINT of fen. It is refused with
``ValueError`` like any other bad amount, so every parser built on ``to_decimal``
answers it with its own message rather than a ``decimal.InvalidOperation``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import total_ordering
from typing import Any

FEN = Decimal("0.01")
MAX_YUAN = Decimal(10) ** 14  # a hundred trillion yuan; the forms' 16 digits hold less

ERR_FLOAT = "money must not be a float; pass a Decimal, int or decimal string (金额不能是浮点数)"
ERR_NOT_A_NUMBER = "not a decimal amount (不是有效金额): {value!r}"
ERR_NOT_FINITE = "amount must be finite (金额必须是有限数): {value!r}"
ERR_OUT_OF_RANGE = (
    "amount is out of range: less than 100,000,000,000,000 yuan (金额超出范围): {value!r}"
)


def round_fen(value: Decimal) -> Decimal:
    """Round a Decimal to the fen, half up — the one rounding rule of Fangpin."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def to_decimal(value: Any) -> Decimal:
    """Convert an int, Decimal, Money or decimal string to an exact Decimal (no rounding)."""
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, bool):
        raise TypeError(ERR_NOT_A_NUMBER.format(value=value))
    if isinstance(value, float):
        raise TypeError(ERR_FLOAT)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(ERR_NOT_A_NUMBER.format(value=value)) from None
    else:
        raise TypeError(ERR_NOT_A_NUMBER.format(value=value))
    if not result.is_finite():
        raise ValueError(ERR_NOT_FINITE.format(value=value))
    return _in_range(result, value)


def _in_range(amount: Decimal, given: Any) -> Decimal:
    if abs(amount) >= MAX_YUAN:
        raise ValueError(ERR_OUT_OF_RANGE.format(value=given))
    return amount


@total_ordering
class Money:
    """An exact amount of yuan, always held rounded half up to the fen.

    >>> Money("4540")
    Money('4540.00')
    >>> Money("0.005")
    Money('0.01')
    >>> Money(150_000, fen=True)
    Money('1500.00')
    """

    __slots__ = ("_amount",)

    def __init__(self, value: Any = 0, *, fen: bool = False) -> None:
        if fen:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError("fen must be an int (分必须是整数)")
            amount = _in_range(Decimal(value).scaleb(-2), value)
        else:
            amount = to_decimal(value)
        object.__setattr__(self, "_amount", round_fen(amount))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Money is immutable")

    @classmethod
    def from_fen(cls, fen: int) -> Money:
        return cls(fen, fen=True)

    @property
    def amount(self) -> Decimal:
        """The amount in yuan as a Decimal with exactly two places."""
        return self._amount

    @property
    def fen(self) -> int:
        """The amount as integer fen, as stored in the database."""
        return int(self._amount.scaleb(2))

    # arithmetic ------------------------------------------------------------
    def _coerce(self, other: Any) -> Decimal:
        if isinstance(other, Money):
            return other.amount
        if isinstance(other, (int, Decimal)) and not isinstance(other, bool):
            return Decimal(other)
        if isinstance(other, float):
            raise TypeError(ERR_FLOAT)
        return NotImplemented  # type: ignore[return-value]

    def __add__(self, other: Any) -> Money:
        o = self._coerce(other)
        if o is NotImplemented:
            return NotImplemented
        return Money(self._amount + o)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Money:
        o = self._coerce(other)
        if o is NotImplemented:
            return NotImplemented
        return Money(self._amount - o)

    def __rsub__(self, other: Any) -> Money:
        o = self._coerce(other)
        if o is NotImplemented:
            return NotImplemented
        return Money(o - self._amount)

    def __mul__(self, other: Any) -> Money:
        """Money × a rate (Decimal or int), rounded half up to the fen."""
        if isinstance(other, Money):
            raise TypeError("cannot multiply money by money")
        o = self._coerce(other)
        if o is NotImplemented:
            return NotImplemented
        return Money(self._amount * o)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self._amount)

    def __abs__(self) -> Money:
        return Money(abs(self._amount))

    # comparison ------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Money):
            return self._amount == other._amount
        if isinstance(other, (int, Decimal)) and not isinstance(other, bool):
            return self._amount == other
        return NotImplemented

    def __lt__(self, other: Any) -> bool:
        o = self._coerce(other)
        if o is NotImplemented:
            return NotImplemented
        return self._amount < o

    def __hash__(self) -> int:
        return hash(self._amount)

    def __bool__(self) -> bool:
        return bool(self._amount)

    # display ---------------------------------------------------------------
    def __str__(self) -> str:
        return f"{self._amount:.2f}"

    def __repr__(self) -> str:
        return f"Money('{self._amount:.2f}')"

    def __format__(self, spec: str) -> str:
        return format(self._amount, spec or ".2f")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Money, (str(self._amount),))
