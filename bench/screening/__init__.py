"""Benchmark of department screening: the whole ``fangpin screen`` process against plain SQL.

    .venv/bin/python bench/screening [--preset city|county] [--year 2019] [--seed 1]
        [--repeat 3] [--reuse DIR] [--keep] [--county CODE] [--ops sqlite|postgres]
        [--pg URL] [--keep-pg] [--profile] [--strict]
    .venv/bin/python bench/screening --reuse /tmp/bench/city --ops postgres

(``python -m bench.screening …`` from the repository root does the same.)

``--ops`` picks the ops database ``fangpin screen`` works with: ``sqlite`` (default,
the data dir's ``fangpin.sqlite3``) or ``postgres`` (as in production: a database on
the ``--pg`` server, with a data dir of its own, ``DIR/pg-ops``, since the lake's
batches are recorded in the ops database that built them).

In one run:

1. **data** — builds the synthetic preset for one year in a temporary data dir
   (``fangpin migrate``, then ``fangpin synth --preset P --seed S --feeds --years Y``:
   the roster and every feed in the lake, the managed registry in the ops database),
   or reuses ``--reuse DIR`` (built there the first time). Every run below starts
   from a fresh copy of the ops database, so every run screens from scratch (it adds
   every warned household and every warning). SQLite: the database is copied once
   (SQLite backup API), then that copy is copied to a file before each run.
   PostgreSQL: a pristine database ``fangpin_bench_ops_<hash of the data dir>`` (with
   ``--reuse``, kept for the next run; vacuumed and analysed before the runs) and, before
   each run, ``fangpin_bench_ops_run`` dropped and created again from it as a
   template, then ``CHECKPOINT``; without ``--reuse`` both are dropped at the end
   (unless ``--keep``).
2. **fangpin** — times the whole ``fangpin screen --year Y`` process in a subprocess:
   wall time, and the child's own peak RSS and CPU time (``os.wait4``); best of
   ``--repeat`` runs. With ``--ops postgres`` on this machine, also the CPU the
   server's processes used meanwhile (``/proc``), which the child's figure leaves out.
3. **where the time goes** — one more run of the same command, in a child process
   with timers around Django's set-up, loading the command (its imports), the
   system checks, every function of ``fangpin.screening.services`` / ``engines`` /
   ``expression`` (and the methods of their classes), Ibis's DuckDB calls,
   Django's SQL, PostgreSQL's ``COPY`` (per table) and the commit; it also captures
   the expression's output rows. ``--profile`` adds a cProfile summary from yet
   another run.
4. **baseline** — the same screening written as one plain SQL statement (CTEs) in
   PostgreSQL, the baseline a county IT office would write: the lake's Parquet
   files and a snapshot of the whole registry (every managed household, read from a
   fresh copy of the ops database) are loaded with COPY into a database of
   the bench's own (created here, dropped at the end), indexed and analysed — the
   loading is timed separately and is NOT part of the baseline time; the
   parameters in force on 31 December (``parameters_default()``) are inlined as
   VALUES tables. The statement's time is the best of ``--repeat`` (rows fetched).
5. **floor** — DuckDB's bare join-and-aggregate (roster ⋈ medical of the year,
   grouped by household) over the same Parquet files, and the same in PostgreSQL.
6. **check** — the SQL's rows must equal the expression's output (every column,
   feed refs as sorted sets) and the warnings the timed ``fangpin screen`` wrote;
   the benchmark fails loudly (exit 1) on any difference.

Targets (issue 4), a city-year on this 2-core machine: the whole ``fangpin screen``
process ≤ 5 s wall, ≤ 4 GB peak RSS, ≥ 5× faster than the PostgreSQL baseline.
``--strict`` makes a missed target exit 2.
"""
