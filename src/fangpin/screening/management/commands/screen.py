"""``fangpin screen --year YYYY [--county CODE] [--engine duckdb|pyspark [--master URL]]`` —
department screening and early warning (筛查预警).

``fangpin screen --due`` screens every county-year whose newest feed batch came after its
newest screening (``screening.jobs.screening_due``): for cron or a systemd timer.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from fangpin.accounts.models import User
from fangpin.common.progress import terminal_progress
from fangpin.screening.engines import DUCKDB, ENGINES, PYSPARK
from fangpin.screening.services import ScreeningError, screening_run

ERR_MASTER_WITHOUT_SPARK = "--master needs --engine pyspark (--master 仅用于 Spark 引擎)"


class Command(BaseCommand):
    # a batch job run by the county's scheduler: Django's system checks are `fangpin check`'s job
    requires_system_checks: list[str] = []
    help = (
        "Screen the lake's roster and feeds against the registry and the policy; "
        "record the new warnings. 部门数据筛查预警"
    )

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, help="the year to screen")
        parser.add_argument(
            "--due",
            action="store_true",
            help="screen every county-year with feed batches newer than its last screening",
        )
        parser.add_argument("--county", default="", help="one county code (default: every county)")
        parser.add_argument(
            "--as-user", dest="as_user", default="", help="username to run as (signs the audit row)"
        )
        parser.add_argument(
            "--engine",
            choices=ENGINES,
            default=DUCKDB,
            help="where the screening expression runs: in-process DuckDB (default) or Spark "
            "(a local session, a cluster with --master, Spark Connect with SPARK_REMOTE)",
        )
        parser.add_argument(
            "--master",
            default="",
            help="Spark master URL for --engine pyspark (spark://host:7077, yarn, sc://host:15002); "
            "default: local[2], or SPARK_REMOTE",
        )

    def handle(self, *args, **o):
        if o["due"]:
            return self._due(o)
        if o["year"] is None:
            raise CommandError("give --year YYYY, or --due (请指定 --year 或 --due)")
        actor = None
        if o["as_user"]:
            actor = User.objects.filter(username=o["as_user"]).first()
            if actor is None:
                raise CommandError(f"no such user {o['as_user']!r} (用户不存在)")
        if o["master"] and o["engine"] != PYSPARK:
            raise CommandError(ERR_MASTER_WITHOUT_SPARK)
        self.stdout.write(
            f"screening {o['year']} {o['county'] or 'all counties'} on {o['engine']} (筛查中)…"
        )
        try:
            with terminal_progress(self.stdout) as progress:
                run = screening_run(
                    year=o["year"],
                    county_code=o["county"],
                    actor=actor,
                    engine=o["engine"],
                    master=o["master"],
                    progress=progress,
                )
        except ScreeningError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{run.warnings_found:,} households × circumstances warned (预警), "
            f"{run.warnings_added:,} new (新增), {run.households_added:,} households added to the "
            f"registry as ordinary (新纳入一般农户) in {run.seconds:.1f}s; "
            f"{run.warnings_excluded:,} of the warnings excluded by data comparison (信息比对排除)"
            + (
                f", {run.warnings_reopened:,} excluded warnings no longer excluded, open again "
                "(复核未再比中，恢复待核查)"
                if run.warnings_reopened
                else ""
            )
        )
        if run.unplaced:
            self.stderr.write(
                f"{run.unplaced:,} warnings not recorded: their households' villages are not in "
                "the region tree; add the villages, then screen again (村代码不在区划中，预警未记录)"
            )

    def _due(self, o) -> None:
        """Run each due county-year as a job, here and now (a worker would run it too)."""
        from fangpin.jobs.models import JobState
        from fangpin.jobs.services import job_run
        from fangpin.screening.jobs import screening_due, screening_submit

        due = screening_due()
        if not due:
            self.stdout.write("nothing due: every screening is newer than its feeds (无待筛查)")
            return
        failed = 0
        for item in due:
            job = screening_submit(year=item.year, county_code=item.county_code, actor=None)
            self.stdout.write(f"{job.label} …")
            job_run(job.pk)
            job.refresh_from_db()
            if job.state == JobState.SUCCEEDED:
                self.stdout.write(job.result.get("summary", ""))
            elif job.state == JobState.FAILED:
                failed += 1
                self.stderr.write(job.error)
        if failed:
            raise CommandError(f"{failed} of {len(due)} screenings failed")
