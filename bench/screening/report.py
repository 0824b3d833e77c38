"""The check and the report: the SQL baseline's rows against fangpin's (the expression's
output and the warnings written), then the figures, the targets and a JSON summary."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

from .baseline import Baseline
from .data import Data
from .process import gb
from .runs import Timed

TARGET_WALL = 5.0  # s, the whole fangpin screen process, city-year
TARGET_RSS = 4 * 1024**3  # bytes
TARGET_RATIO = 5.0  # PostgreSQL baseline time / fangpin screen time
KEYS = ["household_no", "circumstance"]


def normal(frame, *, db: bool = False):
    """Rows in a comparable form: refs as a sorted set; as the ops database stores them if ``db``."""
    import polars as pl

    def refs_of(value) -> str:
        if value is None:
            return ""
        items = json.loads(value) if value.startswith("[") else value.split(",")
        ordered = sorted(set(items) - {""})
        return ",".join(ordered[:50] if db else ordered)

    def exclusions_of(value) -> str:  # "a,b" from the expression, '["a", "b"]' from the db
        if value is None:
            return ""
        return ",".join(sorted(json.loads(value))) if value.startswith("[") else value

    if "exclusions" in frame.columns:
        frame = frame.with_columns(
            pl.col("exclusions").map_elements(exclusions_of, return_dtype=pl.String)
        )
    frame = frame.with_columns(
        pl.col("refs").map_elements(refs_of, return_dtype=pl.String),
        pl.col("income_known").cast(pl.Boolean),
        *[
            pl.col(c).cast(pl.Int64)
            for c in ("members", "income_fen", "self_paid_fen", "units", "relief_fen")
            if c in frame.columns
        ],
    )
    if db:
        frame = frame.with_columns(pl.col("units").clip(upper_bound=32767))
    return frame


def compare(label: str, ours, theirs, columns: list[str]) -> bool:
    """Equal as sets of rows over ``columns``; print the differences if not."""
    import polars as pl

    a = ours.select(columns).sort(KEYS)
    b = theirs.select(columns).sort(KEYS)
    if a.height == b.height and a.equals(b):
        print(f"  {label}: {a.height:,} rows, identical ({', '.join(columns)})")
        return True
    print(
        f"  {label}: DIFFERENT — fangpin {a.height:,} rows, SQL {b.height:,} rows", file=sys.stderr
    )
    only_a = a.join(b, on=columns, how="anti", nulls_equal=True)
    only_b = b.join(a, on=columns, how="anti", nulls_equal=True)
    with pl.Config(tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=40):
        print(f"    only in fangpin ({only_a.height}):\n{only_a.head(10)}", file=sys.stderr)
        print(f"    only in SQL ({only_b.height}):\n{only_b.head(10)}", file=sys.stderr)
    return False


def check(found, theirs, written: list[dict], *, before: int) -> bool:
    """The SQL's rows equal the expression's output and the warnings the timed run wrote
    (every column, feed refs as sorted sets; the statuses of excluded warnings)."""
    import polars as pl

    # every column the expression returns (fangpin.screening.expression needs no Django)
    from fangpin.screening.expression import OUTPUT_COLUMNS as COMPARED

    print("\ncheck: the SQL baseline against fangpin")
    columns = [c for c in COMPARED if c in found.columns]
    missing = [c for c in COMPARED if c not in found.columns]
    if missing:
        print(f"  (fangpin's output has no {', '.join(missing)}: not compared)")
    ok = compare("expression output", normal(found), normal(theirs), columns)
    if before:
        print("  written warnings: skipped (the ops database held warnings of the year)")
    else:
        db_columns = [c for c in columns if c != "village_code"]
        if written and written[0].get("income_source") is None:
            db_columns = [c for c in db_columns if c != "income_source"]
        if written and written[0].get("exclusions") is None:
            db_columns = [c for c in db_columns if c != "exclusions"]
        written_frame = normal(pl.DataFrame(written, infer_schema_length=None), db=True)
        ok &= compare(
            "warnings written by fangpin screen",
            written_frame,
            normal(theirs, db=True),
            db_columns,
        )
        if "exclusions" in db_columns:
            # a fresh run records a warning an exclusion applies to as excluded, else open
            wrong = written_frame.filter(
                (pl.col("status") == "excluded") != (pl.col("exclusions") != "")
            )
            excluded_n = written_frame.filter(pl.col("status") == "excluded").height
            if wrong.height:
                print(
                    f"  statuses: {wrong.height:,} warnings with a wrong status",
                    file=sys.stderr,
                )
                ok = False
            else:
                print(f"  statuses: {excluded_n:,} excluded exactly where an exclusion applies")
    return ok


def report(
    args: argparse.Namespace,
    data: Data,
    timed: Timed,
    baseline: Baseline,
    duck_best: float,
    phases: list[tuple[str, float]],
    found,
    ok: bool,
) -> bool:
    """Print the result, the figures against the targets and the summary; whether every
    target was met."""
    import polars as pl

    ratio = baseline.best / timed.wall
    total_relief = int(found["relief_fen"].sum() or 0) / 100
    by_source = (
        dict(found.group_by("income_source").len().iter_rows())
        if "income_source" in found.columns
        else {}
    )
    excluded_found = (
        found.filter(pl.col("exclusions") != "") if "exclusions" in found.columns else found.clear()
    )
    excluded_relief = int(excluded_found["relief_fen"].sum() or 0) / 100
    print(
        f"\nresult: {found.height:,} warnings, estimated relief {total_relief:,.2f} yuan"
        + (f", income source {by_source}" if by_source else "")
        + f"; of them {excluded_found.height:,} excluded by data comparison "
        f"({excluded_relief:,.2f} yuan without the exclusion)"
    )
    print(
        f"  fangpin screen (whole process)  {timed.wall:7.2f} s wall best of {len(timed.runs)}, "
        f"peak {gb(timed.rss)}, {timed.best.cpu:.2f} s CPU"
        + ("" if timed.server_cpu is None else f" + {timed.server_cpu:.2f} s PostgreSQL server CPU")
    )
    print(
        f"  PostgreSQL plain SQL baseline   {baseline.best:7.2f} s → ratio baseline / fangpin "
        f"{ratio:.1f}×"
    )
    print(
        f"  DuckDB bare join-and-aggregate  {duck_best:7.3f} s (floor); fangpin is "
        f"{timed.wall / duck_best:.0f}× the floor"
    )
    met = {
        f"wall ≤ {TARGET_WALL:.0f} s": timed.wall <= TARGET_WALL,
        f"peak ≤ {gb(TARGET_RSS)}": timed.rss <= TARGET_RSS,
        f"≥ {TARGET_RATIO:.0f}× faster than PostgreSQL": ratio >= TARGET_RATIO,
    }
    print(
        "targets (issue 4, a city-year"
        + ("" if data.city else "; this run is not a city-year, shown for reference")
        + "): "
        + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in met.items())
    )
    summary = {
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "preset": args.preset,
        "year": args.year,
        "county": args.county,
        "ops": args.ops,
        "people": data.people,
        "households": data.households,
        "counties": data.counties,
        "warnings": found.height,
        "excluded": excluded_found.height,
        "fangpin_wall_s": round(timed.wall, 3),
        "fangpin_peak_bytes": timed.rss,
        "fangpin_cpu_s": round(timed.best.cpu, 3),
        "ops_server_cpu_s": None if timed.server_cpu is None else round(timed.server_cpu, 3),
        "pg_baseline_s": round(baseline.best, 3),
        "pg_load_s": round(baseline.load_seconds, 1),
        "pg_bare_join_s": round(baseline.bare, 3),
        "ratio_pg_to_fangpin": round(ratio, 2),
        "duckdb_bare_join_s": round(duck_best, 4),
        "breakdown_s": {k: round(v, 3) for k, v in phases},
        "match": ok,
    }
    print("summary " + json.dumps(summary, ensure_ascii=False))
    return all(met.values())
