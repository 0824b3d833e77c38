"""The benchmark run in order: options; the data; the timed runs and the breakdown; the
PostgreSQL baseline; DuckDB's floor; the check; the report. Each step is in its module."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
from pathlib import Path

from . import __doc__ as USAGE
from .baseline import BENCH_DB, baseline_run
from .data import OPS_DB, OPS_RUN_DB, PostgresOps, SqliteOps, data_ready
from .report import check, report
from .runs import duckdb_floor, screen_broken_down, screen_timed

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/screening",
        description=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--preset",
        choices=("city", "county"),
        default="city",
        help="what to build (default city); a --reuse dir that holds data is taken as it is",
    )
    parser.add_argument("--year", type=int, default=2019)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--county", default="", help="screen one county code (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument(
        "--reuse", type=Path, help="data dir to reuse (built there first if it holds no data)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary data dir (and with --ops postgres its ops database)",
    )
    parser.add_argument(
        "--ops",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the ops database fangpin screens with: SQLite in the data dir (default), or "
        f"PostgreSQL on the --pg server (databases {OPS_DB}_<hash of the data dir>, {OPS_RUN_DB})",
    )
    parser.add_argument(
        "--pg", default=DEFAULT_PG, help=f"PostgreSQL server (default {DEFAULT_PG})"
    )
    parser.add_argument("--keep-pg", action="store_true", help=f"do not drop database {BENCH_DB}")
    parser.add_argument("--profile", action="store_true", help="add a cProfile summary")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    return parser.parse_args()


def main() -> int:
    args = options()
    repeat = max(1, args.repeat)

    import duckdb
    import polars as pl
    import psycopg

    print(
        f"screening benchmark · preset {args.preset}, year {args.year}, seed {args.seed}"
        f"{', county ' + args.county if args.county else ''}, best of {repeat}, "
        f"ops database {args.ops}\n"
        f"python {platform.python_version()} · duckdb {duckdb.__version__} · polars {pl.__version__}"
        f" · psycopg {psycopg.__version__} · {os.cpu_count()} CPUs · {platform.machine()}",
        flush=True,
    )

    # PostgreSQL first: fail before building anything if it cannot be reached.
    try:
        admin = psycopg.connect(args.pg, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise SystemExit(
            f"FAILED: cannot connect to PostgreSQL at {args.pg} ({exc}); pass --pg URL"
        ) from None

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "fangpin.config.settings")
    temporary = args.reuse is None
    base_dir = (
        Path(tempfile.mkdtemp(prefix="fangpin-bench-screening-"))
        if temporary
        else args.reuse.resolve()
    )
    # with PostgreSQL ops, a data dir of its own: its lake goes with its database only
    data_dir = base_dir / "pg-ops" if args.ops == "postgres" else base_dir
    work = Path(tempfile.mkdtemp(prefix="fangpin-bench-screening-work-"))
    ops: SqliteOps | PostgresOps = (
        PostgresOps(admin, args.pg, data_dir)
        if args.ops == "postgres"
        else SqliteOps(data_dir, work)
    )
    env["FANGPIN_DATA_DIR"] = str(data_dir)
    build_env = {**env, "DATABASE_URL": ops.build_url}
    exit_code = 0
    crashed = False
    try:
        data = data_ready(ops, data_dir, args, build_env)
        run_env = {**env, "DATABASE_URL": ops.run_url}
        screen_args = ["screen", "--year", str(args.year)]
        if args.county:
            screen_args += ["--county", args.county]
        timed = screen_timed(ops, screen_args, run_env, args.year, repeat)
        capture = work / "capture"
        phases = screen_broken_down(ops, screen_args, run_env, capture, args)
        found = pl.read_parquet(capture / "found.parquet")
        baseline = baseline_run(admin, args, data_dir, capture / "snapshot.parquet", work, repeat)
        duck_best = duckdb_floor(data_dir, data.roster, args, repeat)
        ok = check(found, baseline.rows, timed.written, before=data.before)
        if not ok:
            print(
                f"FAILED: the SQL baseline and fangpin disagree (SQL in {work / 'screening.sql'})"
            )
            exit_code = 1
            args.keep = True  # keep the data and the SQL for a look
        met = report(args, data, timed, baseline, duck_best, phases, found, ok)
        if ok and args.strict and data.city and not met:
            exit_code = 2
    except BaseException:
        crashed = True
        raise
    finally:
        ops.finish(drop_pristine=temporary and not args.keep, failed=crashed or exit_code != 0)
        admin.close()
        if exit_code == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
        if temporary:
            if args.keep:
                print(f"data kept in {base_dir} (rerun with --reuse {base_dir})")
            else:
                shutil.rmtree(base_dir, ignore_errors=True)
    return exit_code
