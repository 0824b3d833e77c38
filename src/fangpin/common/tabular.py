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
import re
import zipfile
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
ERR_MORE = "… and {n:,} more problems (另有 {n:,} 个问题)"
ERR_XLSX_UNPACKED = (
    "the workbook unpacks to {size:,} bytes, more than the limit of {limit:,} "
    "(FANGPIN_IMPORT_MAX_UNPACKED_BYTES) (解压后过大)"
)
ERR_XLSX_RATIO = (
    "the workbook is compressed {ratio:,}-fold, more than {limit:,}-fold: it is not a table a "
    "county office writes (压缩比异常)"
)
ERR_XLSX_CELLS = (
    "sheet {sheet} spans {ref}: {cells:,} cells, more than the limit of {limit:,} "
    "(FANGPIN_IMPORT_MAX_CELLS) (单元格过多)"
)
ERR_CSV_LINE = (
    "line {line:,} is {length:,} bytes long, more than the limit of {limit:,} "
    "(FANGPIN_IMPORT_MAX_LINE_BYTES) (单行过长)"
)

# Limits checked before a file is parsed (settings of the same names override them): a
# refused file costs a look at its ZIP directory or one pass over its bytes, never a parse.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # the XML of a workbook, unpacked
MAX_RATIO = 200  # unpacked ÷ packed: a spreadsheet's XML packs 5–30-fold; a bomb far more
MAX_CELLS = 20_000_000  # a sheet's declared dimension (rows × columns)
MAX_LINE_BYTES = 64 * 1024  # one CSV line
PROBLEMS_SHOWN = 500  # problems listed on a page; the XLSX report holds up to PROBLEMS_KEPT
PROBLEMS_KEPT = 50_000


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

    def error_lines(self, limit: int | None = None) -> list[str]:
        """``PATH:ROW:COLUMN: message`` for each problem; past ``limit``, one "and K more"."""
        shown = self.problems if limit is None else self.problems[:limit]
        lines = [p.format(self.path) for p in shown]
        if len(self.problems) > len(shown):
            lines.append(ERR_MORE.format(n=len(self.problems) - len(shown)))
        return lines

    @property
    def problems_shown(self) -> list[Problem]:
        """The first ``PROBLEMS_SHOWN`` problems, for a page (the XLSX report holds more)."""
        return self.problems[:PROBLEMS_SHOWN]

    @property
    def problems_hidden(self) -> int:
        return max(0, len(self.problems) - PROBLEMS_SHOWN)


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


def _limit(name: str, default: int) -> int:
    from django.conf import settings

    return int(getattr(settings, f"FANGPIN_IMPORT_{name}", default))


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


def _column_number(letters: bytes) -> int:
    n = 0
    for c in letters:
        n = n * 26 + (c - 64)
    return n


def _xlsx_check(p: Path) -> None:
    """Refuse a workbook from its ZIP directory and each sheet's declared dimension, before
    a parser unpacks it: its unpacked size, its compression ratio, its cells."""
    try:
        with zipfile.ZipFile(p) as archive:
            members = archive.infolist()
            unpacked = sum(m.file_size for m in members)
            packed = max(1, sum(m.compress_size for m in members))
            limit = _limit("MAX_UNPACKED_BYTES", MAX_UNPACKED_BYTES)
            if unpacked > limit:
                raise TableError(
                    [Problem(0, "", ERR_XLSX_UNPACKED.format(size=unpacked, limit=limit))]
                )
            ratio_limit = _limit("MAX_RATIO", MAX_RATIO)
            if unpacked > 10 * 1024 * 1024 and unpacked // packed > ratio_limit:
                raise TableError(
                    [
                        Problem(
                            0,
                            "",
                            ERR_XLSX_RATIO.format(ratio=unpacked // packed, limit=ratio_limit),
                        )
                    ]
                )
            cells_limit = _limit("MAX_CELLS", MAX_CELLS)
            for m in members:
                if not (m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml")):
                    continue
                with archive.open(m) as sheet:
                    head = sheet.read(4096)  # the dimension comes first in a sheet's XML
                found = _DIMENSION.search(head)
                if found is None:
                    continue
                c1, r1, c2, r2 = found.groups()
                rows = int(r2 or r1) - int(r1) + 1
                cols = _column_number(c2 or c1) - _column_number(c1) + 1
                if rows * cols > cells_limit:
                    ref = found.group(0).split(b'"')[1].decode()
                    raise TableError(
                        [
                            Problem(
                                0,
                                "",
                                ERR_XLSX_CELLS.format(
                                    sheet=m.filename.rsplit("/", 1)[-1],
                                    ref=ref,
                                    cells=rows * cols,
                                    limit=cells_limit,
                                ),
                            )
                        ]
                    )
    except zipfile.BadZipFile:
        raise TableError(
            [Problem(0, "", ERR_UNREADABLE.format(kind="XLSX", detail="not a ZIP archive"))]
        ) from None


def _csv_check(raw: bytes, *, max_rows: int | None) -> None:
    """Refuse a CSV whose lines are too long or too many, from its bytes, before parsing."""
    limit = _limit("MAX_LINE_BYTES", MAX_LINE_BYTES)
    start, line = 0, 1
    while True:
        end = raw.find(b"\n", start)
        stop = len(raw) if end == -1 else end
        if stop - start > limit:
            raise TableError(
                [Problem(0, "", ERR_CSV_LINE.format(line=line, length=stop - start, limit=limit))]
            )
        if end == -1:
            break
        start, line = end + 1, line + 1
        if max_rows is not None and line > max_rows + 2:  # the header, and a last newline
            raise TableError(
                [Problem(0, "", ERR_TOO_MANY_ROWS.format(n=raw.count(b"\n"), limit=max_rows))]
            )


def read_text_table(
    path: str | os.PathLike, *, max_bytes: int, max_rows: int | None = None
) -> pl.DataFrame:
    """All cells as text (null when empty), with ``__row``; fully blank rows dropped.

    Before anything is parsed the file is checked against the limits: its size, and a
    workbook's unpacked size, compression ratio and sheet dimensions (``_xlsx_check``), a
    CSV's line length and row count (``_csv_check``), each refused with one message."""
    p = Path(path)
    if not p.is_file():
        raise TableError([Problem(0, "", ERR_NOT_FOUND)])
    size = p.stat().st_size
    if size > max_bytes:
        raise TableError([Problem(0, "", ERR_TOO_BIG.format(size=size, limit=max_bytes))])
    suffix = p.suffix.lower()
    if suffix == ".csv":
        raw_bytes = p.read_bytes()
        _csv_check(raw_bytes, max_rows=max_rows)
        text = _decode_csv(raw_bytes)
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

        _xlsx_check(p)
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


# --- the one money and the one date parser of table cells (set-based, polars) ---------------


def yuan_to_fen(col: str) -> pl.Expr:
    """Exact yuan text ('1234', '1234.5', '1234.56') → integer fen; null if malformed (a
    sign, a third decimal, letters, more than 13 digits: the importer reports the row)."""
    parts = pl.col(col).str.extract_groups(r"^(\d{1,13})(?:\.(\d{1,2}))?$")
    whole = parts.struct.field("1").cast(pl.Int64, strict=False)
    frac = parts.struct.field("2").fill_null("0").str.pad_end(2, "0").cast(pl.Int64, strict=False)
    return whole * 100 + frac


def fen_to_text(expr: pl.Expr) -> pl.Expr:
    """Integer fen (not negative) → '4540.00', exactly."""
    return pl.format("{}.{}", expr // 100, (expr % 100).cast(pl.String).str.pad_start(2, "0"))


def text_to_date(col: str) -> pl.Expr:
    """A date as county offices and departments write it — '2019-03-01', '2019/3/1',
    '2019.3.1', '20190301', or an Excel date cell with its time ('2019-03-01 00:00:00') —
    → date; null if it is none of these or no real day."""
    parts = pl.col(col).str.extract_groups(
        r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
    )
    text = pl.concat_str(
        [
            parts.struct.field("1"),
            parts.struct.field("2").str.pad_start(2, "0"),
            parts.struct.field("3").str.pad_start(2, "0"),
        ],
        separator="-",
    )
    return pl.coalesce(
        text.str.to_date("%Y-%m-%d", strict=False),
        pl.col(col).str.strptime(pl.Date, "%Y%m%d", strict=False),
    )


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
    kept = problems[:PROBLEMS_KEPT]
    if len(problems) > len(kept):  # a bounded report: the first problems, then how many more
        write_text(ws, len(kept) + 1, 4, ERR_MORE.format(n=len(problems) - len(kept)))
    problems = kept
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
    raw = read_text_table(path, max_bytes=max_bytes, max_rows=max_rows)
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
