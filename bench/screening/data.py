"""The data a run screens: the synthetic preset built once (or reused), and the ops database
each run starts from afresh (SQLite in the data dir, or PostgreSQL on the ``--pg`` server)."""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

from .process import Measured, checked, fangpin_command, gb, run_measured

# --ops postgres: the pristine ops database (one per data dir: a hash of its path is added)
# and the copy of it that each run screens in
OPS_DB = "fangpin_bench_ops"
OPS_RUN_DB = "fangpin_bench_ops_run"
CITY_COUNTIES = 18  # Handan's county-level units: a city-year has them all


def lake_files(data_dir: Path, kind: str) -> list[str]:
    base = data_dir / "lake" / kind
    return sorted(str(p) for p in base.glob("year=*/batch-*.parquet")) if base.is_dir() else []


def parquet_list(files: list[str]) -> str:
    """A DuckDB list literal of file paths."""
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def lake_ready(data_dir: Path, year: int) -> bool:
    roster = data_dir / "lake" / "roster" / f"year={year}"
    return any(roster.glob("batch-*.parquet"))


def data_build(data_dir: Path, args: argparse.Namespace, env: dict[str, str]) -> Measured:
    data_dir.mkdir(parents=True, exist_ok=True)
    checked(run_measured([*fangpin_command(), "migrate", "-v0"], env), "fangpin migrate")
    cmd = [
        *fangpin_command(),
        "synth",
        "--preset",
        args.preset,
        "--seed",
        str(args.seed),
        "--feeds",
        "--years",
        str(args.year),
    ]
    print(f"building: {' '.join(cmd[1:])} in {data_dir} …", flush=True)
    m = run_measured(cmd, env)
    if m.returncode != 0:
        sys.stderr.write(m.stderr[-3000:])
        hint = " (does `fangpin synth --help` list it?)" if args.preset == "city" else ""
        raise SystemExit(f"FAILED: fangpin synth --preset {args.preset}{hint}")
    return m


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (WAL included), as one file."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def fresh_copy(pristine: Path, target: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(pristine, target)
    # the copy's 200 MB reach the disk now, not while the next run writes its own pages
    # (that made a run up to 1.5 s slower, at random)
    os.sync()


WARNINGS_SQL = """
    SELECT h.household_no, w.circumstance, w.household_type, w.members,
           w.annual_income AS income_fen, w.income_known, {source} AS income_source,
           w.self_paid AS self_paid_fen, w.units, {refs} AS refs,
           w.parameter_version, w.estimated_relief AS relief_fen,
           {exclusions} AS exclusions, w.status
    FROM screening_warning w JOIN registry_household h ON h.id = w.household_id
    WHERE w.year = {param}"""


def db_warnings(db: Path, year: int) -> tuple[dict, list[dict]]:
    """The last screening run's row and the year's warnings, as the ops database holds them."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        run = dict(
            con.execute("SELECT * FROM screening_screeningrun ORDER BY id DESC LIMIT 1").fetchone()
        )
        columns = {r["name"] for r in con.execute("PRAGMA table_info(screening_warning)")}
        source = "w.income_source" if "income_source" in columns else "NULL"
        exclusions = "w.exclusions" if "exclusions" in columns else "NULL"
        sql = WARNINGS_SQL.format(
            source=source, refs="w.feed_refs", exclusions=exclusions, param="?"
        )
        rows = [dict(r) for r in con.execute(sql, (year,))]
    finally:
        con.close()
    return run, rows


def warnings_count(db: Path, year: int) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT count(*) FROM screening_warning WHERE year = ?", (year,)
        ).fetchone()[0]
    finally:
        con.close()


def pg_db_warnings(server: str, dbname: str, year: int) -> tuple[dict, list[dict]]:
    """``db_warnings`` of a PostgreSQL ops database: the same rows, the same types.

    ``feed_refs`` is jsonb there (psycopg would return a list): read as its JSON text,
    as SQLite returns it; money is integer fen (bigint) in both.
    """
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(server, dbname=dbname, row_factory=dict_row) as con:
        run = con.execute(
            "SELECT * FROM screening_screeningrun ORDER BY id DESC LIMIT 1"
        ).fetchone()
        columns = {
            r["column_name"]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'screening_warning'"
            )
        }
        source = "w.income_source" if "income_source" in columns else "NULL"
        exclusions = "w.exclusions::text" if "exclusions" in columns else "NULL"
        sql = WARNINGS_SQL.format(
            source=source, refs="w.feed_refs::text", exclusions=exclusions, param="%s"
        )
        rows = con.execute(sql, (year,)).fetchall()
    return dict(run), rows


def pg_warnings_count(server: str, dbname: str, year: int) -> int:
    import psycopg

    with psycopg.connect(server, dbname=dbname) as con:
        return con.execute(
            "SELECT count(*) FROM screening_warning WHERE year = %s", (year,)
        ).fetchone()[0]


def local_pg_cpu() -> float | None:
    """CPU seconds used so far by the PostgreSQL server on this machine, or None if none runs.

    Every ``postgres`` process's user + system time, plus the time of the ended children
    (backends) their parents reaped: a run's difference is what the server spent for it,
    and for whatever else used the server meanwhile.
    """
    total, found = 0, False
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")] != "postgres":
            continue
        found = True
        fields = stat[stat.rindex(")") + 2 :].split()
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK") if found else None


def pg_url(server: str, dbname: str) -> str:
    """``server`` (a postgres:// URL) with its database replaced: Django's DATABASE_URL."""
    from urllib.parse import urlsplit

    return urlsplit(server)._replace(path=f"/{dbname}").geturl()


class SqliteOps:
    """The ops database as today's default: SQLite, ``DATA_DIR/fangpin.sqlite3``.

    A consistent copy of it (``pristine``) is taken once; every run gets a plain file
    copy of that.
    """

    name = "sqlite"

    def __init__(self, data_dir: Path, work: Path) -> None:
        self.source = data_dir / "fangpin.sqlite3"
        self.pristine = work / "pristine.sqlite3"
        self.run_db = work / "run.sqlite3"
        self.build_url = f"sqlite:///{self.source}"
        self.run_url = f"sqlite:///{self.run_db}"

    def describe(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}, {self.source} (every run on a copy of it)"

    def ready(self) -> bool:
        return self.source.exists()

    def create(self) -> None:
        """Before a build: nothing (``fangpin migrate`` creates the file)."""

    def created(self, data_dir: Path) -> None:
        """After a build: nothing."""

    def prepare(self) -> None:
        sqlite_copy(self.source, self.pristine)

    def fresh(self) -> None:
        fresh_copy(self.pristine, self.run_db)

    def warnings_before(self, year: int) -> int:
        return warnings_count(self.pristine, year)

    def warnings(self, year: int) -> tuple[dict, list[dict]]:
        return db_warnings(self.run_db, year)

    def finish(self, *, drop_pristine: bool, failed: bool) -> None:
        """The copies live in the work dir (removed or kept with it)."""

    def server_cpu(self) -> float | None:
        return None  # SQLite works inside the fangpin process: its CPU is the process's


class PostgresOps:
    """The ops database in production: PostgreSQL, on the ``--pg`` server.

    ``pristine`` is built once per data dir (its name carries a hash of the data dir's
    path, so a database always goes with its own lake); every run screens in
    ``OPS_RUN_DB``, dropped and created again from it as a template.
    """

    name = "postgres"

    def __init__(self, admin, server: str, data_dir: Path) -> None:
        import hashlib

        self.admin = admin
        self.server = server
        self.data_dir = data_dir
        digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:8]
        self.pristine = f"{OPS_DB}_{digest}"
        self.run_db = OPS_RUN_DB
        self.build_url = pg_url(server, self.pristine)
        self.run_url = pg_url(server, self.run_db)

    def describe(self) -> str:
        version = self.admin.execute("SHOW server_version").fetchone()[0]
        return (
            f"PostgreSQL {version}, database {self.pristine} (every run on a copy of it, "
            f"{self.run_db})"
        )

    def ready(self) -> bool:
        import psycopg

        exists = self.admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (self.pristine,)
        ).fetchone()
        if not exists:
            return False
        try:
            with psycopg.connect(self.server, dbname=self.pristine) as con:
                return bool(
                    con.execute("SELECT EXISTS (SELECT FROM registry_household)").fetchone()[0]
                )
        except psycopg.Error:
            return False  # no registry table: never migrated, or a build that failed

    def create(self) -> None:
        """Before a build: a new, empty database, and no lake left of an earlier build."""
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.pristine}" WITH (FORCE)')
        self.admin.execute(f'CREATE DATABASE "{self.pristine}"')
        # the lake's batches are recorded in the ops database: they go together
        for derived in ("lake", "synth"):
            shutil.rmtree(self.data_dir / derived, ignore_errors=True)

    def created(self, data_dir: Path) -> None:
        comment = f"fangpin bench/screening ops database of the data dir {data_dir}"
        comment = comment.replace("'", "''")
        self.admin.execute(f"COMMENT ON DATABASE \"{self.pristine}\" IS '{comment}'")

    def prepare(self) -> None:
        """Vacuum and analyse the pristine database, so its copies are as a served one is."""
        import psycopg

        with psycopg.connect(self.server, dbname=self.pristine, autocommit=True) as con:
            con.execute("VACUUM ANALYZE")

    def fresh(self) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.run_db}" WITH (FORCE)')
        self.admin.execute(f'CREATE DATABASE "{self.run_db}" TEMPLATE "{self.pristine}"')
        # the copy's pages reach the disk now, not at a checkpoint during the next run; and
        # whatever else is dirty (a build's lake) too, as fresh_copy does: the run's commits
        # (fsync of the WAL) would wait behind it
        self.admin.execute("CHECKPOINT")
        os.sync()

    def warnings_before(self, year: int) -> int:
        return pg_warnings_count(self.server, self.pristine, year)

    def server_cpu(self) -> float | None:
        """The server's CPU so far, if it runs on this machine (else None)."""
        from urllib.parse import urlsplit

        host = urlsplit(self.server).hostname or "localhost"
        local = host in ("localhost", "127.0.0.1", "::1") or host.startswith("/")
        return local_pg_cpu() if local else None

    def warnings(self, year: int) -> tuple[dict, list[dict]]:
        return pg_db_warnings(self.server, self.run_db, year)

    def finish(self, *, drop_pristine: bool, failed: bool) -> None:
        if failed:
            print(f"kept database {self.run_db} (the last run's ops database)")
        else:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{self.run_db}" WITH (FORCE)')
        if drop_pristine:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{self.pristine}" WITH (FORCE)')
        else:
            print(f"kept database {self.pristine} (the pristine ops database)")


@dataclass
class Data:
    """The year's roster in the lake, and what the ops database already holds."""

    roster: list[str]  # the roster's Parquet files
    before: int  # warnings of the year already in the ops database (screened before)
    people: int
    households: int
    counties: int
    city: bool  # a city-year: every county, and every one screened


def data_ready(
    ops: SqliteOps | PostgresOps,
    data_dir: Path,
    args: argparse.Namespace,
    build_env: dict[str, str],
) -> Data:
    """Build the data in ``data_dir`` (or reuse it), ready for the runs; what it holds."""
    import duckdb

    print(f"ops database: {ops.describe()}")
    if lake_ready(data_dir, args.year) and ops.ready():
        checked(run_measured([*fangpin_command(), "migrate", "-v0"], build_env), "fangpin migrate")
        print(f"data: reusing {data_dir}")
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        ops.create()
        built = data_build(data_dir, args, build_env)
        ops.created(data_dir)
        print(built.stdout.rstrip())
        print(f"data built in {built.wall:.1f} s wall, peak {gb(built.rss)} (not compared)")
    ops.prepare()
    before = ops.warnings_before(args.year)
    if before:
        print(
            f"NOTE: the ops database already holds {before:,} warnings of {args.year} "
            f"(screened before?): the runs below add only what is new, and the "
            f"written-warnings check is skipped; use a fresh data dir for a from-scratch figure"
        )
    roster = lake_files(data_dir, "roster")
    people, households, counties = duckdb.sql(
        "SELECT count(DISTINCT id_number), count(DISTINCT household_no), "
        "count(DISTINCT left(village_code, 6)) FROM "
        f"read_parquet({parquet_list(roster)}, hive_partitioning = false) "
        f"WHERE period_year = {args.year}"
    ).fetchall()[0]
    print(
        f"roster {args.year}: {people:,} people, {households:,} households, "
        f"{counties} count{'y' if counties == 1 else 'ies'}"
    )
    city = not args.county and counties >= CITY_COUNTIES
    if args.preset == "city" and not city:
        print(
            f"NOTE: this is not a city-year ({counties} counties"
            f"{', one screened' if args.county else ''}): the targets are shown for reference"
        )
    return Data(roster, before, people, households, counties, city)
