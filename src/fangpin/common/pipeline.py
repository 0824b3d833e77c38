"""The one import pipeline: read → map headers → parse → check → write, for every file an app
loads (the registry, the fund's contributions and bank return, the cadres).

An app declares its file once (``ImportSpec``): its columns as ``Field``s — what a column
holds (text, money, a date, a year, an ID number, one of a set of choices), its limits, its
messages, whether a value may repeat, a code the database must know (``Lookup``) — its own
rules (``check``) and its ``write``. The pipeline does the rest, the same for all:

1. **read** (``common.tabular``): the size, unpacked-byte, cell, line and row limits, then
   every cell as text; headers in Chinese or English;
2. **parse** each column set-based: money with the one parser ``tabular.yuan_to_fen``
   (integer fen), dates with ``tabular.text_to_date``, ID numbers with ``common.idnumber``;
   a lookup joins the rows its codes name;
3. **check** every row set-based — required, length, pattern, choice, money, date, year,
   repeats in the file, a code unknown or outside the importer's region — then the app's
   rules; every problem is kept as (row, column, value, message) and nothing is written;
4. **write**: the clean frame goes to the app's ``write`` in one transaction, all or
   nothing. A ``DomainError`` the write raises (a year settled since the checks) refuses
   the file with its message.

``import_file`` runs it on a file; ``import_frame`` on rows already in a frame (lines
given in code, e.g. a bank's return through an interface). Who imports (``Access``: the
actor, their region, a refusal) is decided by the caller — ``accounts.permissions.
import_access`` — since ``common`` knows no app.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from django.conf import settings
from django.db import transaction

from .bounds import FIRST_YEAR
from .clock import today as clock_today
from .errors import DomainError
from .idnumber import id_number_problem_expr
from .tabular import (
    ROW,
    Column,
    ImportOutcome,
    Problem,
    TableError,
    collect_problems,
    problems_from_mask,
    read_import_table,
    text_to_date,
    yuan_to_fen,
)

# what a column holds
TEXT = "text"
MONEY = "money"  # yuan, exact to the fen → integer fen
DATE = "date"
YEAR = "year"  # a whole number from FIRST_YEAR
ID_NUMBER = "id_number"  # 居民身份证号码, normalised to upper case
CHOICE = "choice"  # one of ``Field.choices`` (aliases, any case) → its code
PARSED_KINDS = (MONEY, DATE, YEAR, ID_NUMBER, CHOICE)

ERR_REQUIRED = "value is required (必填)"
ERR_TOO_LONG = "value is longer than {n} characters (内容过长)"
ERR_AMOUNT = (
    "amount must be a number of yuan with at most two decimals, e.g. 12345.60 (金额格式错误)"
)
ERR_NEGATIVE = "amount must not be negative (金额不能为负数)"
ERR_DATE = "date must be written YYYY-MM-DD, e.g. 2019-03-01 (日期格式错误)"
ERR_FUTURE_DATE = "date is in the future (日期晚于今天)"
ERR_YEAR = "year must be a whole number from 2000 (年度无效)"
ERR_FUTURE_YEAR = "year {year} is in the future (年度晚于今年)"

FOUND = "__found"  # set on the rows a lookup found


@dataclass(frozen=True)
class Lookup:
    """A code the file names that the database must know, e.g. a village code.

    ``rows(codes)`` returns the known ones among the file's distinct codes: a frame with a
    ``code`` column and whatever the checks and the write need, joined to the file's rows.
    ``path`` names its region-path column, which must lie in the importer's region."""

    rows: Callable[[list[str]], pl.DataFrame]
    unknown: str  # the message for a code the database does not know
    outside: str  # the message for a code outside the importer's region
    path: str = "path"


@dataclass(frozen=True)
class Field(Column):
    """A column of an import file, declared: its field name and Chinese header
    (``Column``), what it holds, and the checks every row's value must pass.

    A value is required where the column is (``required``). A parsed value (money, date,
    year, ID number, choice) goes into the column ``into``; the text stays in ``field``."""

    kind: str = TEXT
    into: str = ""
    max_chars: int = 0
    pattern: str = ""  # a regular expression the whole value must match …
    invalid: str = ""  # … and the message when it does not, or when a choice is not one
    choices: Mapping[str, Any] | None = None  # alias (any case) → code
    unique: str = ""  # the message when a value repeats in the file ({first}: its first row)
    unique_with: tuple[str, ...] = ()  # … repeats together with these fields' values
    clean: Callable[[pl.Expr], pl.Expr] | None = None  # applied to the text first
    lookup: Lookup | None = None

    def __post_init__(self) -> None:
        if (self.kind in PARSED_KINDS) != bool(self.into):
            raise ValueError(f"{self.field}: a {self.kind} column needs into= (and only one)")
        if self.kind == CHOICE and not (self.choices and self.invalid):
            raise ValueError(f"{self.field}: a choice needs choices= and invalid=")
        if self.pattern and not self.invalid:
            raise ValueError(f"{self.field}: a pattern needs invalid=")


@dataclass(frozen=True)
class Access:
    """Who imports: ``actor`` signs the audit rows; ``scope`` is the region path prefix their
    file may name ('' everything, None nothing); ``refusal`` refuses the whole file."""

    actor: Any = None
    scope: str | None = ""
    refusal: str = ""


OPERATOR = Access()  # the operator on the command line, without --as-user


@dataclass
class ImportRun:
    """One run of the pipeline: what the app's ``check`` and ``write`` are given."""

    spec: ImportSpec
    result: Any  # the spec's ImportOutcome
    access: Access
    header: dict[str, str]  # field → header as written in the file
    today: dt.date
    say: Callable[[str], None]
    frames: list[pl.DataFrame] = field(default_factory=list)

    @property
    def actor(self) -> Any:
        return self.access.actor

    @property
    def actor_id(self) -> int | None:
        return getattr(self.access.actor, "pk", None)

    @property
    def scope(self) -> str | None:
        return self.access.scope

    @property
    def path(self) -> str:
        return self.result.path

    def add(
        self,
        frame: pl.DataFrame,
        mask: pl.Expr,
        fld: str,
        message: str | pl.Expr,
        *,
        value: str = "",
    ) -> None:
        """A problem on every row of ``frame`` where ``mask`` holds, in ``fld``'s column
        (the value shown: ``fld``'s, or the column ``value``)."""
        self.frames.append(
            problems_from_mask(
                frame, mask, field=value or fld, header=self.header[fld], message=message
            )
        )


@dataclass(frozen=True)
class ImportSpec:
    """An app's import file: its columns, who may import it, its rules and its write.

    ``spec.run(path=, actor=, display_path=, progress=)`` imports a file (the app's import
    function, e.g. ``registry_import = SPEC.run``); ``spec.run_rows(rows, source=, actor=)``
    takes rows given in code."""

    fields: tuple[Field, ...]
    access: Callable[[Any], Access]  # actor → who imports (``permissions.import_access``)
    result: Callable[[str], ImportOutcome]  # the outcome for a file path, e.g. the class
    write: Callable[[pl.DataFrame, ImportRun], None]  # the clean rows; sets the counts
    check: Callable[[pl.DataFrame, ImportRun], pl.DataFrame] | None = None  # the app's rules
    max_rows: int = 200_000
    noun: str = "rows"  # what the progress line counts: "writing 1,234 households"

    def run(
        self,
        *,
        path: str | os.PathLike,
        actor: Any = None,
        display_path: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Any:
        """Validate ``path`` whole; write nothing on any problem, else write the changes.
        ``actor`` (None: the operator on the command line) bounds the regions the file may
        name and signs the audit rows; ``progress`` gets a line at each stage."""
        return import_file(
            self,
            path=path,
            access=self.access(actor),
            display_path=display_path,
            progress=progress,
        )

    def run_rows(self, rows: pl.DataFrame, *, source: str, actor: Any = None) -> Any:
        """The same for rows given in code (``import_frame``)."""
        return import_frame(self, rows, source=source, access=self.access(actor))


def in_scope(path: pl.Expr, scope: str | None) -> pl.Expr:
    """Whether a region path lies in the importer's region ('' everything, None nothing)."""
    if scope is None:
        return pl.lit(False)
    return path.str.starts_with(scope)


_PLACEHOLDER = re.compile(r"\{(\w+)(?:[^}]*)\}")


def message_expr(message: str, **values: pl.Expr) -> pl.Expr:
    """A message template (``"… first on row {first}"``) filled per row from columns."""
    names = _PLACEHOLDER.findall(message)
    return pl.format(_PLACEHOLDER.sub("{}", message), *(values[n] for n in names))


# --- the pipeline ---------------------------------------------------------------------------


def import_file(
    spec: ImportSpec,
    *,
    path: str | os.PathLike,
    access: Access = OPERATOR,
    display_path: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Any:
    """Read, check and write ``path`` whole; nothing is written when any problem is found."""
    say = progress or (lambda message: None)
    result = spec.result(display_path or str(path))
    if access.refusal:
        result.problems = [Problem(0, "", access.refusal)]
        return result
    say(f"reading {result.path} (读取文件)…")
    try:
        df, header = read_import_table(
            path,
            list(spec.fields),
            max_bytes=settings.FANGPIN_IMPORT_MAX_BYTES,
            max_rows=spec.max_rows,
        )
    except TableError as exc:
        result.problems = exc.problems
        return result
    return _run(spec, df, header, result, access, say)


def import_frame(
    spec: ImportSpec,
    rows: pl.DataFrame,
    *,
    source: str,
    access: Access = OPERATOR,
) -> Any:
    """The pipeline on rows given in code (a text column per field, those not given are
    empty; ``ROW`` numbered as if from a file): the same checks, the same write; problems
    name the fields."""
    result = spec.result(source)
    if access.refusal:
        result.problems = [Problem(0, "", access.refusal)]
        return result
    header = {f.field: f.field for f in spec.fields}
    absent = [f.field for f in spec.fields if f.field not in rows.columns]
    rows = rows.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in absent)
    return _run(spec, rows, header, result, access, lambda message: None)


def _run(
    spec: ImportSpec,
    df: pl.DataFrame,
    header: dict[str, str],
    result: Any,
    access: Access,
    say: Callable[[str], None],
) -> Any:
    run = ImportRun(
        spec=spec, result=result, access=access, header=header, today=clock_today(), say=say
    )
    say(f"checking {df.height:,} rows (检查数据)…")
    df = _parsed(df, spec.fields)
    df = _looked_up(df, spec.fields)
    _field_checks(df, run)
    df = df.drop(FOUND, strict=False)
    if spec.check is not None:
        df = spec.check(df, run)
    result.problems = collect_problems(run.frames)
    if result.problems:
        return result
    say(f"writing {df.height:,} {spec.noun} (写入数据库)…")
    try:
        with transaction.atomic():
            spec.write(df, run)
    except DomainError as exc:  # something changed since the checks (a year settled): refused
        result.problems = [Problem(0, "", exc.message)]
    return result


def _parsed(df: pl.DataFrame, fields: tuple[Field, ...]) -> pl.DataFrame:
    """Each column cleaned, then parsed into its ``into`` column (null where malformed)."""
    cleaned = [f.clean(pl.col(f.field)).alias(f.field) for f in fields if f.clean is not None]
    if cleaned:
        df = df.with_columns(cleaned)
    parsed: list[pl.Expr] = []
    for f in fields:
        col = pl.col(f.field)
        if f.kind == MONEY:
            parsed.append(yuan_to_fen(f.field).alias(f.into))
        elif f.kind == DATE:
            parsed.append(text_to_date(f.field).alias(f.into))
        elif f.kind == YEAR:
            year = col.cast(pl.Int64, strict=False)
            parsed.append(pl.when(year >= FIRST_YEAR).then(year).alias(f.into))
        elif f.kind == ID_NUMBER:
            parsed.append(col.str.to_uppercase().alias(f.into))
        elif f.kind == CHOICE:
            codes = {str(k).lower(): v for k, v in (f.choices or {}).items()}
            dtype = pl.Boolean if all(isinstance(v, bool) for v in codes.values()) else pl.String
            parsed.append(
                col.str.to_lowercase()
                .replace_strict(codes, default=None, return_dtype=dtype)
                .alias(f.into)
            )
    return df.with_columns(parsed) if parsed else df


def _looked_up(df: pl.DataFrame, fields: tuple[Field, ...]) -> pl.DataFrame:
    for f in fields:
        if f.lookup is None:
            continue
        codes = df[f.field].drop_nulls().unique().to_list()
        known = f.lookup.rows(codes).with_columns(pl.lit(True).alias(FOUND))
        df = df.join(known, left_on=f.field, right_on="code", how="left")
    return df


def _field_checks(df: pl.DataFrame, run: ImportRun) -> None:
    """The checks every declared column asks for, each one filter over the whole file."""
    today = run.today
    for f in run.spec.fields:
        col, given = pl.col(f.field), pl.col(f.field).is_not_null()

        def add(mask: pl.Expr, message: str | pl.Expr, f: Field = f) -> None:
            run.add(df, mask, f.field, message)

        if f.required:
            add(col.is_null(), ERR_REQUIRED)
        if f.max_chars:
            add(col.str.len_chars() > f.max_chars, ERR_TOO_LONG.format(n=f.max_chars))
        if f.pattern:
            add(given & ~col.str.contains(f.pattern), f.invalid)
        value = pl.col(f.into) if f.into else col
        if f.kind == CHOICE:
            add(given & value.is_null(), f.invalid)
        elif f.kind == MONEY:
            negative = col.str.starts_with("-")
            add(negative, ERR_NEGATIVE)
            add(given & ~negative & value.is_null(), ERR_AMOUNT)
        elif f.kind == DATE:
            add(given & value.is_null(), ERR_DATE)
            add(value > pl.lit(today), ERR_FUTURE_DATE)
        elif f.kind == YEAR:
            add(given & value.is_null(), ERR_YEAR)
            add(value > today.year, message_expr(ERR_FUTURE_YEAR, year=value))
        elif f.kind == ID_NUMBER:
            problem = id_number_problem_expr(f.field, today=today)
            add(given & problem.is_not_null(), problem)
        if f.unique:
            first = pl.col(ROW).min().over(*[pl.col(k) for k in f.unique_with], value)
            add(given & (pl.col(ROW) != first), message_expr(f.unique, first=first))
        if f.lookup is not None:
            found = pl.col(FOUND).fill_null(False)
            add(given & ~found, f.lookup.unknown)
            add(found & ~in_scope(pl.col(f.lookup.path), run.scope), f.lookup.outside)
