"""``fangpin screen --year YYYY [--county CODE] [--engine duckdb|pyspark [--master URL]]`` —
department screening and early warning (筛查预警)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from fangpin.accounts.models import User
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
        parser.add_argument("--year", type=int, required=True, help="the year to screen")
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
            run = screening_run(
                year=o["year"],
                county_code=o["county"],
                actor=actor,
                engine=o["engine"],
                master=o["master"],
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
