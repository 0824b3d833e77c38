"""``fangpin import feed KIND PATH`` (the ``feed`` sub-command of ``fangpin import``)."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fangpin.common.progress import terminal_progress


def feed_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("feed_kind", metavar="FEED", help="roster, medical, education, …")
    parser.add_argument("path", help="the file to import")
    parser.add_argument(
        "--max-rejected",
        dest="max_rejected",
        default="0.01",
        help="refuse the batch when more than this share of rows is rejected (default 0.01)",
    )
    parser.add_argument("--report", default="", help="write the data-quality report (XLSX) here")


def import_feed(command: BaseCommand, options: dict, actor: object = None) -> None:
    from fangpin.feeds.services import FeedError, feed_import

    try:
        limit = Decimal(options.get("max_rejected") or "0.01")
    except InvalidOperation:
        raise CommandError("--max-rejected must be a share such as 0.01") from None
    started = time.perf_counter()
    try:
        with terminal_progress(command.stdout) as progress:
            result = feed_import(
                kind=options["feed_kind"],
                path=options["path"],
                actor=actor,
                max_rejected_share=limit,
                progress=progress,
            )
    except FeedError as exc:
        raise CommandError(str(exc)) from None
    for problem in result.problems[:20]:
        command.stderr.write(problem.format(options["path"]))
    if len(result.problems) > 20:
        command.stderr.write(f"… and {len(result.problems) - 20:,} more (见数据质量报告)")
    if options.get("report") and result.batch.report_xlsx:
        Path(options["report"]).write_bytes(bytes(result.batch.report_xlsx))
        command.stdout.write(f"data-quality report written to {options['report']}")
    if not result.ok and not result.duplicate:
        raise CommandError(result.summary())
    command.stdout.write(result.summary())
    command.stdout.write(f"done in {time.perf_counter() - started:.1f}s")
