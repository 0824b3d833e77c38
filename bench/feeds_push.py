"""Benchmark: a county-month of 医保 (medical) rows pushed through the API and screened,
against the CLI import + screen of the same file, in the same run (issue 14).

Run: .venv/bin/python bench/feeds_push.py [--repeat 3] [--month 10] [--reuse DIR] [--pg URL]

Builds its data at run time in a temporary dir (or in ``--reuse DIR``, the first time):

- the synthetic county 魏县 with every feed of the year in the lake (``fangpin synth
  --preset county --seed 1 --feeds --years 2019``: 802,174 people, 73,693 in-patient
  settlements), SQLite in the data dir, or a PostgreSQL database with ``--pg``;
- that year screened once (``fangpin screen --due``): the month arrives in a year that was
  screened before, as it would in the county;
- a medical-insurance data officer of 魏县 (部门数据员, department ``medical_insurance``)
  and an API token of theirs;
- the month's file, ``month.xlsx``: the synthetic settlements discharged in ``--month``
  (6,753 for October 2019), re-keyed (new settlement numbers) so that they are new rows —
  the same people in hospital once more.

Then ``--repeat`` times, each path on a fresh copy of the data (data dir and database):

- CLI: ``fangpin import feed medical month.xlsx``, then ``fangpin screen --year 2019
  --county 130434`` (the wall time of the two processes);
- API: ``fangpin serve`` with its worker, started and ready before the clock starts
  (``FANGPIN_SCREENING_DEBOUNCE_SECONDS=0``); the officer's token POSTs the file to
  ``/api/v1/feeds/medical/batches``, polls the import job, then the screening job its
  batch queued, until that is done (the wall time from the POST to the screening done).

Checks (exit 1 when one fails): every run accepts all the month's rows; both paths end
with the same warnings, row for row; the month adds warnings (else nothing new was
screened). Reported: each path's best and median of the runs, the API path's steps
(upload, waiting for the worker, import, screening, from the jobs' own timestamps), and
the ratio API/CLI of the best runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
FANGPIN = str(ROOT / ".venv" / "bin" / "fangpin")
COUNTY = "130434"  # 魏县, the county preset
OFFICER = "bench_medical"
POLL = 0.1  # s between two looks at a job
JOB_TIMEOUT = 600  # s
OWN = "  of which screening_run itself"
PG_PRISTINE, PG_RUN = "fangpin_bench_push", "fangpin_bench_push_run"
MONEY = ("total_cost", "basic_insurance", "serious_illness", "medical_assistance", "self_paid")

# a warning as a user sees it (no ids, no timestamps): both paths must record the same rows
WARNINGS_SQL = """
    SELECT h.household_no, w.circumstance, w.region_path, w.household_type, w.members,
           w.annual_income, w.income_known, w.income_source, w.self_paid, w.units,
           CAST(w.feed_refs AS TEXT), CAST(w.exclusions AS TEXT), w.parameter_version,
           w.estimated_relief, w.status
    FROM screening_warning w JOIN registry_household h ON h.id = w.household_id
    WHERE w.year = {year}
    ORDER BY h.household_no, w.circumstance"""


def say(text: str) -> None:
    print(text, flush=True)


def run(cmd: list[str], env: dict[str, str], what: str) -> str:
    """Run a fangpin command to its end; its output, or the run stops with its error."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)  # noqa: S603 — ours
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"FAILED: {what} exited with {done.returncode}")
    return done.stdout


# --- where the data lives: a data dir and its database -------------------------------------


class Store:
    """The pristine data (built once) and the copy each run works on: a data dir (lake,
    uploads), and the database — SQLite inside the data dir, or two PostgreSQL databases
    on the ``--pg`` server, the run's made from the pristine one as a template."""

    def __init__(self, base: Path, pg: str) -> None:
        self.pristine = base / "pristine"
        self.run = base / "run"
        self.pg = pg
        if pg:
            import psycopg

            try:
                self.admin = psycopg.connect(pg, autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                raise SystemExit(f"FAILED: cannot connect to PostgreSQL at {pg} ({exc})") from None

    def url(self, which: str) -> str:
        if self.pg:
            name = PG_PRISTINE if which == "pristine" else PG_RUN
            return urlsplit(self.pg)._replace(path=f"/{name}").geturl()
        return f"sqlite:///{getattr(self, which) / 'fangpin.sqlite3'}"

    def env(self, which: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        return {
            **env,
            "FANGPIN_DATA_DIR": str(getattr(self, which)),
            "DATABASE_URL": self.url(which),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }

    def describe(self) -> str:
        if self.pg:
            version = self.admin.execute("SHOW server_version").fetchone()[0]
            return f"PostgreSQL {version} (databases {PG_PRISTINE}, {PG_RUN})"
        return f"SQLite {sqlite3.sqlite_version}, in the data dir"

    def create(self) -> None:
        """Before a build: an empty data dir and database."""
        shutil.rmtree(self.pristine, ignore_errors=True)
        self.pristine.mkdir(parents=True)
        if self.pg:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{PG_PRISTINE}" WITH (FORCE)')
            self.admin.execute(f'CREATE DATABASE "{PG_PRISTINE}"')

    def fresh(self) -> None:
        """The run's copy of the pristine data, on disk before the clock starts."""
        shutil.rmtree(self.run, ignore_errors=True)
        shutil.copytree(self.pristine, self.run)
        if self.pg:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{PG_RUN}" WITH (FORCE)')
            self.admin.execute(f'CREATE DATABASE "{PG_RUN}" TEMPLATE "{PG_PRISTINE}"')
            self.admin.execute("CHECKPOINT")
        os.sync()

    def query(self, which: str, sql: str) -> list[tuple]:
        if self.pg:
            import psycopg

            with psycopg.connect(self.url(which)) as con:
                return con.execute(sql).fetchall()
        con = sqlite3.connect(getattr(self, which) / "fangpin.sqlite3")
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def drop(self) -> None:
        if self.pg:
            for name in (PG_RUN, PG_PRISTINE):
                self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the data: the county, its year screened, the officer, the month's file ----------------


def data_ready(store: Store, args: argparse.Namespace) -> None:
    """Build the pristine data (or reuse it when it was built with the same options)."""
    marker = store.pristine / "bench-feeds-push.txt"
    wanted = f"seed {args.seed}, year {args.year}, database {store.url('pristine')}\n"
    if marker.is_file() and marker.read_text() == wanted:
        say(f"data: reusing {store.pristine}")
        return
    store.create()
    env = store.env("pristine")
    started = time.perf_counter()
    run([FANGPIN, "migrate", "-v0"], env, "fangpin migrate")
    synth = ["synth", "--preset", "county", "--seed", str(args.seed), "--feeds"]
    synth += ["--years", str(args.year)]
    say(f"building: fangpin {' '.join(synth)} in {store.pristine} …")
    out = run([FANGPIN, *synth], env, "fangpin synth")
    say("  " + "\n  ".join(line for line in out.splitlines() if line.strip()))
    # the year as the county has it before the month arrives: screened (the batches the
    # synth wrote queued that screening; --due runs it, so no worker finds it due later)
    out = run([FANGPIN, "screen", "--due"], env, "fangpin screen --due")
    say("  " + out.strip().splitlines()[-1])
    user = (
        "from fangpin.accounts.services import user_create\n"
        "from fangpin.regions.models import Region\n"
        f"user_create(username={OFFICER!r}, password={secrets.token_urlsafe(16)!r}, "
        "role='department_officer', department='medical_insurance', "
        f"region=Region.objects.get(code={COUNTY!r}), full_name='医保局数据员 (bench)')\n"
    )
    run([FANGPIN, "shell", "-c", user], env, "creating the medical-insurance data officer")
    marker.write_text(wanted)
    say(f"data built in {time.perf_counter() - started:.0f} s (not compared)")


def month_file(store: Store, args: argparse.Namespace, path: Path) -> int:
    """The month's settlements of the lake, re-keyed, as the bureau's XLSX; its rows."""
    import polars as pl

    files = sorted((store.pristine / "lake" / "medical" / f"year={args.year}").glob("*.parquet"))
    if not files:
        raise SystemExit(f"FAILED: no medical batch of {args.year} in {store.pristine}/lake")
    yuan = [  # integer fen as exact yuan text, '1234.05'
        pl.format("{}.{}", pl.col(c) // 100, (pl.col(c) % 100).cast(pl.String).str.zfill(2))
        for c in MONEY
    ]
    month = (
        pl.read_parquet(files)
        .filter(pl.col("discharged").dt.month() == args.month)
        .sort("source_row")
        .with_row_index("n", offset=1)
        .select(
            # a number of the bureau's own for each settlement: new rows, not a resend
            pl.format("M{}{}", pl.lit(f"{COUNTY}{args.year}{args.month:02d}"), pl.col("n")).alias(
                "settlement_no"
            ),
            "id_number",
            "hospital",
            pl.col("admitted").cast(pl.String),
            pl.col("discharged").cast(pl.String),
            *yuan,
        )
    )
    month.write_excel(path, worksheet="住院结算")
    return month.height


def token_issue(store: Store) -> str:
    out = run(
        [FANGPIN, "apitoken", OFFICER, "--days", "1", "--name", "bench/feeds_push.py"],
        store.env("pristine"),
        "fangpin apitoken",
    )
    return out.strip().splitlines()[-1]


# --- the two paths -----------------------------------------------------------------------


@dataclass
class Outcome:
    """What a run took and what it left."""

    wall: float
    cpu: float  # user + system seconds of the path's fangpin processes (not the database's)
    steps: dict[str, float]  # the parts of ``wall``, in order
    accepted: int  # rows of the month's batch
    rejected: int
    warnings: list[tuple]  # the year's, after the run


def outcome(store: Store, year: int, wall: float, cpu: float, steps: dict[str, float]) -> Outcome:
    accepted, rejected = store.query(
        "run",
        "SELECT rows_accepted, rows_rejected FROM feeds_feedbatch "
        "WHERE kind = 'medical' ORDER BY id DESC LIMIT 1",
    )[0]
    warnings = store.query("run", WARNINGS_SQL.format(year=int(year)))
    return Outcome(wall, cpu, steps, accepted, rejected, warnings)


def screening_seconds(store: Store) -> float:
    """The last screening's own work (``ScreeningRun.seconds``), in a process or a job alike."""
    rows = store.query("run", "SELECT seconds FROM screening_screeningrun ORDER BY id DESC")
    return float(rows[0][0])


def cli_path(store: Store, args: argparse.Namespace, month: Path) -> Outcome:
    store.fresh()
    env = store.env("run")
    cpu = children_cpu()
    start = time.perf_counter()
    run([FANGPIN, "import", "feed", "medical", str(month)], env, "fangpin import feed")
    imported = time.perf_counter()
    screen = ["screen", "--year", str(args.year), "--county", COUNTY]
    run([FANGPIN, *screen], env, "fangpin screen")
    end = time.perf_counter()
    cpu = children_cpu() - cpu
    steps = {
        "fangpin import feed": imported - start,
        "fangpin screen": end - imported,
        OWN: screening_seconds(store),
    }
    return outcome(store, args.year, end - start, cpu, steps)


def children_cpu() -> float:
    """CPU seconds of this process's ended children so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds of a running process so far (``/proc/PID/stat``: utime + stime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """``fangpin serve`` on a loopback port with its worker, for one run's data."""

    def __init__(self, env: dict[str, str]) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {**env, "FANGPIN_SCREENING_DEBOUNCE_SECONDS": "0", "LOG_LEVEL": "INFO"}
        self.proc = subprocess.Popen(  # noqa: S603 — our own command
            [FANGPIN, "serve", "--port", str(self.port), "--no-collectstatic"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self.workers: list[int] = []
        self.worker_ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line)
            if "Starting worker" in line:  # django-tasks' database worker, polling from now
                self.worker_ready.set()

    def ready(self, session) -> str:
        """The server's address once it answers and its worker polls the queue."""
        import requests

        base = f"http://127.0.0.1:{self.port}"
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline and self.proc.poll() is None:
            try:
                up = session.get(base + "/api/v1/openapi.json", timeout=5).status_code == 200
            except requests.ConnectionError:
                up = False
            if up and self.worker_ready.wait(0.2):
                self.workers = self.children()
                return base
            time.sleep(0.2)
        self.stop()
        raise SystemExit("FAILED: fangpin serve or its worker did not start:\n" + self.tail())

    def children(self) -> list[int]:
        """The server's child processes: its worker."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def cpu(self) -> float:
        """CPU seconds so far of the server and of its worker."""
        return sum(process_cpu(pid) for pid in [self.proc.pid, *self.children()])

    def tail(self) -> str:
        return "".join(self.log[-30:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # waitress stops, then its worker
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # a worker left running would take the next run's jobs, warm: not this run's figure
        left = [pid for pid in self.workers if Path(f"/proc/{pid}").exists()]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        if left:
            raise SystemExit(f"FAILED: fangpin serve stopped, its worker {left} did not")


def job_wait(session, base: str, url: str, server: Server) -> dict:
    """Poll a job until it has finished; the job as the API shows it."""
    deadline = time.perf_counter() + JOB_TIMEOUT
    while time.perf_counter() < deadline:
        answer = session.get(base + url, timeout=30)
        if answer.status_code != 200:
            raise SystemExit(f"FAILED: GET {url} answered {answer.status_code}: {answer.text}")
        job = answer.json()
        if job["state"] in ("succeeded", "failed"):
            if job["state"] == "failed":
                raise SystemExit(
                    f"FAILED: job {job['id']} ({job['kind']}) failed: {job['error']}\n"
                    + server.tail()
                )
            return job
        time.sleep(POLL)
    raise SystemExit(f"FAILED: job {url} not done in {JOB_TIMEOUT} s\n" + server.tail())


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def api_path(store: Store, args: argparse.Namespace, month: Path, token: str) -> Outcome:
    import requests

    store.fresh()
    server = Server(store.env("run"))
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    try:
        base = server.ready(session)
        cpu = server.cpu()
        start = time.perf_counter()
        with month.open("rb") as fh:
            answer = session.post(
                f"{base}/api/v1/feeds/medical/batches",
                files={"file": (month.name, fh, "application/octet-stream")},
                headers={"Idempotency-Key": secrets.token_hex(8)},
                timeout=120,
            )
        uploaded = time.perf_counter()
        if answer.status_code != 202:
            raise SystemExit(f"FAILED: the POST answered {answer.status_code}: {answer.text}")
        imported = job_wait(session, base, answer.json()["url"], server)
        # the screening job the batch queued (no list of jobs in the API: the database)
        found = store.query(
            "run",
            "SELECT id FROM jobs_job WHERE kind = 'screening.run' "
            f"AND id > {int(imported['id'])} ORDER BY id LIMIT 1",
        )
        if not found:
            raise SystemExit("FAILED: the accepted batch queued no screening job")
        screened = job_wait(session, base, f"/api/v1/jobs/{found[0][0]}", server)
        end = time.perf_counter()
        cpu = server.cpu() - cpu
    finally:
        server.stop()
        session.close()
    steps = {
        "upload (POST → 202)": uploaded - start,
        "import: waiting for the worker": (
            moment(imported["started_at"]) - moment(imported["created_at"])
        ).total_seconds(),
        "import: the job": (
            moment(imported["finished_at"]) - moment(imported["started_at"])
        ).total_seconds(),
        "screening: waiting for the worker": (
            moment(screened["started_at"]) - moment(imported["finished_at"])
        ).total_seconds(),
        "screening: the job": (
            moment(screened["finished_at"]) - moment(screened["started_at"])
        ).total_seconds(),
    }
    steps[OWN] = screening_seconds(store)
    steps["seeing the end (a poll every 0.1 s)"] = (end - start) - (
        steps["upload (POST → 202)"]
        + (moment(screened["finished_at"]) - moment(imported["created_at"])).total_seconds()
    )
    return outcome(store, args.year, end - start, cpu, steps)


# --- the report ----------------------------------------------------------------------------


def by_circumstance(rows: list[tuple]) -> Counter:
    return Counter(r[1] for r in rows)


def report(cli: list[Outcome], api: list[Outcome], before: list[tuple], rows: int) -> list[str]:
    """Print the table; the failed checks."""
    best_cli, best_api = min(o.wall for o in cli), min(o.wall for o in api)
    say(f"\n{'':38}{'best':>9}{'median':>9}   runs (s)")

    def line(label: str, values: list[float]) -> None:
        runs = " ".join(f"{v:.2f}" for v in values)
        say(f"{label:38}{min(values):>9.2f}{statistics.median(values):>9.2f}   {runs}")

    say("CLI: import + screen")
    for step in cli[0].steps:
        line(f"  {step}", [o.steps[step] for o in cli])
    line("  total (wall of both processes)", [o.wall for o in cli])
    line("  CPU of both processes", [o.cpu for o in cli])
    say("API: push + screening job")
    for step in api[0].steps:
        line(f"  {step}", [o.steps[step] for o in api])
    line("  total (POST → screening job done)", [o.wall for o in api])
    line("  CPU of the server and its worker", [o.cpu for o in api])
    cpu = min(o.cpu for o in api) / min(o.cpu for o in cli)
    say(f"ratio API / CLI (best of each): {best_api / best_cli:.2f}× wall, {cpu:.2f}× CPU")

    failed = []
    for name, outcomes in (("CLI", cli), ("API", api)):
        for o in outcomes:
            if o.accepted != rows or o.rejected:
                failed.append(
                    f"{name}: {o.accepted:,} rows accepted, {o.rejected:,} rejected "
                    f"(the file has {rows:,})"
                )
    first = cli[0].warnings
    for name, outcomes in (("CLI", cli), ("API", api)):
        for i, o in enumerate(outcomes, start=1):
            if o.warnings != first:
                failed.append(
                    f"{name} run {i}: warnings differ from CLI run 1 "
                    f"({dict(by_circumstance(o.warnings))} against {dict(by_circumstance(first))})"
                )
    new = by_circumstance(first) - by_circumstance(before)
    say(
        f"rows accepted: CLI {cli[0].accepted:,}, API {api[0].accepted:,} (the file: {rows:,}); "
        f"warnings of the year: {len(before):,} before, {len(first):,} after the CLI, "
        f"{len(api[0].warnings):,} after the API (the CLI's new, by circumstance: "
        f"{dict(new) or 'none'})"
    )
    if len(first) <= len(before):
        failed.append("the month added no warning: nothing new was screened")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--year", type=int, default=2019)
    parser.add_argument("--month", type=int, default=10, choices=range(1, 13), metavar="1-12")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path (best of N)")
    parser.add_argument("--reuse", type=Path, help="dir to build the data in once and reuse")
    parser.add_argument(
        "--pg",
        default="",
        metavar="URL",
        help="a PostgreSQL server (postgres://user@host:port/db) to hold the databases "
        f"{PG_PRISTINE} and {PG_RUN} (default: SQLite in the data dir)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary dir")
    args = parser.parse_args()
    repeat = max(1, args.repeat)

    temporary = args.reuse is None
    base = Path(tempfile.mkdtemp(prefix="fangpin-bench-push-")) if temporary else args.reuse
    base = base.resolve()
    base.mkdir(parents=True, exist_ok=True)
    store = Store(base, args.pg)
    say(
        f"feeds push benchmark · county {COUNTY}, {args.year}-{args.month:02d} medical, "
        f"best of {repeat} · {store.describe()} · {os.cpu_count()} CPUs"
    )
    try:
        data_ready(store, args)
        month = base / f"medical-{args.year}-{args.month:02d}.xlsx"
        rows = month_file(store, args, month)
        say(
            f"month file: {rows:,} settlements discharged in {args.year}-{args.month:02d}, "
            f"re-keyed, {month.stat().st_size / 1e6:.1f} MB XLSX"
        )
        token = token_issue(store)
        before = store.query("pristine", WARNINGS_SQL.format(year=int(args.year)))
        cli, api = [], []
        for i in range(1, repeat + 1):  # the paths take turns: the machine's load hits both
            cli.append(cli_path(store, args, month))
            say(f"run {i}: CLI {cli[-1].wall:.2f} s")
            api.append(api_path(store, args, month, token))
            say(f"run {i}: API {api[-1].wall:.2f} s")
        failed = report(cli, api, before, rows)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
            store.drop()
        else:
            say(f"data kept in {base}")
    for problem in failed:
        say(f"FAILED: {problem}")
    say("checks: " + ("FAILED" if failed else "all passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
