"""A worker killed mid-job (``kill -9``), with real processes against a SQLite file: nothing
of the job's work is readable, the next worker marks the job interrupted, and the job runs
again to the end, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from tests.feeds.conftest import ALICE

ROWS = 300_000  # enough that the import is still running when the worker is killed


def fangpin(env, *args, check=True, timeout=180) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("fangpin")), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, result.stderr[-2000:]
    return result


def shell(env, code: str) -> str:
    return fangpin(env, "shell", "--no-imports", "-c", code).stdout.strip()


def job_state(env) -> tuple[str, str]:
    out = shell(
        env, "from fangpin.jobs.models import Job; j = Job.objects.get(); print(j.state, j.step)"
    )
    state, _, step = out.partition(" ")
    return state, step


def batches(env) -> str:
    return shell(
        env,
        "from fangpin.feeds.models import FeedBatch; from fangpin.feeds.lake import lake_files;"
        "print(FeedBatch.objects.filter(status='accepted').count(), len(lake_files('medical')))",
    )


def big_medical(path: Path) -> Path:
    n = pl.int_range(0, ROWS, eager=True)
    pl.DataFrame(
        {
            "settlement_no": "S" + n.cast(pl.String),
            "id_number": [ALICE] * ROWS,
            "hospital": ["县医院"] * ROWS,
            "admitted": ["2019-03-01"] * ROWS,
            "discharged": ["2019-03-10"] * ROWS,
            "total_cost": ["100.00"] * ROWS,
            "basic_insurance": ["0"] * ROWS,
            "serious_illness": ["0"] * ROWS,
            "medical_assistance": ["0"] * ROWS,
            "self_paid": ["100.00"] * ROWS,
        }
    ).write_csv(path)
    return path


def test_a_worker_killed_mid_import_leaves_nothing_and_the_retried_job_imports_once(tmp_path):
    env = {
        **os.environ,
        "FANGPIN_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ops.sqlite3'}",
        "FANGPIN_SCREENING_DEBOUNCE_SECONDS": "3600",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    fangpin(env, "migrate", "-v0")
    path = big_medical(tmp_path / "medical.csv")
    shell(
        env,
        "from fangpin.feeds.submit import _queue; from fangpin.feeds.schemas import SCHEMAS;"
        "from pathlib import Path;"
        f"_queue(None, SCHEMAS['medical'], Path({str(path)!r}), 'medical.csv', None)",
    )
    # kill the worker while it checks the rows
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("fangpin")), "worker", "--no-startup-delay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state, step = job_state(env)
            if state == "running" and step:
                break
            assert state == "queued", (state, step)
            time.sleep(0.05)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    state, step = job_state(env)
    assert state == "running", "the job ended before the kill: make the file bigger"
    assert batches(env) == "0 0"

    # the next worker marks it interrupted; the retry imports the file once
    fangpin(env, "worker", "--batch", "--no-startup-delay")
    assert job_state(env)[0] == "failed"
    shell(
        env,
        "from fangpin.jobs.models import Job; from fangpin.jobs.services import job_retry;"
        "job_retry(job=Job.objects.get(), actor=None)",
    )
    fangpin(env, "worker", "--batch", "--no-startup-delay")
    assert job_state(env)[0] == "succeeded"
    assert batches(env) == "1 1"
