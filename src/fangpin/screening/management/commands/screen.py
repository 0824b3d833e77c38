"""``fangpin screen --year YYYY [--county CODE]`` — department screening and early warning (筛查预警)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from fangpin.accounts.models import User
from fangpin.screening.services import ScreeningError, screening_run


class Command(BaseCommand):
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

    def handle(self, *args, **o):
        actor = None
        if o["as_user"]:
            actor = User.objects.filter(username=o["as_user"]).first()
            if actor is None:
                raise CommandError(f"no such user {o['as_user']!r} (用户不存在)")
        self.stdout.write(f"screening {o['year']} {o['county'] or 'all counties'} (筛查中)…")
        try:
            run = screening_run(year=o["year"], county_code=o["county"], actor=actor)
        except ScreeningError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{run.warnings_found:,} households × circumstances warned (预警), "
            f"{run.warnings_added:,} new (新增), {run.households_added:,} households added to the "
            f"registry as ordinary (新纳入一般农户) in {run.seconds:.1f}s"
        )
