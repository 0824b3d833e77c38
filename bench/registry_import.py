"""Benchmark: importing a 100k-member registry file (CSV and XLSX).

Run: .venv/bin/python bench/registry_import.py [--members 100000] [--keep]

Builds a fresh database (SQLite in a temporary data dir, or DATABASE_URL if set),
creates a synthetic county's townships and villages, writes its people as a
registry file (one row per member) in CSV and in XLSX, and times:

- baseline: reading the same file into a table (polars / fastexcel) — the floor
  any import pays; the import's cost is reported as a ratio to it;
- the import into an empty registry (validate everything, then write);
- the same import again (validate, compare, write nothing).

Targets (issue 2): 100k members from CSV in under 20 s, from XLSX in under 40 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fangpin-bench-"))
    os.environ["FANGPIN_DATA_DIR"] = str(tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangpin.config.settings")
    import django

    django.setup()
    import polars as pl
    from django.core.management import call_command
    from django.db import connection

    from fangpin.regions.models import Region
    from fangpin.regions.services import region_load_handan
    from fangpin.registry.importer import registry_import
    from fangpin.registry.models import Member
    from fangpin.synth.population import county_population
    from fangpin.synth.services import synth_regions_load

    if connection.vendor == "postgresql":
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    region_load_handan()
    county = Region.objects.get(code="130434")
    Region.objects.filter(path__startswith=county.path).exclude(pk=county.pk).delete()
    households = int(args.members / 3.3) + 1
    pop = county_population(seed=args.seed, households=households)
    synth_regions_load(county=county, population=pop)
    last_household = pop.people["household_no"][args.members - 1]
    rows = (
        pop.people.with_row_index("i")
        .filter((pl.col("i") < args.members) | (pl.col("household_no") == last_household))
        .join(pop.households, on="household_no")
        .join(pop.incomes.filter(pl.col("year") == 2019), on="household_no")
        .select(
            pl.col("household_no").alias("户编号"),
            pl.col("village_code").alias("村代码"),
            pl.col("household_type").alias("户类型"),
            pl.col("name").alias("姓名"),
            pl.col("id_number").alias("身份证号"),
            pl.col("relation").alias("与户主关系"),
            pl.col("year").cast(pl.String).alias("年度"),
            (pl.col("annual_income_fen") // 100).cast(pl.String).alias("家庭年可支配收入"),
            pl.col("bank").alias("开户行"),
            pl.col("bank_account").alias("银行账号"),
        )
    )
    csv_path, xlsx_path = tmp / "registry.csv", tmp / "registry.xlsx"
    rows.write_csv(csv_path)
    rows.write_excel(xlsx_path, worksheet="农户")
    print(
        f"database: {connection.vendor}; file: {rows.height:,} member rows, "
        f"{rows['户编号'].n_unique():,} households; CSV {csv_path.stat().st_size / 1e6:.1f} MB, "
        f"XLSX {xlsx_path.stat().st_size / 1e6:.1f} MB"
    )

    def timed(fn):
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out

    import fastexcel

    results = []
    for label, path, read in (
        ("CSV", csv_path, lambda p: pl.read_csv(p, infer_schema=False)),
        (
            "XLSX",
            xlsx_path,
            lambda p: fastexcel.read_excel(str(p)).load_sheet(0, dtypes="string").to_polars(),
        ),
    ):
        Member.objects.all().delete()
        from fangpin.registry.models import Household

        Household.objects.all().delete()
        base, _ = timed(lambda path=path, read=read: read(path))
        first, r1 = timed(lambda path=path: registry_import(path=path))
        assert r1.ok, r1.error_lines()[:5]
        again, r2 = timed(lambda path=path: registry_import(path=path))
        assert r2.ok and r2.households_unchanged == r1.households_created
        results.append((label, base, first, again, r1))
        print(
            f"{label:5} baseline read {base:6.2f} s | import {first:6.2f} s ({first / base:5.0f}× read, "
            f"{rows.height / first:8,.0f} rows/s) | re-import (no change) {again:6.2f} s ({again / base:4.0f}× read)"
        )
        print(f"      {r1.summary()}")
    print("targets: CSV < 20 s, XLSX < 40 s for 100k members")
    sys.exit(
        0
        if all(
            (lbl == "CSV" and f < 20) or (lbl == "XLSX" and f < 40) for lbl, _, f, _, _ in results
        )
        else 1
    )


if __name__ == "__main__":
    main()
