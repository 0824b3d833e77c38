"""Read one case from JSON-like data, as the command and the API receive it.

Input fields (issue 3): ``date`` (ISO), ``county`` (6-digit code),
``household_type``, ``circumstance``, ``members`` (integer ≥ 1),
``annual_income`` and ``self_paid`` (decimal strings, yuan), and optionally
``paid_this_year`` (decimal string, default "0"). Amounts are strings so that no
JSON float ever carries money; an integer is accepted too (it is exact).

Every problem is reported with the field it concerns (ARCHITECTURE.md: "Bad
input gets a clear error naming where it is"); all problems are collected, so a
form can show them together.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from fangpin.policy import spec
from fangpin.policy.loader import ParameterSet, PolicyInputError, parameters_default
from fangpin.policy.scalar import Case, amount_check, case_check

INPUT_FIELDS: tuple[str, ...] = (
    "date",
    "county",
    "household_type",
    "circumstance",
    "members",
    "annual_income",
    "self_paid",
    "paid_this_year",
)
OPTIONAL_FIELDS: dict[str, Any] = {"paid_this_year": "0"}

ERR_NOT_AN_OBJECT = "a case must be a JSON object with the fields {fields}"
ERR_MISSING = "is missing (缺少字段)"
ERR_UNKNOWN = "is not a case field (未知字段); expected {fields}"
ERR_DATE = "must be an ISO date YYYY-MM-DD (日期格式), got {value!r}"
ERR_COUNTY = "must be a 6-digit county code (县级行政区划代码), got {value!r}"
ERR_CHOICE = "must be one of {choices}, got {value!r}"
ERR_MEMBERS = "must be a whole number of at least 1 (家庭人口), got {value!r}"
ERR_FLOAT = 'must be a decimal string such as "16400.00", not a JSON number with a fraction'
ERR_NUMBER = "is not a decimal amount (不是有效金额): {value!r}"

_COUNTY = re.compile(r"^\d{6}$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class CaseInputError(PolicyInputError):
    """One or more fields of a case are wrong; ``errors`` lists (field, message)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        field, message = errors[0]
        super().__init__(field, message)

    def __str__(self) -> str:
        return "; ".join(f"{field}: {message}" for field, message in self.errors)


def _amount(value: Any, name: str) -> Decimal:
    if isinstance(value, float):
        raise PolicyInputError(name, ERR_FLOAT)
    if isinstance(value, bool):
        raise PolicyInputError(name, ERR_NUMBER.format(value=value))
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str) and _DECIMAL.match(value.strip()):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover — the pattern admits only valid decimals
            raise PolicyInputError(name, ERR_NUMBER.format(value=value)) from None
    else:
        raise PolicyInputError(name, ERR_NUMBER.format(value=value))
    return amount_check(name, number)


def _date(value: Any) -> datetime.date:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise PolicyInputError("date", ERR_DATE.format(value=value))


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise PolicyInputError(name, ERR_CHOICE.format(choices=", ".join(choices), value=value))
    return value


def _members(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PolicyInputError("members", ERR_MEMBERS.format(value=value))
    return value


def _county(value: Any) -> str:
    if not isinstance(value, str) or not _COUNTY.match(value):
        raise PolicyInputError("county", ERR_COUNTY.format(value=value))
    return value


_PARSERS = {
    "date": _date,
    "county": _county,
    "household_type": lambda v: _choice(v, "household_type", spec.HOUSEHOLD_TYPES),
    "circumstance": lambda v: _choice(v, "circumstance", spec.CIRCUMSTANCES),
    "members": _members,
    "annual_income": lambda v: _amount(v, "annual_income"),
    "self_paid": lambda v: _amount(v, "self_paid"),
    "paid_this_year": lambda v: _amount(v, "paid_this_year"),
}


def case_from_mapping(data: Any, *, parameters: ParameterSet | None = None) -> Case:
    """Parse and check one case; raise ``CaseInputError`` naming every wrong field.

    Beyond each field's own form, checks that the county is known and that the
    policy was in force on the date (both against ``parameters``).
    """
    if not isinstance(data, Mapping):
        raise CaseInputError([("(case)", ERR_NOT_AN_OBJECT.format(fields=", ".join(INPUT_FIELDS)))])
    errors: list[tuple[str, str]] = []
    for name in data:
        if name not in INPUT_FIELDS:
            errors.append((str(name), ERR_UNKNOWN.format(fields=", ".join(INPUT_FIELDS))))
    params = parameters if parameters is not None else parameters_default()
    values: dict[str, Any] = {}
    for name in INPUT_FIELDS:
        if name not in data or data[name] is None:
            if name in OPTIONAL_FIELDS:
                values[name] = _PARSERS[name](OPTIONAL_FIELDS[name])
                continue
            errors.append((name, ERR_MISSING))
            continue
        try:
            values[name] = _PARSERS[name](data[name])
            if name == "county":
                params.county_key(values[name])  # an unknown county is refused here
        except PolicyInputError as exc:
            values.pop(name, None)
            errors.append((exc.field, exc.message))
    if "date" in values and "county" in values:
        try:
            params.in_force(values["county"], values["date"])  # a date before the policy
        except PolicyInputError as exc:
            errors.append((exc.field, exc.message))
    if errors:
        raise CaseInputError(errors)
    case = Case(**values)
    case_check(case)
    return case
