"""The runs: the whole ``fangpin screen`` process timed from outside (best of ``--repeat``,
each on a fresh copy of the ops database), one more run with timers (its child side is
``breakdown.py``), the registry snapshot for the baseline, and DuckDB's floor."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .data import PostgresOps, SqliteOps, lake_files, parquet_list
from .process import PACKAGE, Measured, best_of, checked, fangpin_command, gb, run_measured

Ops = SqliteOps | PostgresOps


def server_cpu_during(ops: Ops, run: Callable[[], Measured]) -> tuple[Measured, float | None]:
    """Run; and the ops server's CPU meanwhile (PostgreSQL on this machine)."""
    before = ops.server_cpu()
    m = run()
    after = ops.server_cpu()
    return m, (after - before if before is not None and after is not None else None)


@dataclass
class Timed:
    """The timed runs of the whole process; the first run's warnings, as written."""

    runs: list[Measured]
    best: Measured  # the run with the least wall time
    server_cpu: float | None  # the ops server's CPU during the best run (PostgreSQL here)
    written: list[dict]

    @property
    def wall(self) -> float:
        return self.best.wall

    @property
    def rss(self) -> int:
        return max(r.rss for r in self.runs)


def screen_timed(
    ops: Ops, screen_args: list[str], run_env: dict[str, str], year: int, repeat: int
) -> Timed:
    """``fangpin screen`` in a subprocess, ``repeat`` times, each on a fresh ops database."""
    print(f"\nfangpin {' '.join(screen_args)} — whole process, fresh ops db copy each run")
    runs: list[Measured] = []
    written: list[dict] = []
    server_cpus: list[float | None] = []
    for i in range(repeat):
        ops.fresh()
        m, server = server_cpu_during(
            ops,
            lambda: checked(
                run_measured([*fangpin_command(), *screen_args], run_env), "fangpin screen"
            ),
        )
        server_cpus.append(server)
        run, rows = ops.warnings(year)
        if i == 0:
            written = rows
        server_note = "" if server is None else f" + {server:.2f} s PostgreSQL server CPU"
        print(
            f"  run {i + 1}: {m.wall:6.2f} s wall, {m.cpu:6.2f} s CPU{server_note}, "
            f"peak {gb(m.rss)} · "
            f"{run['warnings_found']:,} warnings found, {run['warnings_added']:,} added, "
            f"{run['households_added']:,} households added, screening_run {run['seconds']:.2f} s",
            flush=True,
        )
        runs.append(m)
    best = min(runs, key=lambda r: r.wall)
    return Timed(runs, best, server_cpus[runs.index(best)], written)


def screen_broken_down(
    ops: Ops,
    screen_args: list[str],
    run_env: dict[str, str],
    capture: Path,
    args: argparse.Namespace,
) -> list[tuple[str, float]]:
    """One more run with timers (and ``--profile``'s); then the registry snapshot.

    Leaves in ``capture`` the expression's output (``found.parquet``) and the whole
    registry's snapshot (``snapshot.parquet``); returns the top-level phases.
    """
    capture.mkdir()
    child = [sys.executable, str(PACKAGE), "--breakdown-child", str(capture)]
    ops.fresh()
    bd, bd_server = server_cpu_during(
        ops,
        lambda: checked(run_measured([*child, "--", *screen_args], run_env), "the breakdown run"),
    )
    phases = print_breakdown(json.loads((capture / "timings.json").read_text()), bd.wall, bd.rss)
    if bd_server is not None:
        print(
            f"  (the process used {bd.cpu:.2f} s CPU; the PostgreSQL server {bd_server:.2f} s "
            "CPU meanwhile, in its own processes: its share of the waits above)"
        )
    if args.profile:
        ops.fresh()
        checked(run_measured([*child, "--profile", "--", *screen_args], run_env), "profiled run")
        print("\ncProfile (cumulative, top 40; timings inflated by profiling):")
        print((capture / "profile.txt").read_text())
        for path in sorted(capture.glob("duckdb-profile-*.json")):
            print_duckdb_profile(path)
    if not (capture / "found.parquet").exists():
        raise SystemExit(
            "FAILED: the breakdown run did not capture the expression's output (_record renamed?)"
        )
    # the baseline screens against the whole registry (fangpin screen takes a snapshot of
    # only the households it found candidates), from a fresh copy of the ops database
    ops.fresh()
    snapshot_cmd = [sys.executable, str(PACKAGE), "--snapshot-child"]
    snapshot_cmd += [str(capture), str(args.year), args.county]
    checked(run_measured(snapshot_cmd, run_env), "the registry snapshot")
    return phases


def duckdb_floor(data_dir: Path, roster: list[str], args: argparse.Namespace, repeat: int) -> float:
    """DuckDB's bare roster ⋈ medical of the year grouped by household, over the Parquet files."""
    import duckdb

    medical = lake_files(data_dir, "medical")
    county_filter = f"AND r.village_code LIKE '{args.county}%' " if args.county else ""

    duck_sql = (
        "SELECT r.household_no, sum(m.self_paid) AS self_paid, count(*) AS stays "
        f"FROM read_parquet({parquet_list(roster)}, hive_partitioning = false) r "
        f"JOIN read_parquet({parquet_list(medical)}, hive_partitioning = false) m "
        "ON m.id_number = r.id_number "
        f"WHERE r.period_year = {args.year} AND m.period_year = {args.year} {county_filter}"
        "GROUP BY r.household_no"
    )

    def duck_bare():
        con = duckdb.connect()
        try:
            return con.sql(duck_sql).to_arrow_table()
        finally:
            con.close()

    duck_best, _, duck_out = best_of(duck_bare, repeat)
    print(
        f"\nDuckDB floor: bare roster ⋈ medical of {args.year} grouped by household, over the "
        f"Parquet files → Arrow: {duck_best:.3f} s best of {repeat} ({duck_out.num_rows:,} households)"
    )
    return duck_best


def print_breakdown(data: dict, wall: float, rss: int) -> list[tuple[str, float]]:
    """Print the timer tree; return the top-level phases (label, seconds)."""
    marks = data["marks"]
    rows = data["timings"]
    inside = marks["end"]
    started = data.get("started", 0.0)  # spawn → the bench module's first statement
    exit_time = wall - started - marks["captured"]  # the captures are written after "end"
    children: dict[str, float] = {}
    for r in rows:
        parent = r["key"].rpartition("/")[0]
        children[parent] = children.get(parent, 0.0) + r["seconds"]
    top = sum(r["seconds"] for r in rows if "/" not in r["key"])
    phases = [
        ("python start-up", started),
        ("exit (after the command returned)", exit_time),
        ("imports before Django set-up", marks["imported"]),
    ]
    print(
        f"\nwhere the time goes — one more run with timers (wall {wall:.2f} s, of which "
        f"{marks['captured'] - marks['end']:.2f} s writing the captures; peak {gb(rss)}):"
    )
    print(f"  {'python start-up (spawn → first statement)':64} {started:7.3f} s")
    print(f"  {'imports before Django set-up':64} {marks['imported']:7.3f} s")
    for r in rows:
        depth = r["key"].count("/")
        name = r["key"].rpartition("/")[2]
        own = r["seconds"] - children.get(r["key"], 0.0)
        calls = f" ×{r['calls']}" if r["calls"] > 1 else ""
        self_note = f"  (self {own:.3f})" if r["key"] in children else ""
        if depth > 4 and r["seconds"] < 0.005:
            continue
        label = ("  " * depth + name + calls)[:64]
        print(f"  {label:64} {r['seconds']:7.3f} s{self_note}")
        if depth == 0:
            phases.append((name, r["seconds"]))
    other = inside - marks["imported"] - top
    print(f"  {'other (argument parsing, command lookup)':64} {other:7.3f} s")
    print(
        f"  {'exit (after the command returned: teardown, freeing memory)':64} {exit_time:7.3f} s"
    )
    phases.append(("other", other))
    return phases


def print_duckdb_profile(path: Path, top: int = 15) -> None:
    """The heaviest operators of one DuckDB query profile (JSON), by their own time."""
    try:
        data = json.loads(path.read_text())
        nodes: list[tuple[float, int, str, str]] = []

        def walk(node: dict) -> None:
            info = node.get("extra_info") or {}
            detail = "; ".join(
                f"{k}: {str(v).replace(chr(10), ' ')[:70]}"
                for k, v in info.items()
                if k in ("Conditions", "Join Type", "Groups", "Aggregates", "Function", "Filters")
            )
            nodes.append(
                (
                    float(node.get("timing", node.get("operator_timing", 0.0))),
                    int(node.get("intermediate_rows", node.get("operator_cardinality", 0))),
                    str(node.get("name", node.get("operator_type", "?"))),
                    detail,
                )
            )
            for child in node.get("children", []):
                walk(child)

        roots = data.get("operator") or data.get("children") or []
        for root in roots:
            walk(root)
        query = data.get("query") or data
        total = float(query.get("total_time", query.get("latency", 0.0)))
        print(
            f"\nDuckDB profile {path.name}: {total:.3f} s latency, "
            f"{float(query.get('cpu_time', 0.0)):.3f} s CPU over all threads; heaviest operators "
            f"(operator time summed over threads, rows out):"
        )
        for seconds, rows, name, detail in sorted(nodes, reverse=True)[:top]:
            print(f"  {seconds:7.3f} s {rows:>12,}  {name:22} {detail[:110]}")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"(DuckDB profile {path.name} not understood: {exc})")
