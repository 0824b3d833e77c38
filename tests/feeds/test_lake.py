"""The lake is what its manifest says: reads take only the batches of committed, accepted
``FeedBatch`` rows, so an import killed at any stage leaves nothing readable half done,
and the retry of the same file imports it once.

A kill is modelled two ways. In this process: a step raises and the import's own
clean-up is switched off (a dead process removes nothing), so the transaction rolls
back while the files stay where the kill left them. In a child process
(``killed_import.py``): ``os._exit`` at the stage, against a SQLite file, then the
real ``fangpin import feed`` retries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import ibis
import pytest

from fangpin.feeds import services
from fangpin.feeds.lake import lake_files, lake_manifest, lake_table
from fangpin.feeds.models import FeedBatch
from fangpin.feeds.services import feed_import

from .conftest import ALICE, BOB, CAROL, medical_row, write_csv

pytestmark = pytest.mark.django_db

PEOPLE = [ALICE, BOB, CAROL]


class Killed(BaseException):
    """The process died here (a BaseException, as KeyboardInterrupt or SystemExit)."""


def roster_file(tmp_path: Path, years=(2019, 2020), name="roster.csv") -> Path:
    rows = [
        {
            "年度": str(year),
            "身份证号": person,
            "姓名": f"人{i}",
            "户编号": "H-1",
            "村代码": "130434100001",
            "与户主关系": "户主" if i == 0 else "子女",
        }
        for year in years
        for i, person in enumerate(PEOPLE)
    ]
    return write_csv(tmp_path / name, rows)


def roster_rows() -> int:
    return lake_table(ibis.duckdb.connect(), "roster").count().execute()


def on_disk(lake: Path) -> list[str]:
    return sorted(str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file())


def kill_at(monkeypatch, stage: str) -> None:
    """Make the next import die at ``stage``, leaving its files as they are."""
    monkeypatch.setattr(services, "_discard", lambda paths: None)
    real_rename, real_sync = services._rename, services._sync_folders
    renames = []

    def half_written(path):
        path.write_bytes(path.read_bytes()[:100])
        raise Killed

    def second_rename(temporary, final):
        renames.append(final)
        if len(renames) == 2:
            raise Killed
        real_rename(temporary, final)

    def after_renames(folders):
        real_sync(folders)
        raise Killed

    if stage == "writing":
        monkeypatch.setattr(services, "_fsync", half_written)
    elif stage == "renaming":
        monkeypatch.setattr(services, "_rename", second_rename)
    elif stage == "committing":
        monkeypatch.setattr(services, "_sync_folders", after_renames)


@pytest.mark.parametrize("stage", ["writing", "renaming", "committing"])
def test_an_import_killed_before_its_commit_leaves_nothing_readable_and_the_retry_imports_once(
    lake, tmp_path, monkeypatch, stage
):
    path = roster_file(tmp_path)
    kill_at(monkeypatch, stage)
    with pytest.raises(Killed):
        feed_import(kind="roster", path=path)
    monkeypatch.undo()

    left = on_disk(lake)
    assert left, "the kill left files behind, as a real one does"
    if stage != "writing":  # renamed into place: a glob of the folders would read them
        assert any(Path(f).name.startswith("batch-") for f in left)
    assert FeedBatch.objects.count() == 0
    assert lake_files("roster") == [] and roster_rows() == 0

    retry = feed_import(kind="roster", path=path)
    assert retry.ok and not retry.duplicate and retry.batch.years == [2019, 2020]
    assert roster_rows() == 6  # three people in two years, once
    assert on_disk(lake) == sorted(retry.batch.files)  # no orphan, no temporary file left
    assert feed_import(kind="roster", path=path).duplicate and roster_rows() == 6


def test_an_import_killed_after_its_commit_is_complete_and_the_retry_is_a_no_op(lake, tmp_path):
    path = roster_file(tmp_path)
    first = feed_import(kind="roster", path=path)
    # (the process dies now: nothing of the import is left to do)
    assert roster_rows() == 6 and len(lake_files("roster")) == 2
    again = feed_import(kind="roster", path=path)
    assert again.duplicate and again.batch.pk == first.batch.pk
    assert roster_rows() == 6 and FeedBatch.objects.count() == 1


def test_a_file_no_committed_manifest_names_is_not_read(lake, tmp_path):
    batch = feed_import(kind="roster", path=roster_file(tmp_path)).batch
    # a whole, valid batch file in the right folder — an orphan of another file's killed import
    named = lake / batch.files[0]
    shutil.copy(named, named.with_name("batch-0123456789abcdef.parquet"))
    assert len(list((lake / "roster").glob("year=*/batch-*.parquet"))) == 3
    assert roster_rows() == 6 and len(lake_files("roster")) == 2
    # a refused batch names no files either
    bad = write_csv(tmp_path / "bad.csv", [medical_row(总费用="-1")])
    assert not feed_import(kind="medical", path=bad).ok and lake_files("medical") == []


def test_the_retry_removes_what_the_killed_import_left_in_years_it_no_longer_writes(
    lake, tmp_path, monkeypatch
):
    rows = [medical_row(结算单号="S1"), medical_row(结算单号="S2", 出院日期="2020-01-02")]
    rows[1]["入院日期"] = "2019-12-30"
    path = write_csv(tmp_path / "two-years.csv", rows)
    kill_at(monkeypatch, "committing")
    with pytest.raises(Killed):
        feed_import(kind="medical", path=path)
    monkeypatch.undo()
    assert [Path(f).parent.name for f in on_disk(lake)] == ["year=2019", "year=2020"]
    # retried on 2019-12-31, when the 2020 stay is still in the future: 2019 only
    retry = feed_import(
        kind="medical",
        path=path,
        today=services.dt.date(2019, 12, 31),
        max_rejected_share=Decimal(1),
    )
    assert retry.ok and retry.batch.years == [2019]
    assert on_disk(lake) == retry.batch.files


def test_the_manifest_of_every_feed_is_one_query(lake, tmp_path, django_assert_num_queries):
    feed_import(kind="roster", path=roster_file(tmp_path))
    feed_import(kind="medical", path=write_csv(tmp_path / "m.csv", [medical_row()]))
    with django_assert_num_queries(1):
        manifest = lake_manifest(["roster", "medical", "education"])
    assert sorted(manifest) == ["medical", "roster"] and len(manifest["roster"]) == 2
    with django_assert_num_queries(0):
        assert len(lake_files("roster", years=[2020], manifest=manifest)) == 1


# --- a real kill: a child process that dies with os._exit --------------------------------


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A migrated SQLite ops database in a file, for child processes to copy."""
    folder = tmp_path_factory.mktemp("ops")
    env = child_env(folder)
    fangpin = Path(sys.executable).with_name("fangpin")
    subprocess.run([str(fangpin), "migrate", "-v0"], env=env, check=True, timeout=120)
    return folder / "ops.sqlite3"


def child_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FANGPIN_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'ops.sqlite3'}",
    }


def child(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    script = Path(__file__).with_name("killed_import.py")
    return subprocess.run(
        [sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("stage", ["writing", "committing"])
def test_a_process_killed_mid_import_leaves_nothing_readable_and_the_command_retries_it(
    migrated, tmp_path, stage
):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated, data_dir / "ops.sqlite3")
    env = child_env(data_dir)
    path = roster_file(tmp_path)

    killed = child(env, "import", stage, "roster", str(path))
    assert killed.returncode == 137, killed.stderr
    left = on_disk(data_dir / "lake")
    if stage == "writing":  # half a temporary file
        assert len(left) == 1 and left[0].endswith(".tmp")
    else:  # both years renamed into place, the manifest row never committed
        assert [Path(f).name[:6] for f in left] == ["batch-", "batch-"]
    assert child(env, "count", "roster").stdout.split() == ["0", "0"]

    fangpin = Path(sys.executable).with_name("fangpin")
    retry = subprocess.run(
        [str(fangpin), "import", "feed", "roster", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert retry.returncode == 0 and "accepted" in retry.stdout, retry.stderr
    assert child(env, "count", "roster").stdout.split() == ["1", "6"]
    assert not [f for f in on_disk(data_dir / "lake") if f.endswith(".tmp")]
    # and once more: a no-op
    again = child(env, "import", "none", "roster", str(path))
    assert again.returncode == 0 and "already imported" in again.stdout
    assert child(env, "count", "roster").stdout.split() == ["1", "6"]
