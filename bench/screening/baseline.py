"""The baseline: the same screening as one plain SQL statement in PostgreSQL, as a county IT
office would write it, over the same lake and registry loaded with COPY (the loading is
timed apart), with the parameters in force inlined as VALUES tables."""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .data import lake_files, parquet_list
from .process import SRC, best_of

BENCH_DB = "fangpin_bench_screening"
# Session settings for the baseline statement (everything else is the server's default):
# - work_mem: the default 4 MB would spill every hash and sort of a city-year to disk;
# - enable_nestloop off: PostgreSQL cannot estimate a CTE's GROUP BY (it assumes 200 groups)
#   and picks nested loops over the CTE scans: a county-year took 20 s instead of 5.5 s
#   (a first draft of the statement, over 15 minutes). Every join here is an equi-join that a
#   hash join does better; the bracket sub-query (LATERAL) still runs as a nested loop.
PG_SETTINGS = {"work_mem": "1GB", "enable_nestloop": "off"}

# The feeds the screening reads (``disability`` is in the lake but not in the rules yet).
SQL_FEEDS = (
    "roster",
    "medical",
    "education",
    "accident",
    "farming",
    "assistance",
    "property",
    "vehicle",
    "business",
    "payroll",
)
# Columns of a feed that is absent from both the lake and ``schemas.SCHEMAS`` (older code).
FALLBACK_COLUMNS = {
    "assistance": {
        "year": "int32",
        "id_number": "string",
        "assistance": "string",
        "amount": "int64",
        "assessed_income": "int64",
        "period_year": "int32",
    },
}
INDEXES = {
    "roster": [("period_year", "id_number"), ("household_no",)],
    "medical": [("period_year", "id_number")],
    "education": [("period_year", "id_number")],
    "accident": [("period_year", "id_number")],
    "farming": [("period_year", "id_number")],
    "assistance": [("period_year", "id_number")],
    "property": [("id_number",)],
    "vehicle": [("id_number",)],
    "business": [("id_number",)],
    "payroll": [("id_number",)],
}


# ------------------------------------------------------------------------ the policy as VALUES, the SQL


def sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return f"{value}::numeric"
    return "'" + str(value).replace("'", "''") + "'"


def values(columns: tuple[str, ...], rows: list[tuple]) -> str:
    body = ",\n    ".join("(" + ", ".join(sql_literal(v) for v in row) + ")" for row in rows)
    return f"({', '.join(columns)}) AS (VALUES\n    {body})"


def fen(amount: Decimal) -> int:
    scaled = Decimal(amount) * 100
    assert scaled == scaled.to_integral_value(), f"{amount} is not to the fen"
    return int(scaled)


def policy_tables(year: int, county_code: str) -> dict:
    """The parameters in force on 31 December of ``year``, per county, as rows of VALUES tables.

    Read through the ParameterSet's public API (not the batch evaluator's frame), so the
    baseline re-derives the rules from POLICY.md's parameters on its own.
    """
    sys.path.insert(0, str(SRC))
    from fangpin.policy import spec
    from fangpin.policy.loader import CITY, PolicyInputError, parameters_default

    params = parameters_default()
    on = datetime.date(year, 12, 31)
    policy, starts, caps, brackets = [], [], [], []
    for code in sorted(params.counties or ()):
        try:
            force = params.in_force(code, on)
        except PolicyInputError:
            continue  # before the policy: no rows, so the county's cases are dropped
        after_rigid = force.value(spec.BASIS) == spec.BASIS_AFTER_RIGID_EXPENSE
        flags = [bool(force.value(spec.exclusion_path(x))) for x in spec.EXCLUSIONS]
        policy.append((code, fen(force.value(spec.LINE)), after_rigid, *flags, force.version))
        for circumstance in spec.CIRCUMSTANCES:
            caps.append((code, circumstance, fen(force.value(spec.cap_path(circumstance)))))
            for household_type, start in force.value(spec.start_line_path(circumstance)).items():
                starts.append((code, circumstance, household_type, fen(start)))
            ladder = force.value(spec.brackets_path(circumstance))
            for i, step in enumerate(ladder):
                upper = fen(ladder[i + 1].threshold) if i + 1 < len(ladder) else None
                brackets.append((code, circumstance, fen(step.threshold), upper, step.rate))
    key = params.county_key(county_code) if county_code else CITY
    threshold = params.resolve("exclusions.business.capital_threshold", key, on)
    if threshold is None:
        raise SystemExit(f"no business capital threshold in force on {on}")
    return {
        "policy": (
            ("county", "line_fen", "after_rigid", *(f"x_{x}" for x in spec.EXCLUSIONS), "version"),
            policy,
        ),
        "start_lines": (("county", "circumstance", "household_type", "start_fen"), starts),
        "caps": (("county", "circumstance", "cap_fen"), caps),
        "brackets": (("county", "circumstance", "lower_fen", "upper_fen", "rate"), brackets),
        "business_threshold_fen": fen(threshold.value),
        "max_fen": fen(spec.MAX_AMOUNT),
        "counted_levels": tuple(_counted_levels()),
        "exclusions": spec.EXCLUSIONS,
    }


def _counted_levels() -> tuple[str, ...]:
    from fangpin.feeds.schemas import EDUCATION_COUNTED_LEVELS

    return EDUCATION_COUNTED_LEVELS


def screening_sql(year: int, county_code: str, p: dict) -> str:
    """The screening as one plain SQL statement (PostgreSQL), parameters inlined."""
    year_end = f"DATE '{year}-12-31'"
    in_county = f"AND village_code LIKE '{county_code}%'" if county_code else ""
    levels = ", ".join(sql_literal(v) for v in p["counted_levels"])
    flag_any = ",\n           ".join(f"bool_or(f.flag = '{x}') AS {x}" for x in p["exclusions"])
    # the exclusions that apply (found, and applied by the county's parameters), sorted names
    excluded = ", ".join(
        f"CASE WHEN pol.x_{x} AND coalesce(x.{x}, FALSE) THEN '{x}' END"
        for x in sorted(p["exclusions"])
    )
    tables = ",\n".join(
        f"{name}{values(*p[name])}" for name in ("policy", "start_lines", "caps", "brackets")
    )
    return f"""
WITH
{tables},

-- 1. who: the year's roster; a person listed twice counts once
persons AS MATERIALIZED (
    SELECT DISTINCT id_number, household_no, village_code
    FROM roster WHERE period_year = {year} {in_county}
),

-- 2. units of each circumstance (the cap's scope): household-year, student-year (the
--    student's rows of the year summed, then netted of loans and grants), event
units AS MATERIALIZED (
    SELECT p.household_no, 'medical' AS circumstance, sum(m.self_paid)::bigint AS self_paid_fen,
           count(*) AS units, string_agg(m.settlement_no, ',') AS refs
    FROM medical m JOIN persons p ON p.id_number = m.id_number
    WHERE m.period_year = {year}
    GROUP BY p.household_no
  UNION ALL
    SELECT p.household_no, 'education',
           greatest(sum(e.tuition + e.accommodation + e.textbooks)
                    - sum(e.loan + e."grant"), 0)::bigint,
           1, e.id_number
    FROM education e JOIN persons p ON p.id_number = e.id_number
    WHERE e.period_year = {year} AND e.full_time AND e.level IN ({levels})
    GROUP BY p.household_no, e.id_number
  UNION ALL
    SELECT p.household_no, 'accident',
           sum(greatest(a.loss - a.insurance_paid - a.assistance_paid, 0))::bigint, 1, a.event_no
    FROM accident a JOIN persons p ON p.id_number = a.id_number
    WHERE a.period_year = {year}
    GROUP BY p.household_no, a.event_no
  UNION ALL
    SELECT p.household_no, 'industry', sum(greatest(f.loss - f.insurance_paid, 0))::bigint,
           count(*), string_agg(f.project_no, ',')
    FROM farming f JOIN persons p ON p.id_number = f.id_number
    WHERE f.period_year = {year} AND f.insured
    GROUP BY p.household_no
),

-- 3. the households with a unit: members counted in the roster, registry type and members
counted AS MATERIALIZED (
    SELECT household_no, min(village_code) AS village_code, count(*) AS roster_members
    FROM persons
    WHERE household_no IN (SELECT household_no FROM units)
    GROUP BY household_no
),

-- 4. income basis: the registry's income where it manages the household; else the income
--    a feed implies (民政's assessed per-capita income of a member, × members); else unknown
income_basis AS (
    SELECT c.household_no,
           coalesce(r.income_fen,
                    a.assessed_fen * coalesce(r.members, c.roster_members)) AS income_fen,
           CASE WHEN r.income_fen IS NOT NULL THEN 'registry'
                WHEN a.assessed_fen IS NOT NULL THEN 'assistance'
                ELSE 'unknown' END AS income_source
    FROM counted c
    LEFT JOIN registry r ON r.household_no = c.household_no
    LEFT JOIN (
        SELECT p.household_no, max(s.assessed_income) AS assessed_fen
        FROM assistance s JOIN persons p ON p.id_number = s.id_number
        WHERE s.period_year = {year} AND s.assessed_income IS NOT NULL
        GROUP BY p.household_no
    ) a ON a.household_no = c.household_no
),
households AS (
    SELECT c.household_no, c.village_code,
           coalesce(r.household_type, 'ordinary') AS household_type,
           coalesce(r.members, c.roster_members) AS members,
           i.income_fen, i.income_source
    FROM counted c
    JOIN income_basis i ON i.household_no = c.household_no
    LEFT JOIN registry r ON r.household_no = c.household_no
),

-- 5. exclusions found by data comparison (信息比对), per household
flagged_people AS (
    SELECT id_number, 'commercial_housing' AS flag FROM property
        WHERE commercial AND registered <= {year_end}
    UNION ALL SELECT id_number, 'vehicle' FROM vehicle
        WHERE use = 'private' AND registered <= {year_end}
    UNION ALL SELECT id_number, 'business' FROM business
        WHERE capital > {p["business_threshold_fen"]} AND registered <= {year_end}
    UNION ALL SELECT id_number, 'public_payroll' FROM payroll WHERE year = {year}
),
exclusions AS (
    SELECT p.household_no,
           {flag_any}
    FROM flagged_people f JOIN persons p ON p.id_number = f.id_number
    GROUP BY p.household_no
),

-- 6. cases: a unit with its household's figures and the parameters of its county
cases AS (
    SELECT u.household_no, h.village_code, u.circumstance, h.household_type, h.members,
           h.income_fen, h.income_source, u.self_paid_fen, u.units, u.refs,
           coalesce(h.income_fen, 0) AS income_for_test,
           pol.version AS parameter_version, pol.line_fen, pol.after_rigid,
           s.start_fen, k.cap_fen, greatest(u.self_paid_fen - s.start_fen, 0) AS above_fen,
           concat_ws(',', {excluded}) AS exclusions
    FROM units u
    JOIN households h ON h.household_no = u.household_no
    LEFT JOIN exclusions x ON x.household_no = u.household_no
    JOIN policy pol ON pol.county = left(h.village_code, 6)
    JOIN start_lines s ON s.county = pol.county AND s.circumstance = u.circumstance
                      AND s.household_type = h.household_type
    JOIN caps k ON k.county = pol.county AND k.circumstance = u.circumstance
),

-- 7. the policy: inputs it cannot take are dropped; income test (per capita, rounded half
--    up to the fen, below the line); start line; stepped brackets (each slice rounded half
--    up to the fen); cap per scope. A case an exclusion applies to is kept, with the relief
--    it would have without it: it is recorded as an excluded warning
helped AS (
    SELECT c.*, least(l.ladder_fen, c.cap_fen)::bigint AS relief_fen
    FROM cases c
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(round(greatest(
                   CASE WHEN b.upper_fen IS NULL THEN c.above_fen
                        ELSE least(c.above_fen, b.upper_fen) END - b.lower_fen, 0) * b.rate)), 0)
               AS ladder_fen
        FROM brackets b
        WHERE b.county = left(c.village_code, 6) AND b.circumstance = c.circumstance
    ) l
    WHERE c.members >= 1
      AND c.self_paid_fen BETWEEN 0 AND {p["max_fen"]}
      AND c.income_for_test BETWEEN 0 AND {p["max_fen"]}
      AND round((c.income_for_test
                 - CASE WHEN c.after_rigid THEN c.self_paid_fen ELSE 0 END)::numeric
                / c.members) < c.line_fen
      AND c.self_paid_fen > c.start_fen
      AND least(l.ladder_fen, c.cap_fen) > 0
)

-- 8. one warning per household × circumstance
SELECT household_no, village_code, circumstance, household_type, members::bigint AS members,
       income_fen IS NOT NULL AS income_known, income_fen::bigint AS income_fen, income_source,
       sum(self_paid_fen)::bigint AS self_paid_fen, sum(units)::bigint AS units,
       string_agg(refs, ',') AS refs, max(parameter_version) AS parameter_version,
       sum(relief_fen)::bigint AS relief_fen, exclusions
FROM helped
GROUP BY household_no, village_code, circumstance, household_type, members, income_fen,
         income_source, exclusions
"""


# ------------------------------------------------------------------------ PostgreSQL


PG_TYPES = {
    "int8": "bigint",
    "int16": "smallint",
    "int32": "integer",
    "int64": "bigint",
    "string": "text",
    "large_string": "text",
    "date32[day]": "date",
    "bool": "boolean",
    "double": "double precision",
}


def feed_schema(data_dir: Path, kind: str):
    """The Arrow schema of a feed: from its Parquet files, else from ``schemas.py``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = lake_files(data_dir, kind)
    if files:
        return pq.read_schema(files[0])
    sys.path.insert(0, str(SRC))
    from fangpin.feeds import schemas as s

    arrow = {s.MONEY: pa.int64(), s.DATE: pa.date32(), s.YEAR: pa.int32(), s.BOOL: pa.bool_()}
    if kind in s.SCHEMAS:
        fields = [pa.field("source_row", pa.int64())]
        fields += [
            pa.field(c.field, arrow.get(c.type, pa.string())) for c in s.SCHEMAS[kind].columns
        ]
        fields += [pa.field("period_year", pa.int32()), pa.field("batch", pa.string())]
        return pa.schema(fields)
    return pa.schema([(name, t) for name, t in FALLBACK_COLUMNS[kind].items()])


def pg_type(t) -> str:
    name = str(t)
    if name.startswith("decimal"):
        return "numeric"
    if name.startswith("timestamp"):
        return "timestamptz" if getattr(t, "tz", None) else "timestamp"
    return PG_TYPES[name]


def pg_copy_arrow(conn, table: str, reader) -> int:
    """COPY an Arrow record-batch stream into ``table`` (CSV through polars)."""
    import io

    import polars as pl

    rows = 0
    statement = f"COPY {table} FROM STDIN (FORMAT csv, NULL '\\N')"
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            buf = io.BytesIO()
            pl.from_arrow(batch).write_csv(buf, include_header=False, null_value="\\N")
            copy.write(buf.getvalue())
            rows += batch.num_rows
    return rows


def pg_create_table(conn, table: str, schema) -> None:
    columns = ", ".join(f'"{f.name}" {pg_type(f.type)}' for f in schema)
    conn.execute(f'CREATE TABLE "{table}" ({columns})')


def pg_load(conn, data_dir: Path, snapshot_path: Path) -> dict[str, int]:
    """Load the feeds and the registry snapshot with COPY; index; VACUUM ANALYZE."""
    import duckdb
    import pyarrow.parquet as pq

    loaded: dict[str, int] = {}
    for kind in SQL_FEEDS:
        schema = feed_schema(data_dir, kind)
        pg_create_table(conn, kind, schema)
        files = lake_files(data_dir, kind)
        if files:
            con = duckdb.connect()
            columns = ", ".join(f'"{f.name}"' for f in schema)
            rel = con.sql(
                f"SELECT {columns} FROM read_parquet({parquet_list(files)}, "
                "hive_partitioning = false, union_by_name = true)"
            )
            loaded[kind] = pg_copy_arrow(conn, kind, rel.to_arrow_reader(200_000))
            con.close()
        else:
            loaded[kind] = 0
        for i, cols in enumerate(INDEXES.get(kind, [])):
            quoted = ", ".join(f'"{c}"' for c in cols)
            conn.execute(f'CREATE INDEX "{kind}_{i}" ON "{kind}" ({quoted})')
    snapshot = pq.read_table(snapshot_path)
    conn.execute(
        "CREATE TABLE registry (household_no text PRIMARY KEY, household_type text, "
        "members bigint, income_fen bigint)"
    )
    loaded["registry"] = pg_copy_arrow(
        conn,
        "registry",
        snapshot.select(["household_no", "household_type", "members", "income_fen"]).to_batches(
            200_000
        ),
    )
    for table in (*SQL_FEEDS, "registry"):
        conn.execute(f'VACUUM ANALYZE "{table}"')
    return loaded


def pg_rows(conn, sql: str):
    import polars as pl

    with conn.cursor() as cur:
        cur.execute(sql)
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
    return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


@dataclass
class Baseline:
    """The statement's best and median time (rows fetched), its rows, and what was apart."""

    best: float
    median: float
    rows: object  # a polars DataFrame of the warnings
    load_seconds: float  # COPY, indexes, VACUUM ANALYZE: not part of the baseline
    bare: float  # the bare roster ⋈ medical grouped by household


def baseline_run(
    admin, args: argparse.Namespace, data_dir: Path, snapshot: Path, work: Path, repeat: int
) -> Baseline:
    """Load the lake and the registry snapshot into a database of the bench's own, time the
    statement and the bare join; the SQL is left in ``work`` for a look."""
    import psycopg

    pg_version = admin.execute("SHOW server_version").fetchone()[0]
    admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    try:
        with psycopg.connect(args.pg, dbname=BENCH_DB, autocommit=True) as pg:
            load_start = time.perf_counter()
            loaded = pg_load(pg, data_dir, snapshot)
            load_time = time.perf_counter() - load_start
            print(
                f"\nPostgreSQL {pg_version}: database {BENCH_DB}; loaded with COPY, indexed, "
                f"VACUUM ANALYZE in {load_time:.1f} s (NOT part of the baseline time): "
                + ", ".join(f"{k} {v:,}" for k, v in loaded.items())
            )
            for name, value in PG_SETTINGS.items():
                pg.execute(f"SET {name} = '{value}'")
            params = policy_tables(args.year, args.county)
            sql = screening_sql(args.year, args.county, params)
            (work / "screening.sql").write_text(sql)
            settings = ", ".join(f"{k} {v}" for k, v in PG_SETTINGS.items())
            pg_best, pg_median, theirs = best_of(lambda: pg_rows(pg, sql), repeat)
            print(
                f"  baseline: one SQL statement ({settings}; other settings the server's), "
                f"rows fetched: {pg_best:.2f} s best, {pg_median:.2f} s median "
                f"of {repeat} → {theirs.height:,} warnings"
            )
            bare_sql = (
                "SELECT r.household_no, sum(m.self_paid), count(*) FROM roster r "
                "JOIN medical m ON m.id_number = r.id_number "
                f"WHERE r.period_year = {args.year} AND m.period_year = {args.year} "
                + (f"AND r.village_code LIKE '{args.county}%' " if args.county else "")
                + "GROUP BY r.household_no"
            )
            pg_bare, _, _ = best_of(lambda: pg.execute(bare_sql).fetchall(), repeat)
            print(f"  bare roster ⋈ medical grouped by household: {pg_bare:.2f} s")
    finally:
        if args.keep_pg:
            print(f"  (database {BENCH_DB} kept: --keep-pg)")
        else:
            admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')

    # ---------------------------------------------------------------- 5. DuckDB floor
    return Baseline(pg_best, pg_median, theirs, load_time, pg_bare)
