"""The bench's children: ``fangpin screen`` run in-process with timers (the breakdown), and
the registry snapshot the baseline screens against. Started by ``runs.py`` through the
package's entry point; they import only what they need."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .process import SRC


def breakdown_child(argv: list[str], *, started: float, started_wall: float) -> None:
    """Run ``fangpin <args>`` in this process with timers; write them (and captures) to a dir.

    argv: CAPTURE_DIR [--profile] -- fangpin-arguments…; ``started``: ``time.perf_counter()``
    at the entry point's first statement (``started_wall``: ``time.time()`` then).
    """
    import contextlib
    import functools
    import inspect

    capture = Path(argv[0])
    sep = argv.index("--")
    profile = "--profile" in argv[1:sep]
    cli = argv[sep + 1 :]
    sys.path.insert(0, str(SRC))

    timings: dict[str, list[float]] = {}
    order: dict[str, int] = {}
    stack: list[str] = []
    captured: dict[str, object] = {}
    marks: dict[str, float] = {"start": started}

    def wrap(label, fn, on_result=None):
        @functools.wraps(fn)
        def inner(*a, **kw):
            stack.append(label)
            key = "/".join(stack)
            order.setdefault(key, len(order))
            start = time.perf_counter()
            try:
                result = fn(*a, **kw)
            finally:
                entry = timings.setdefault(key, [0.0, 0])
                entry[0] += time.perf_counter() - start
                entry[1] += 1
                stack.pop()
            if on_result is not None:
                on_result(a, kw, result)
            return result

        return inner

    def wrap_context(label_of, fn):
        """``wrap`` for a context manager: the time from entering it to leaving it."""

        @contextlib.contextmanager
        def inner(*a, **kw):
            stack.append(label_of(a, kw))
            key = "/".join(stack)
            order.setdefault(key, len(order))
            start = time.perf_counter()
            try:
                with fn(*a, **kw) as value:
                    yield value
            finally:
                entry = timings.setdefault(key, [0.0, 0])
                entry[0] += time.perf_counter() - start
                entry[1] += 1
                stack.pop()

        return inner

    def keep(name, pick):
        def hook(a, kw, result):
            captured[name] = pick(a, kw, result)

        return hook

    hooks = {
        "_record": keep("found", lambda a, kw, r: kw["screened"].found),
    }
    instrumented = {"done": False}

    def instrument_screening(command_module: str):
        if instrumented["done"]:
            return
        instrumented["done"] = True
        import importlib

        for name in (
            command_module,  # it holds its own reference to screening_run
            "fangpin.screening.services",
            "fangpin.screening.engines",
            "fangpin.screening.expression",
        ):
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            for attr, obj in list(vars(module).items()):
                if (
                    inspect.isfunction(obj)
                    and (obj.__module__ or "").startswith("fangpin")
                    and not inspect.isgeneratorfunction(obj)
                ):
                    setattr(module, attr, wrap(attr, obj, hooks.get(attr)))
                elif inspect.isclass(obj) and obj.__module__ == name:  # e.g. engines.Engine
                    for method, fn in list(vars(obj).items()):
                        if inspect.isfunction(fn) and not method.startswith("__"):
                            setattr(obj, method, wrap(f"{attr}.{method}", fn))
        from ibis.backends.duckdb import Backend

        for attr in (
            "read_parquet",
            "execute",
            "to_pyarrow",
            "create_table",
            "_run_pre_execute_hooks",
            "compile",
            "raw_sql",
        ):
            if hasattr(Backend, attr):
                setattr(Backend, attr, wrap(f"duckdb.{attr}", getattr(Backend, attr)))
        if profile:  # DuckDB's own profile of every query the screening runs
            from fangpin.screening.engines import Engine

            def profiled(method):
                def run(self, *a, **kw):
                    if self.name != "duckdb":
                        return method(self, *a, **kw)
                    out = capture / f"duckdb-profile-{len(list(capture.glob('duckdb-*')))}.json"
                    self.con.con.execute("SET enable_profiling = 'json'")
                    self.con.con.execute(f"SET profiling_output = '{out}'")
                    try:
                        return method(self, *a, **kw)
                    finally:
                        self.con.con.execute("SET enable_profiling = 'no_output'")

                return run

            Engine.keep = profiled(Engine.keep)
            Engine.fetch = profiled(Engine.fetch)
        from django.db.backends import utils
        from django.db.models.query import QuerySet

        QuerySet.bulk_create = wrap("bulk_create", QuerySet.bulk_create)
        utils.CursorWrapper.execute = wrap("sql", utils.CursorWrapper.execute)
        utils.CursorWrapper.executemany = wrap("sql many", utils.CursorWrapper.executemany)
        # the commit: PostgreSQL checks the deferred foreign keys of every row added then
        from django.db.backends.base.base import BaseDatabaseWrapper

        BaseDatabaseWrapper.commit = wrap("commit", BaseDatabaseWrapper.commit)
        # PostgreSQL: bulk_insert streams rows with COPY on the driver's own cursor
        if connection_vendor() == "postgresql":
            import psycopg

            def copy_label(a, kw) -> str:  # "COPY table" of the statement (a str from bulk_insert)
                words = str(a[1] if len(a) > 1 else kw.get("statement", "")).split()
                return " ".join(words[:2]).replace('"', "") or "COPY"

            psycopg.Cursor.copy = wrap_context(copy_label, psycopg.Cursor.copy)

    import django
    from django.core import management
    from django.core.management import base

    marks["imported"] = time.perf_counter()
    django.setup = wrap("django.setup (settings, apps, models)", django.setup)
    management.load_command_class = wrap(
        "load the command (its imports)", management.load_command_class
    )
    base.BaseCommand.check = wrap("system checks", base.BaseCommand.check)
    timed_execute = wrap("command", base.BaseCommand.execute)
    timed_instrument = wrap(
        "(bench: instrumenting, imports ibis's DuckDB backend)", instrument_screening
    )

    def execute(self, *a, **kw):
        timed_instrument(type(self).__module__)
        return timed_execute(self, *a, **kw)

    base.BaseCommand.execute = execute

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangpin.config.settings")
    from fangpin.__main__ import main as fangpin_main

    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(fangpin_main, ["fangpin", *cli])
        marks["end"] = time.perf_counter()
        with open(capture / "profile.txt", "w") as fh:
            pstats.Stats(profiler, stream=fh).sort_stats("cumulative").print_stats(40)
    else:
        fangpin_main(["fangpin", *cli])
        marks["end"] = time.perf_counter()

    found = captured.get("found")
    if found is not None:
        import polars as pl

        found = found if isinstance(found, pl.DataFrame) else pl.from_arrow(found)
        found.write_parquet(capture / "found.parquet")
    marks["captured"] = time.perf_counter()
    (capture / "timings.json").write_text(
        json.dumps(
            {
                "marks": {k: v - started for k, v in marks.items()},
                "started": started_wall
                - float(os.environ.get("FANGPIN_BENCH_SPAWNED", started_wall)),
                "timings": [
                    {"key": k, "seconds": timings[k][0], "calls": timings[k][1]}
                    for k in sorted(timings, key=order.__getitem__)
                ],
            }
        )
    )
    # end the way the fangpin command does (``fangpin.__main__._leave``), so that "exit"
    # is what a real run pays
    from fangpin import __main__ as fangpin_cli

    if hasattr(fangpin_cli, "_leave"):
        fangpin_cli._leave()


def connection_vendor() -> str:
    from django.db import connection

    return connection.vendor


def snapshot_child(argv: list[str]) -> None:
    """Write the whole registry's snapshot (every managed household) for the baseline.

    argv: CAPTURE_DIR YEAR [COUNTY]
    """
    capture, year, county = Path(argv[0]), int(argv[1]), (argv[2] if len(argv) > 2 else "")
    sys.path.insert(0, str(SRC))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangpin.config.settings")
    import django

    django.setup()
    import polars as pl

    from fangpin.screening.services import registry_snapshot

    snapshot = pl.from_arrow(registry_snapshot(year=year, county_code=county))
    snapshot.write_parquet(capture / "snapshot.parquet")
