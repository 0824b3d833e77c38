"""Run the queued jobs in this process, as ``fangpin worker --batch`` does."""

from __future__ import annotations

from django_tasks_db.management.commands.db_worker import Worker


def run_queued() -> None:
    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    ).run()
