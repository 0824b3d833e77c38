"""The worker ``fangpin serve`` runs alongside the web server: a child process running
``fangpin worker``, stopped when the server stops."""

from __future__ import annotations

import subprocess
import sys


def worker_start() -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 (our own command, no shell)
        [sys.executable, "-m", "fangpin", "worker", "--no-startup-delay", "--interval", "1"]
    )


def worker_stop(process: subprocess.Popen, *, seconds: float = 10) -> None:
    """Ask the worker to stop (it finishes the job it is running), then make it."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
