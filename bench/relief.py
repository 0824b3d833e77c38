"""Benchmark of the policy engine: the batch path (Ibis on DuckDB) and the scalar path.

    .venv/bin/python bench/relief.py [--cases 1000000] [--scalar 10000] [--seed 20190901]

Generates the cases at run time with a fixed seed (nothing is committed), then times

- the batch path: ``relief_batch`` over one million cases — build the one Ibis
  expression, run it on DuckDB, and fetch every output row as Arrow;
- the scalar path: ``relief_calculate`` over ten thousand cases, each with its full
  explanation serialised to a JSON-ready dict.

Each figure is printed with a baseline measured in the same run on the same data, so
figures from different (noisy) machines can be compared by their ratio:

- batch vs ``SELECT sum(self_paid) FROM cases`` and vs ``SELECT * FROM cases`` fetched
  as Arrow (the cost of merely reading the table out);
- scalar vs a plain Python loop summing the cases' Decimal self-paid amounts.

Targets (issue 3): batch ≥ 1,000,000 cases/s; scalar ≤ 200 µs per case.
A sample of batch rows is re-computed by the scalar path as a guard: the benchmark
fails if the two disagree.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import duckdb  # noqa: E402
import ibis  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from fangpin.policy import spec  # noqa: E402
from fangpin.policy.batch import relief_batch, relief_explain_row  # noqa: E402
from fangpin.policy.loader import parameters_default  # noqa: E402
from fangpin.policy.scalar import Case, relief_calculate  # noqa: E402

REPEATS = 5
TARGET_BATCH = 1_000_000  # cases/s
TARGET_SCALAR = 200.0  # µs/case


def fen_decimals(fen: np.ndarray) -> pa.Array:
    """Integer fen as an exact Arrow DECIMAL(18, 2) column (the fen are the unscaled digits)."""
    fen = np.asarray(fen, dtype=np.int64)
    words = np.empty((len(fen), 2), dtype=np.int64)
    words[:, 0] = fen
    words[:, 1] = np.where(fen < 0, -1, 0)
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(fen), [None, pa.py_buffer(words.tobytes())]
    )


def generate(n: int, seed: int, counties: list[str]) -> pa.Table:
    """Synthetic cases shaped like Handan's: every county, type, circumstance and year."""
    rng = np.random.default_rng(seed)
    members = rng.integers(1, 9, n)
    per_person_income = rng.gamma(2.0, 4_000.0, n)  # yuan per person, a long right tail
    self_paid = rng.lognormal(9.6, 1.0, n)  # median ~15,000 yuan
    paid = np.where(rng.random(n) < 0.1, rng.integers(0, 500_000, n), 0)  # fen, 10% paid before
    start = np.datetime64("2017-01-01")
    return pa.table(
        {
            "case_id": pa.array(np.arange(n, dtype=np.int64)),
            "date": pa.array(start + rng.integers(0, 4 * 365, n).astype("timedelta64[D]")).cast(
                pa.date32()
            ),
            "county": pa.array(np.array(counties)[rng.integers(0, len(counties), n)]),
            "household_type": pa.array(np.array(spec.HOUSEHOLD_TYPES)[rng.integers(0, 4, n)]),
            "circumstance": pa.array(np.array(spec.CIRCUMSTANCES)[rng.integers(0, 4, n)]),
            "members": pa.array(members.astype(np.int32)),
            "annual_income": fen_decimals((per_person_income * members * 100).astype(np.int64)),
            "self_paid": fen_decimals((self_paid * 100).astype(np.int64)),
            "paid_this_year": fen_decimals(paid),
            "public_payroll": pa.array(rng.random(n) < 0.01),
            "vehicle": pa.array(rng.random(n) < 0.02),
        }
    )


def best_of(fn, repeats: int = REPEATS) -> tuple[float, float, object]:
    """(best seconds, median seconds, last result) over ``repeats`` runs."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--scalar", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20190901)
    args = parser.parse_args()

    parameters = parameters_default()
    counties = sorted(parameters.counties or ())
    print(
        f"relief benchmark · {args.cases:,} batch cases, {args.scalar:,} scalar cases, seed {args.seed}\n"
        f"python {platform.python_version()} · duckdb {duckdb.__version__} · ibis {ibis.__version__}"
        f" · {os.cpu_count()} CPUs · {platform.machine()}"
    )

    started = time.perf_counter()
    arrow = generate(args.cases, args.seed, counties)
    con = ibis.duckdb.connect()
    cases = con.create_table("cases", ibis.memtable(arrow))
    print(
        f"generated and loaded into DuckDB in {time.perf_counter() - started:.2f} s (not timed below)"
    )

    # --- batch ---------------------------------------------------------------------------
    n = args.cases
    base_sum, _, _ = best_of(lambda: cases.self_paid.sum().execute())
    base_copy, _, _ = best_of(lambda: cases.to_pyarrow())
    best, median, out = best_of(lambda: relief_batch(cases, parameters=parameters).to_pyarrow())
    assert out.num_rows == n
    eligible = out.column("eligible").to_numpy(zero_copy_only=False).sum()
    total = sum((a for a in out.column("amount").to_pylist() if a is not None), Decimal(0))

    # guard: a sample of rows re-computed by the scalar path must agree to the fen
    rng = np.random.default_rng(args.seed + 1)
    sample = out.take(pa.array(rng.choice(n, size=min(1_000, n), replace=False)))
    for row in sample.to_pylist():
        explained = relief_explain_row(row, parameters=parameters)
        if explained.amount != row["amount"] or explained.eligible != row["eligible"]:
            print(f"MISMATCH batch {row} vs scalar {explained.amount}", file=sys.stderr)
            return 1

    batch_rate = n / best
    print("\nbatch path (one Ibis expression on DuckDB, all rows fetched as Arrow)")
    print(
        f"  relief_batch             {best:8.3f} s best, {median:.3f} s median of {REPEATS}"
        f"  → {batch_rate:>12,.0f} cases/s, {best / n * 1e6:7.3f} µs/case"
    )
    print(f"  baseline sum(self_paid)  {base_sum:8.3f} s  → ratio {best / base_sum:6.1f}×")
    print(f"  baseline SELECT * Arrow  {base_copy:8.3f} s  → ratio {best / base_copy:6.1f}×")
    print(
        f"  eligible {eligible:,} of {n:,}; relief total {total:,.2f} yuan; "
        f"1,000 sampled rows match the scalar path"
    )

    # --- scalar --------------------------------------------------------------------------
    m = min(args.scalar, n)
    rows = arrow.slice(0, m).to_pylist()
    scalar_cases = [
        Case(
            date=r["date"],
            county=r["county"],
            household_type=r["household_type"],
            circumstance=r["circumstance"],
            members=r["members"],
            annual_income=r["annual_income"],
            self_paid=r["self_paid"],
            paid_this_year=r["paid_this_year"],
            exclusions=frozenset(x for x in spec.EXCLUSIONS if r.get(x)),
        )
        for r in rows
    ]

    def scalar_all() -> int:
        return sum(len(relief_calculate(c, parameters=parameters).as_dict()) for c in scalar_cases)

    def scalar_bare() -> int:
        return sum(relief_calculate(c, parameters=parameters).eligible for c in scalar_cases)

    def naive_loop() -> Decimal:
        total = Decimal(0)
        for c in scalar_cases:
            total += c.self_paid
        return total

    base_loop, _, _ = best_of(naive_loop)
    s_best, s_median, _ = best_of(scalar_all)
    b_best, _, _ = best_of(scalar_bare)
    per_case = s_best / m * 1e6
    print("\nscalar path (relief_calculate, Decimal, full explanation)")
    print(
        f"  with explanation as dict {s_best:8.3f} s best, {s_median:.3f} s median of {REPEATS}"
        f"  → {m / s_best:>12,.0f} cases/s, {per_case:7.1f} µs/case"
    )
    print(
        f"  explanation built only   {b_best:8.3f} s  → {m / b_best:>12,.0f} cases/s, "
        f"{b_best / m * 1e6:7.1f} µs/case"
    )
    print(f"  baseline Decimal sum     {base_loop:8.4f} s  → ratio {s_best / base_loop:6.0f}×")

    ok_batch = batch_rate >= TARGET_BATCH
    ok_scalar = per_case <= TARGET_SCALAR
    print(
        f"\ntargets: batch ≥ {TARGET_BATCH:,} cases/s: {'met' if ok_batch else 'NOT met'}; "
        f"scalar ≤ {TARGET_SCALAR:.0f} µs/case: {'met' if ok_scalar else 'NOT met'}"
    )
    summary = {
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "batch_cases": n,
        "batch_seconds": round(best, 4),
        "batch_cases_per_s": round(batch_rate),
        "batch_us_per_case": round(best / n * 1e6, 4),
        "batch_ratio_to_sum": round(best / base_sum, 2),
        "batch_ratio_to_select_star": round(best / base_copy, 2),
        "scalar_cases": m,
        "scalar_us_per_case": round(per_case, 1),
        "scalar_ratio_to_decimal_sum": round(s_best / base_loop),
    }
    print("summary " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
