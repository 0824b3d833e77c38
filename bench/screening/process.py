"""Child processes, measured: wall time, and the child's own peak RSS and CPU (``wait4``)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = Path(__file__).resolve().parent  # ``python PACKAGE --…-child`` runs a child of the bench


@dataclass
class Measured:
    wall: float
    rss: int  # bytes
    cpu: float  # user + system seconds
    returncode: int
    stdout: str
    stderr: str


def fangpin_command() -> list[str]:
    script = Path(sys.executable).with_name("fangpin")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fangpin"]


def run_measured(cmd: list[str], env: dict[str, str]) -> Measured:
    """Run ``cmd``; wall time, and peak RSS and CPU time of this child alone (``wait4``)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        env = {**env, "FANGPIN_BENCH_SPAWNED": repr(time.time())}
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            wall=wall,
            rss=usage.ru_maxrss * 1024,  # kilobytes on Linux
            cpu=usage.ru_utime + usage.ru_stime,
            returncode=proc.returncode,
            stdout=out.read(),
            stderr=err.read(),
        )


def checked(m: Measured, what: str) -> Measured:
    if m.returncode != 0:
        sys.stderr.write(m.stdout[-3000:] + m.stderr[-3000:])
        raise SystemExit(f"FAILED: {what} exited with {m.returncode}")
    return m


def gb(n: int) -> str:
    return f"{n / 1024**3:.2f} GB"


def best_of(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result
