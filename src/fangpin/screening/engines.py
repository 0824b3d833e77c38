"""Where the screening expression runs: DuckDB in this process, or Spark (本地或集群).

``expression.py`` builds one Ibis expression and knows nothing of engines; this
module puts its inputs on the engine chosen and brings the result back:

- ``duckdb`` (default): an in-process DuckDB reads the lake's Parquet files; an
  empty feed and the registry snapshot are in-memory tables
  (``common.memtable.arrow_memtable``); a step kept for the next ones
  (``Engine.keep``) is a temporary table.
- ``pyspark``: Ibis's ``pyspark`` backend over a Spark session. The session is
  local (``local[2]``, a few shuffle partitions, no UI, errors-only logging,
  scratch space under ``FANGPIN_DATA_DIR/spark``) unless ``master`` (``fangpin
  screen --master URL``) names a cluster's master, or ``SPARK_REMOTE`` (or an
  ``sc://`` master) a Spark Connect server. Each feed is read from the same
  Parquet files as on DuckDB — those its committed manifest names
  (``feeds.lake.lake_files``), listed here and handed to Spark one by one, so
  Spark never lists the lake's folders itself (the lake must be at the same
  path for the cluster); an empty feed and the registry snapshot become Spark
  DataFrames of the same schema. Results come back as Arrow, so no amount
  passes through a float on the way.

The Spark session is created once per process and kept: a JVM takes seconds to
start, and Spark allows one local session per process anyway.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import polars as pl
import pyarrow as pa
from django.conf import settings

from fangpin.common.memtable import arrow_memtable
from fangpin.feeds.lake import Manifest, lake_files, lake_manifest, lake_schema, lake_table

from .expression import feed_years

DUCKDB = "duckdb"
PYSPARK = "pyspark"
ENGINES = (DUCKDB, PYSPARK)

# A laptop's or a CI machine's Spark: two cores, small shuffles, nothing listening.
SPARK_LOCAL_MASTER = "local[2]"
SPARK_LOCAL_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
}
# Every session: dates and times in UTC, Arrow between Python and the JVM.
SPARK_CONF = {
    "spark.app.name": "fangpin-screening",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
# Spark prints warnings and a banner by default; the local session logs errors only.
# (The class that starts pyspark's JVM gets a level of its own, or Spark announces one.)
SPARK_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
logger.submit.name = org.apache.spark.deploy.SparkSubmit
logger.submit.level = error
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
"""

ERR_ENGINE = "unknown engine {engine!r}; choose one of: {choices} (计算引擎无效)"
ERR_NO_PYSPARK = "the pyspark engine needs pyspark: pip install 'fangpin[spark]' (未安装 pyspark)"
ERR_NO_JAVA = (
    "a local Spark session needs Java 17: apt-get install openjdk-17-jre-headless, "
    "or set JAVA_HOME (未找到 Java)"
)
ERR_MASTER_AND_REMOTE = (
    "SPARK_REMOTE={remote!r} and --master {master!r} name two different Spark clusters; "
    "unset one (Spark 集群设置冲突)"
)


class EngineError(Exception):
    """The engine asked for cannot be used here (not installed, no Java, bad settings)."""


_spark_sessions: dict[str, Any] = {}


def java_available() -> bool:
    """A ``java`` for a local Spark session: ``JAVA_HOME/bin/java``, else one on the PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return True
    return shutil.which("java") is not None


@dataclass
class Engine:
    """An Ibis connection and how to put the screening's inputs on it."""

    name: str
    con: ibis.BaseBackend
    session: Any = None  # the Spark session, for the pyspark engine
    _views: list[str] = field(default_factory=list)

    def feed(
        self,
        kind: str,
        *,
        root: Path | None = None,
        years: Iterable[int] | None = None,
        manifest: Manifest | None = None,
    ) -> ir.Table:
        """The feed ``kind`` over its accepted batches (as ``manifest`` names them, by default
        the committed manifest now) — of ``years`` only, if given (the lake's year
        partitions) — or an empty table of its schema if there are none."""
        if self.name == DUCKDB:
            return lake_table(self.con, kind, root=root, years=years, manifest=manifest)
        files = [str(f) for f in lake_files(kind, root=root, years=years, manifest=manifest)]
        if not files:
            return self.table(lake_schema(kind).empty_table(), name=f"fangpin_{kind}")
        # the same files as on DuckDB, named one by one, read with the lake's schema
        frame = self.session.read.schema(_spark_schema(lake_schema(kind))).parquet(*files)
        return self._view(frame, f"fangpin_{kind}")

    def feeds(
        self,
        kinds: tuple[str, ...],
        *,
        root: Path | None = None,
        year: int | None = None,
        manifest: Manifest | None = None,
    ) -> dict[str, ir.Table]:
        """Every feed of ``kinds``, all as of one manifest (read in one query unless given);
        with ``year``, only the partitions its screening reads."""
        if manifest is None:
            manifest = lake_manifest(kinds)
        return {
            kind: self.feed(
                kind,
                root=root,
                years=None if year is None else feed_years(kind, year),
                manifest=manifest,
            )
            for kind in kinds
        }

    def table(self, data: pa.Table, *, name: str = "fangpin_snapshot") -> ir.Table:
        """An Arrow table in memory (the registry snapshot) as a table of this engine."""
        if self.name == DUCKDB:
            return arrow_memtable(data)
        frame = self.session.createDataFrame(data, schema=_spark_schema(data.schema))
        return self._view(frame, name)

    def keep(self, expr: ir.Table) -> ir.Table:
        """``expr`` computed once and kept on DuckDB as a temporary table (gone with the
        in-memory connection), for the expressions that read it. (On Spark, cached steps
        cost more than they saved: the screening runs there as one expression.)"""
        if self.name != DUCKDB:
            raise EngineError(f"keep is for DuckDB, not {self.name}")
        return self.con.create_table(ibis.util.gen_name("fangpin_kept"), expr, temp=True)

    def fetch(self, expr: ir.Table) -> pl.DataFrame:
        """Run ``expr`` and return its rows, typed as the expression says.

        The engine's own Arrow result, converted to the expression's schema: Ibis's
        ``to_pyarrow`` goes through pandas on Spark (nullable integers become floats there)
        and imports pandas on DuckDB (0.3 s). The hooks first register the expression's
        in-memory tables (the registry snapshot, relief_batch's parameter frame).
        """
        from ibis.formats.pyarrow import PyArrowData

        sql = self.con.compile(expr)
        self.con._run_pre_execute_hooks(expr)
        if self.name == DUCKDB:
            arrow = self.con.con.sql(sql).to_arrow_table()
        else:
            arrow = self.session.sql(sql).toArrow()
        return pl.from_arrow(PyArrowData.convert_table(arrow, expr.schema()))  # type: ignore[return-value]

    def close(self) -> None:
        """Let go of what this run registered (the Spark session itself stays up)."""
        if self.name == DUCKDB:
            self.con.disconnect()
            return
        for view in self._views:
            self.session.catalog.dropTempView(view)
        self._views.clear()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _view(self, frame: Any, name: str) -> ir.Table:
        view = ibis.util.gen_name(name)
        frame.createOrReplaceTempView(view)
        self._views.append(view)
        return self.con.table(view)


def engine_open(engine: str = DUCKDB, *, master: str = "") -> Engine:
    """Connect to ``engine``: an in-process DuckDB, or this process's Spark session."""
    if engine == DUCKDB:
        return Engine(DUCKDB, ibis.duckdb.connect())
    if engine == PYSPARK:
        session = spark_session(master=master)
        return Engine(PYSPARK, ibis.pyspark.connect(session), session=session)
    raise EngineError(ERR_ENGINE.format(engine=engine, choices=", ".join(ENGINES)))


def spark_session(*, master: str = "") -> Any:
    """The Spark session for ``master``: local (``local[2]``) by default, a cluster's for a
    master URL, Spark Connect for an ``sc://`` URL or ``SPARK_REMOTE``. One per process."""
    env_remote = os.environ.get("SPARK_REMOTE", "")
    if master and env_remote and master != env_remote:
        raise EngineError(ERR_MASTER_AND_REMOTE.format(remote=env_remote, master=master))
    remote = master if master.startswith("sc://") else env_remote
    key = remote or master or SPARK_LOCAL_MASTER
    if key in _spark_sessions:
        return _spark_sessions[key]
    if not remote and not java_available():
        raise EngineError(ERR_NO_JAVA)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineError(ERR_NO_PYSPARK) from exc

    if remote:
        builder = SparkSession.builder.remote(remote)
    else:
        builder = SparkSession.builder.master(master or SPARK_LOCAL_MASTER)
        conf = {**SPARK_LOCAL_CONF} if not master else {}
        conf.update(_spark_scratch_conf(Path(settings.DATA_DIR) / "spark"))
        for name, value in conf.items():
            builder = builder.config(name, value)
    for name, value in SPARK_CONF.items():
        builder = builder.config(name, value)
    session = builder.getOrCreate()
    _spark_sessions[key] = session
    return session


def _spark_scratch_conf(scratch: Path) -> dict[str, str]:
    """Spark's scratch space, warehouse and logging under the data directory, not the cwd."""
    (scratch / "tmp").mkdir(parents=True, exist_ok=True)
    log4j = scratch / "log4j2.properties"
    if not log4j.exists() or log4j.read_text() != SPARK_LOG4J2:
        log4j.write_text(SPARK_LOG4J2)
    return {
        "spark.local.dir": str(scratch / "tmp"),
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),
        "spark.driver.extraJavaOptions": (
            f"-Dlog4j2.configurationFile={log4j.as_uri()} -Dderby.system.home={scratch}"
        ),
    }


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)
