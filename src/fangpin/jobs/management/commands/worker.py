"""``fangpin worker`` — run background jobs (后台任务) as they are submitted.

django-tasks' database worker, after marking failed the jobs a stopped worker left
running (``jobs_reap``). ``fangpin serve`` starts one alongside the web server unless
``--no-worker``; run more on other machines against the same database if jobs queue up.
"""

from __future__ import annotations

from django_tasks_db.management.commands.db_worker import Command as DatabaseWorker

from fangpin.jobs.services import jobs_reap


class Command(DatabaseWorker):
    help = "Run background jobs (feed imports, screening runs, exports) as they are submitted."

    def handle(self, *args, **options) -> None:
        reaped = jobs_reap()
        if reaped:
            self.stdout.write(f"{reaped} interrupted job(s) marked failed; they can be run again")
        super().handle(*args, **options)
