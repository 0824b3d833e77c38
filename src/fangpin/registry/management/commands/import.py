"""``fangpin import KIND PATH`` — load a file of one kind: registry, contributions, cadres, feed.

Every file import works the same way: the whole file is checked, every problem
is printed as ``PATH:ROW:COLUMN: message`` and nothing is written, or the
changes are written and counted. ``--as-user`` limits the regions the file may
name to that user's and signs the audit rows.
"""

from __future__ import annotations

import time
from importlib import import_module

from django.core.management.base import BaseCommand, CommandError

from fangpin.accounts.models import User

# kind -> (importer "module:function", help, whether it reports progress)
FILE_IMPORTS = {
    "registry": (
        "fangpin.registry.importer:registry_import",
        "managed households, one row per member (.xlsx or .csv)",
        True,
    ),
    "contributions": (
        "fangpin.funds.importer:contributions_import",
        "money raised for the county relief fund (.xlsx or .csv)",
        False,
    ),
    "cadres": (
        "fangpin.pairing.importer:cadre_import",
        "pairing cadres, one row per cadre (.xlsx or .csv)",
        True,
    ),
}
AS_USER_HELP = "username to import as (limits regions to that user's region; signs the audit rows)"


def user_by_name(username: str) -> User | None:
    """The ``--as-user`` actor, or None when not given; an unknown name is an error."""
    if not username:
        return None
    actor = User.objects.select_related("region").filter(username=username).first()
    if actor is None:
        raise CommandError(f"no such user {username!r} (用户不存在)")
    return actor


class Command(BaseCommand):
    help = "Import data files. 导入数据: fangpin import registry|contributions|cadres|feed …"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
        for kind, (_, help_text, _) in FILE_IMPORTS.items():
            p = sub.add_parser(kind, help=help_text)
            p.add_argument("path", help="the file to import")
            p.add_argument("--as-user", dest="as_user", default="", help=AS_USER_HELP)

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
        fee.add_argument("--as-user", dest="as_user", default="", help=AS_USER_HELP)

    def handle(self, *args, **options):
        kind = options["kind"]
        if kind == "feed":
            from fangpin.feeds.management.feed_command import import_feed

            return import_feed(self, options, actor=user_by_name(options["as_user"]))
        if kind not in FILE_IMPORTS:
            raise CommandError(f"unknown kind {kind!r}")
        target, _, reports_progress = FILE_IMPORTS[kind]
        module, function = target.split(":")
        run = getattr(import_module(module), function)
        kwargs = {"progress": self.stdout.write} if reports_progress else {}
        started = time.perf_counter()
        result = run(path=options["path"], actor=user_by_name(options["as_user"]), **kwargs)
        if not result.ok:
            for line in result.error_lines():
                self.stderr.write(line)
            raise CommandError(
                f"{len(result.problems)} problem(s) found; nothing was imported "
                "(发现错误，未导入任何数据)"
            )
        self.stdout.write(result.summary())
        self.stdout.write(f"done in {time.perf_counter() - started:.1f}s")
