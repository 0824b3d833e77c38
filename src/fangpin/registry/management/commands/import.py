"""``fangpin import registry PATH`` — load managed households from .xlsx or .csv.

Later issues add more kinds (``fangpin import feed KIND PATH``); each kind is a
sub-command here.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from fangpin.accounts.models import User


class Command(BaseCommand):
    help = "Import data files. 导入数据: fangpin import registry PATH | fangpin import contributions PATH"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
        reg = sub.add_parser(
            "registry", help="managed households, one row per member (.xlsx or .csv)"
        )
        reg.add_argument("path", help="the file to import")
        reg.add_argument(
            "--as-user",
            dest="as_user",
            default="",
            help="username to import as (limits villages to that user's region; signs the audit rows)",
        )
        con = sub.add_parser(
            "contributions", help="money raised for the county relief fund (.xlsx or .csv)"
        )
        con.add_argument("path", help="the file to import")
        con.add_argument(
            "--as-user",
            dest="as_user",
            default="",
            help="username to import as (limits counties to that user's region; signs the audit rows)",
        )

        cad = sub.add_parser("cadres", help="pairing cadres, one row per cadre (.xlsx or .csv)")
        cad.add_argument("path", help="the file to import")
        cad.add_argument(
            "--as-user",
            dest="as_user",
            default="",
            help="username to import as (limits regions to that user's region; signs the audit rows)",
        )

        fee = sub.add_parser(
            "feed", help="a department feed into the lake (.xlsx, .csv or .parquet) 部门数据入湖"
        )
        fee.add_argument("feed_kind", metavar="FEED", help="roster, medical, education, …")
        fee.add_argument("path", help="the file to import")
        fee.add_argument(
            "--max-rejected",
            dest="max_rejected",
            default="0.01",
            help="refuse the batch when more than this share of rows is rejected (default 0.01)",
        )
        fee.add_argument("--report", default="", help="write the data-quality report (XLSX) here")
        fee.add_argument(
            "--as-user",
            dest="as_user",
            default="",
            help="username to import as (signs the audit rows)",
        )

    def handle(self, *args, **options):
        if options["kind"] == "feed":
            from fangpin.feeds.management.feed_command import import_feed

            return import_feed(self, options)
        if options["kind"] == "registry":
            return self.import_registry(options["path"], options["as_user"])
        if options["kind"] == "contributions":
            return self.import_contributions(options["path"], options["as_user"])
        if options["kind"] == "cadres":
            return self.import_cadres(options["path"], options["as_user"])
        raise CommandError(f"unknown kind {options['kind']!r}")

    def import_registry(self, path: str, as_user: str) -> None:
        from fangpin.registry.importer import registry_import

        actor = None
        if as_user:
            actor = User.objects.select_related("region").filter(username=as_user).first()
            if actor is None:
                raise CommandError(f"no such user {as_user!r} (用户不存在)")
        started = time.perf_counter()
        result = registry_import(path=path, actor=actor, progress=self.stdout.write)
        if not result.ok:
            for line in result.error_lines():
                self.stderr.write(line)
            raise CommandError(
                f"{len(result.problems)} problem(s) found; nothing was imported (发现错误，未导入任何数据)"
            )
        self.stdout.write(result.summary())
        self.stdout.write(f"done in {time.perf_counter() - started:.1f}s")

    def import_contributions(self, path: str, as_user: str) -> None:
        from fangpin.funds.importer import contributions_import

        actor = None
        if as_user:
            actor = User.objects.select_related("region").filter(username=as_user).first()
            if actor is None:
                raise CommandError(f"no such user {as_user!r} (用户不存在)")
        result = contributions_import(path=path, actor=actor)
        if not result.ok:
            for line in result.error_lines():
                self.stderr.write(line)
            raise CommandError(
                f"{len(result.problems)} problem(s) found; nothing was imported (发现错误，未导入任何数据)"
            )
        self.stdout.write(result.summary())

    def import_cadres(self, path: str, as_user: str) -> None:
        from fangpin.pairing.importer import cadre_import

        actor = None
        if as_user:
            actor = User.objects.select_related("region").filter(username=as_user).first()
            if actor is None:
                raise CommandError(f"no such user {as_user!r} (用户不存在)")
        result = cadre_import(path=path, actor=actor, progress=self.stdout.write)
        if not result.ok:
            for line in result.error_lines():
                self.stderr.write(line)
            raise CommandError(
                f"{len(result.problems)} problem(s) found; nothing was imported (发现错误，未导入任何数据)"
            )
        self.stdout.write(result.summary())
