"""The screening on Spark gives exactly the warnings it gives on DuckDB (engines.py).

The Spark tests need Java 17 (or SPARK_REMOTE) and pyspark; where either is
missing they are skipped with the reason — and with FANGPIN_REQUIRE_ALL=1 (CI)
the skip is a failure. One local Spark session serves the whole test session.
"""

from __future__ import annotations

import importlib.util
import os

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fangpin.screening import engines
from fangpin.screening.engines import DUCKDB, PYSPARK, engine_open, java_available
from fangpin.screening.models import Warning
from fangpin.screening.services import ScreeningError, screening_compute
from fangpin.synth.feeds import synth_feeds_load
from fangpin.synth.population import county_population

from ..conftest import REQUIRE_ALL, SMALL_COUNTY, SMALL_HOUSEHOLDS, SMALL_SEED
from .test_services import YEAR, small_lake  # noqa: F401 (the hand-built county's lake)

pytestmark = pytest.mark.django_db
YEARS = [2018, 2019]


def _need_spark() -> None:
    if importlib.util.find_spec("pyspark") is None:
        message = "pyspark is not installed: Spark engine tests skipped (make install-test)"
    elif not os.environ.get("SPARK_REMOTE") and not java_available():
        message = (
            "Java not found (JAVA_HOME or java on the PATH): Spark engine tests skipped "
            "(install Debian's openjdk-17-jre-headless)"
        )
    else:
        return
    if REQUIRE_ALL:
        pytest.fail(message + " — FANGPIN_REQUIRE_ALL=1 makes this a failure")
    pytest.skip(message)


@pytest.fixture(scope="session")
def spark():
    """The process's Spark session (local[2] unless SPARK_REMOTE says otherwise), started once."""
    _need_spark()
    with engine_open(PYSPARK) as engine:
        return engine.session


@pytest.fixture(scope="module")
def population():
    return county_population(seed=SMALL_SEED, county_code=SMALL_COUNTY, households=SMALL_HOUSEHOLDS)


@pytest.fixture
def synthetic_lake(population, settings, tmp_path):
    settings.LAKE_DIR = tmp_path / "lake"
    synth_feeds_load(population=population, seed=SMALL_SEED, years=YEARS)
    return settings.LAKE_DIR


def computed(year: int, engine: str) -> pl.DataFrame:
    found = screening_compute(year=year, county_code=SMALL_COUNTY, engine=engine)
    return found.sort("household_no", "circumstance")


@pytest.mark.spark
def test_spark_and_duckdb_give_identical_warnings_for_the_small_county(spark, synthetic_lake):
    frames = []
    for year in YEARS:
        on_duckdb = computed(year, DUCKDB)
        on_spark = computed(year, PYSPARK)
        assert on_duckdb.height > 0
        # every column, every value, the same types — refs included, in the same order
        assert on_spark.schema == on_duckdb.schema
        assert on_spark.to_dicts() == on_duckdb.to_dicts(), year
        frames.append(on_duckdb)
    # the comparison covered several circumstances, known and unknown incomes, joined refs
    both = pl.concat(frames)
    assert both["circumstance"].n_unique() >= 3
    assert both["income_known"].n_unique() == 2
    assert both["refs"].str.contains(",").any()
    assert (both["exclusions"] != "").any() and (both["exclusions"] == "").any()


@pytest.mark.spark
@pytest.mark.usefixtures("small_lake")
def test_feeds_without_a_batch_and_exclusions_give_the_same_warnings_on_spark(spark, county):
    # the hand-built county: no property, business, assistance or disability batch at all
    # (empty tables of the lake's schema), a car and a payroll that exclude, a managed income
    on_duckdb = screening_compute(year=YEAR, county_code=county.code, engine=DUCKDB)
    on_spark = screening_compute(year=YEAR, county_code=county.code, engine=PYSPARK)
    assert on_duckdb.sort("household_no").select("household_no", "exclusions").rows() == [
        ("HB-1", ""),
        ("HB-2", ""),
        ("HB-3", "vehicle"),
        ("HB-4", ""),
        ("HB-7", "public_payroll"),
    ]
    assert on_spark.sort("household_no").to_dicts() == on_duckdb.sort("household_no").to_dicts()


@pytest.mark.spark
def test_the_screen_command_on_spark_records_the_warnings_duckdb_computes(
    spark, synthetic_lake, capsys
):
    expected = computed(2019, DUCKDB)
    call_command("screen", "--year", "2019", "--county", SMALL_COUNTY, "--engine", "pyspark")
    assert "on pyspark" in capsys.readouterr().out
    recorded = sorted(
        (
            w.household.household_no,
            w.circumstance,
            int(w.self_paid.amount * 100),
            int(w.estimated_relief.amount * 100),
            w.feed_refs,
        )
        for w in Warning.objects.filter(year=2019).select_related("household")
    )
    assert recorded == [
        (
            r["household_no"],
            r["circumstance"],
            r["self_paid_fen"],
            r["relief_fen"],
            r["refs"].split(","),
        )
        for r in expected.iter_rows(named=True)
    ]


def test_an_unknown_engine_is_refused_by_name():
    with pytest.raises(ScreeningError, match="unknown engine 'flink'"):
        screening_compute(year=2019, engine="flink")
    with pytest.raises(CommandError, match="invalid choice: 'flink'"):
        call_command("screen", "--year", "2019", "--engine", "flink")


def test_master_is_only_for_spark():
    with pytest.raises(CommandError, match="--master needs --engine pyspark"):
        call_command("screen", "--year", "2019", "--master", "spark://cluster:7077")


def test_a_local_spark_session_without_java_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java here
    with pytest.raises(ScreeningError, match="openjdk-17-jre-headless"):
        # a master no session of this process uses, so none is reused
        screening_compute(year=2019, engine=PYSPARK, master="local[1]")


def test_spark_remote_and_a_different_master_are_refused(monkeypatch):
    monkeypatch.setenv("SPARK_REMOTE", "sc://spark-connect:15002")
    with pytest.raises(engines.EngineError, match="two different Spark clusters"):
        engines.spark_session(master="spark://cluster:7077")
