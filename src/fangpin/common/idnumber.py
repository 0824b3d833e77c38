"""Resident identity card numbers (居民身份证号码), GB 11643-1999.

An ID number is 18 characters: a 6-digit address code (the region of first
registration), an 8-digit birth date, a 3-digit sequence (odd for men) and a
check character computed over the first 17 digits (ISO 7064 MOD 11-2; 'X'
stands for 10).

Only the first two digits (the province) are checked against the list of
provinces: an ID keeps the region code of its first registration for life, so a
county code that no longer exists (邯郸县 130421, 肥乡县 130428) still begins
valid ID numbers.

``id_number_problem(value)`` returns ``None`` for a valid number or a reason a
user can read (Chinese and English); ``mask_id_number`` renders it for lists.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # check character for (weighted sum mod 11)

# Province-level codes of GB/T 2260 (first two digits). 71 Taiwan, 81 Hong Kong,
# 82 Macao: residence permits for residents of those regions use them too.
PROVINCE_CODES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)

ERR_LENGTH = "ID number must have 18 characters (身份证号必须为18位)"
ERR_CHARS = "ID number must be 17 digits and a digit or X (身份证号格式错误)"
ERR_PROVINCE = "ID number begins with an unknown province code {code} (省份代码无效)"
ERR_BIRTH_DATE = "ID number holds an impossible birth date {date} (出生日期无效)"
ERR_FUTURE_BIRTH = "ID number holds a birth date in the future {date} (出生日期晚于今天)"
ERR_CHECKSUM = "ID number check digit is wrong: expected {expected} (校验码错误)"


def check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def normalize_id_number(value: str) -> str:
    """Strip spaces and upper-case a trailing x."""
    return str(value).strip().upper()


def id_number_problem(value: str, *, today: dt.date | None = None) -> str | None:
    """``None`` when ``value`` is a valid resident ID number, else the reason."""
    number = normalize_id_number(value)
    if len(number) != 18:
        return ERR_LENGTH
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return ERR_CHARS
    if number[:2] not in PROVINCE_CODES:
        return ERR_PROVINCE.format(code=number[:2])
    raw_date = number[6:14]
    try:
        birth = dt.date(int(raw_date[:4]), int(raw_date[4:6]), int(raw_date[6:8]))
    except ValueError:
        return ERR_BIRTH_DATE.format(date=raw_date)
    if birth.year < 1880:
        return ERR_BIRTH_DATE.format(date=raw_date)
    if birth > (today or dt.date.today()):
        return ERR_FUTURE_BIRTH.format(date=birth.isoformat())
    expected = check_char(number[:17])
    if number[17] != expected:
        return ERR_CHECKSUM.format(expected=expected)
    return None


def is_valid_id_number(value: str) -> bool:
    return id_number_problem(value) is None


def birth_date(number: str) -> dt.date:
    """Birth date of a valid ID number."""
    n = normalize_id_number(number)
    return dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))


def mask_if_id_number(value: str) -> str:
    """``value`` masked when it is an ID number (a feed reference may be one: a student's in
    an education warning), else as it is."""
    n = normalize_id_number(value or "")
    return mask_id_number(n) if len(n) == 18 and n[:17].isdigit() else value


def mask_id_number(number: str) -> str:
    """Mask for lists: the first four and last four characters stay.

    >>> mask_id_number("130434199001011234")
    '1304**********1234'
    """
    n = normalize_id_number(number)
    if len(n) < 8:
        return "*" * len(n)
    return n[:4] + "*" * (len(n) - 8) + n[-4:]


def _format_expr(template: str, placeholder: str, value: pl.Expr) -> pl.Expr:
    # the module's message constants have exactly one placeholder and no other braces
    return pl.format(template.replace("{" + placeholder + "}", "{}"), value)


def _weighted_digit_sum(numbers: pl.Series) -> pl.Series:
    n = numbers.to_numpy().astype(np.int64)
    total = np.zeros_like(n)
    for i, weight in enumerate(WEIGHTS):  # 17 vector operations, not a loop over rows
        total += (n // 10 ** (16 - i)) % 10 * weight
    return pl.Series(total)


def _id_parts(column: str) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """The cleaned number, its province, birth date and expected check character, as exprs."""
    s = pl.col(column).cast(pl.String).str.strip_chars().str.to_uppercase()
    province = s.str.slice(0, 2)
    birth = s.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)
    # the 17 digits as one integer, the weighted digit sum taken out arithmetically over the
    # whole column at once (a non-digit number gives 0: the format check rejects it anyway)
    number = s.str.slice(0, 17).str.to_integer(strict=False).fill_null(0)
    total = number.map_batches(_weighted_digit_sum, return_dtype=pl.Int64)
    expected = (total % 11).replace_strict(
        {i: c for i, c in enumerate(CHECK_CHARS)}, return_dtype=pl.String
    )
    return s, province, birth, expected


def id_number_valid_expr(column: str, *, today: dt.date | None = None) -> pl.Expr:
    """True where ``id_number_problem_expr`` finds nothing (cheaper: no messages are built)."""
    s, province, birth, expected = _id_parts(column)
    today = today or dt.date.today()
    return (
        (s.str.len_chars() == 18)
        & s.str.contains(r"^\d{17}[\dX]$")
        & province.is_in(sorted(PROVINCE_CODES))
        & (birth.dt.year() >= 1880)
        & (birth <= pl.lit(today))
        & (s.str.slice(17, 1) == expected)
    ).fill_null(False)


def id_number_problem_expr(column: str, *, today: dt.date | None = None) -> pl.Expr:
    """The same checks as ``id_number_problem`` as one polars expression over a column.

    Yields null for a valid number and the reason otherwise, so a whole file is
    checked set-based, without a Python loop over rows.
    """
    s, province, birth, expected = _id_parts(column)
    today = today or dt.date.today()
    return (
        pl.when(s.str.len_chars() != 18)
        .then(pl.lit(ERR_LENGTH))
        .when(~s.str.contains(r"^\d{17}[\dX]$"))
        .then(pl.lit(ERR_CHARS))
        .when(~province.is_in(sorted(PROVINCE_CODES)))
        .then(_format_expr(ERR_PROVINCE, "code", province))
        .when(birth.is_null() | (birth.dt.year() < 1880))
        .then(_format_expr(ERR_BIRTH_DATE, "date", s.str.slice(6, 8)))
        .when(birth > pl.lit(today))
        .then(_format_expr(ERR_FUTURE_BIRTH, "date", birth.cast(pl.String)))
        .when(s.str.slice(17, 1) != expected)
        .then(_format_expr(ERR_CHECKSUM, "expected", expected))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
