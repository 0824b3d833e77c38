"""Reading a county office's spreadsheet (.xlsx or .csv) into an all-text table.

Every column is read as text, so nothing is guessed (an ID number stays 18
characters, "0012" stays "0012"); the importer decides what each column means.
Rows carry ``__row``: the row number as Excel (or a text editor) shows it, the
header being row 1. Headers are matched in Chinese or English.

Errors are reported as ``Problem`` rows (row, column, value, message) and
printed as ``PATH:ROW:COLUMN: message``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

ROW = "__row"

ERR_UNKNOWN_FORMAT = (
    "unsupported file type {suffix!r}: use .xlsx or .csv (仅支持 .xlsx 或 .csv 文件)"
)
ERR_TOO_BIG = "file is {size:,} bytes, more than the limit of {limit:,} (文件过大)"
ERR_EMPTY = "the file holds no data rows (文件没有数据行)"
ERR_UNREADABLE = "cannot read the file as {kind}: {detail} (文件无法读取)"
ERR_NOT_FOUND = "no such file (文件不存在)"
ERR_MISSING_COLUMN = "required column is missing (缺少必填列): {name}"
ERR_UNKNOWN_COLUMN = "unknown column; expected one of: {expected} (无法识别的列)"
ERR_DUPLICATE_COLUMN = "column appears twice (列名重复)"
ERR_TOO_MANY_ROWS = "the file has {n:,} rows, more than {limit:,} (行数过多)"


@dataclass(frozen=True)
class Column:
    """A column the importer understands: its field name and its Chinese header."""

    field: str
    zh: str
    required: bool = True


@dataclass(frozen=True, order=True)
class Problem:
    row: int  # as Excel shows it; 0 for the whole file, 1 for the header
    column: str  # header as written in the file, or "" for the whole row/file
    message: str
    value: str = ""

    def format(self, path: str) -> str:
        if self.row == 0 and not self.column:
            return f"{path}: {self.message}"
        return f"{path}:{self.row}:{self.column}: {self.message}"


@dataclass
class ImportOutcome:
    """What a file import found: its problems (nothing written when any) — subclasses add counts."""

    path: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def error_lines(self) -> list[str]:
        return [p.format(self.path) for p in self.problems]


class TableError(Exception):
    """The file cannot be read at all; ``problems`` says why."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _decode_csv(raw: bytes) -> str:
    # Excel in China saves CSV as GB18030/GBK; anything else is UTF-8 (with or without BOM).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError(
        [Problem(0, "", ERR_UNREADABLE.format(kind="CSV", detail="not UTF-8 or GB18030 text"))]
    )


def read_text_table(path: str | os.PathLike, *, max_bytes: int) -> pl.DataFrame:
    """All cells as text (null when empty), with ``__row``; fully blank rows dropped."""
    p = Path(path)
    if not p.is_file():
        raise TableError([Problem(0, "", ERR_NOT_FOUND)])
    size = p.stat().st_size
    if size > max_bytes:
        raise TableError([Problem(0, "", ERR_TOO_BIG.format(size=size, limit=max_bytes))])
    suffix = p.suffix.lower()
    if suffix == ".csv":
        text = _decode_csv(p.read_bytes())
        try:
            df = pl.read_csv(
                text.encode("utf-8"),
                infer_schema=False,
                has_header=True,
            )
        except (pl.exceptions.PolarsError, ValueError) as exc:
            detail = (
                str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            )
            raise TableError(
                [Problem(0, "", ERR_UNREADABLE.format(kind="CSV", detail=detail))]
            ) from None
    elif suffix in (".xlsx", ".xlsm"):
        import fastexcel

        try:
            reader = fastexcel.read_excel(str(p))
            df = reader.load_sheet(0, dtypes="string").to_polars()
        except Exception as exc:  # fastexcel raises its own hierarchy for broken files
            detail = (
                str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            )
            raise TableError(
                [Problem(0, "", ERR_UNREADABLE.format(kind="XLSX", detail=detail))]
            ) from None
    else:
        raise TableError([Problem(0, "", ERR_UNKNOWN_FORMAT.format(suffix=suffix or p.name))])

    df = df.with_columns(pl.all().cast(pl.String).str.strip_chars())
    df = df.with_columns(
        [pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in df.columns]
    )
    df = df.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
    data_cols = [c for c in df.columns if c != ROW]
    if data_cols:
        df = df.filter(~pl.all_horizontal([pl.col(c).is_null() for c in data_cols]))
    if df.height == 0:
        raise TableError([Problem(0, "", ERR_EMPTY)])
    return df


def _norm(header: str) -> str:
    return "".join(str(header).split()).lower().replace("（", "(").replace("）", ")")


def map_columns(
    df: pl.DataFrame, columns: list[Column]
) -> tuple[pl.DataFrame, dict[str, str], list[Problem]]:
    """Rename file headers (Chinese or English) to field names.

    Returns the renamed frame, ``field -> header as written`` (for messages), and
    header problems: missing required columns, unknown or duplicated headers.
    """
    lookup: dict[str, Column] = {}
    for col in columns:
        lookup[_norm(col.field)] = col
        lookup[_norm(col.zh)] = col
        lookup[_norm(f"{col.zh}/{col.field}")] = col
        lookup[_norm(f"{col.zh}({col.field})")] = col
    problems: list[Problem] = []
    rename: dict[str, str] = {}
    header_of: dict[str, str] = {}
    expected = ", ".join(f"{c.zh}/{c.field}" for c in columns)
    for header in df.columns:
        if header == ROW:
            continue
        col = lookup.get(_norm(header))
        if col is None:
            problems.append(Problem(1, header, ERR_UNKNOWN_COLUMN.format(expected=expected)))
        elif col.field in header_of:
            problems.append(Problem(1, header, ERR_DUPLICATE_COLUMN))
        else:
            rename[header] = col.field
            header_of[col.field] = header
    for col in columns:
        if col.field not in header_of:
            if col.required:
                problems.append(
                    Problem(1, col.zh, ERR_MISSING_COLUMN.format(name=f"{col.zh}/{col.field}"))
                )
            header_of[col.field] = col.zh
    out = df.select([ROW, *rename]).rename(rename)
    missing = [c.field for c in columns if c.field not in out.columns]
    if missing:
        out = out.with_columns([pl.lit(None, dtype=pl.String).alias(f) for f in missing])
    return out, header_of, problems


def problems_from_mask(
    df: pl.DataFrame, mask: pl.Expr, *, field: str, header: str, message: str | pl.Expr
) -> pl.DataFrame:
    """Rows where ``mask`` holds, as a problems frame (row, column, value, message)."""
    msg = pl.lit(message) if isinstance(message, str) else message
    # the message is computed before filtering: it may use window expressions over the whole file
    return (
        df.with_columns(msg.cast(pl.String).alias("__message"), mask.alias("__mask"))
        .filter(pl.col("__mask"))
        .select(
            pl.col(ROW).alias("row"),
            pl.lit(header).alias("column"),
            pl.col(field).cast(pl.String).fill_null("").alias("value"),
            pl.col("__message").alias("message"),
        )
    )


PROBLEM_SCHEMA = {"row": pl.Int64, "column": pl.String, "value": pl.String, "message": pl.String}


def collect_problems(frames: list[pl.DataFrame]) -> list[Problem]:
    frames = [f.cast(PROBLEM_SCHEMA) for f in frames if f.height]  # type: ignore[arg-type]
    if not frames:
        return []
    allp = pl.concat(frames).sort(["row", "column", "message"])
    return [
        Problem(r["row"], r["column"], r["message"], r["value"]) for r in allp.iter_rows(named=True)
    ]


def problems_to_xlsx(problems: list[Problem], *, source: str) -> bytes:
    """The problems as a workbook a county office opens in Excel (file, row, column, value, problem)."""
    import io

    import xlsxwriter

    from .exports import write_text

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("问题 problems")
    bold = wb.add_format({"bold": True, "bg_color": "#F0F2F5"})
    ws.write_row(0, 0, ["文件 file", "行 row", "列 column", "值 value", "问题 problem"], bold)
    for i, p in enumerate(problems, start=1):
        write_text(ws, i, 0, source)
        ws.write_number(i, 1, p.row)
        write_text(ws, i, 2, p.column)
        write_text(ws, i, 3, p.value)
        write_text(ws, i, 4, p.message)
    ws.set_column(0, 0, 24)
    ws.set_column(2, 3, 18)
    ws.set_column(4, 4, 70)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(problems), 1), 4)
    wb.close()
    return buf.getvalue()


def read_import_table(
    path: str | os.PathLike, columns: list[Column], *, max_bytes: int, max_rows: int
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Read a file for an import: size and row limits, headers mapped to field names.

    Returns the frame (``__row`` plus one text column per field) and
    ``field -> header as written``; raises ``TableError`` with the problems.
    """
    raw = read_text_table(path, max_bytes=max_bytes)
    if raw.height > max_rows:
        raise TableError([Problem(0, "", ERR_TOO_MANY_ROWS.format(n=raw.height, limit=max_rows))])
    df, header, problems = map_columns(raw, columns)
    if problems:
        raise TableError(problems)
    return df, header


def frame_of(rows: list, schema: dict) -> pl.DataFrame:
    """Rows (dicts or tuples) from the database as a typed frame, empty or not."""
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def chunks(values: list, size: int = 5000):
    """Slices of ``values`` small enough for an ``IN (…)`` on every database."""
    for i in range(0, len(values), size):
        yield values[i : i + size]
