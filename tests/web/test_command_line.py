"""The ``fangpin`` process itself: it leaves without Python's teardown once a command has
finished, so what the command wrote must be flushed and committed first."""

import os
import sqlite3
import subprocess
import sys


def fangpin(tmp_path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "FANGPIN_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "fangpin", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_output_is_flushed_and_writes_are_committed_when_the_process_ends(tmp_path):
    r = fangpin(tmp_path, "migrate", "-v0")
    assert r.returncode == 0, r.stderr
    # a long output through a pipe (fully buffered) and a row written by the command
    script = (
        "from fangpin.accounts.models import User\n"
        "User.objects.create_user(username='cli-check', password='x' * 12)\n"
        "print('余' * 200_000)\n"
    )
    r = fangpin(tmp_path, "shell", "-v0", stdin=script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "余" * 200_000
    with sqlite3.connect(tmp_path / "fangpin.sqlite3") as con:
        users = con.execute("SELECT username FROM accounts_user").fetchall()
    assert users == [("cli-check",)]
    # the write-ahead log was checkpointed: nothing is left only in it
    wal = tmp_path / "fangpin.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_failing_command_still_says_why_and_exits_non_zero(tmp_path):
    r = fangpin(tmp_path, "screen", "--year", "1999")
    assert r.returncode == 1
    assert "year must be from 2017" in r.stderr
