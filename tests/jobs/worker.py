"""Run the queued jobs in this process, as ``fangpin worker --batch`` does.

The worker closes the database connection between jobs, as a long-running process should;
inside a test, that connection holds the test's transaction (on PostgreSQL closing it would
end the test), so here the worker keeps it. Everything else is the real worker.
"""

from __future__ import annotations

from unittest import mock

from django_tasks_db.management.commands.db_worker import Worker


def make_worker(*, batch: bool = True, interval: float = 0) -> Worker:
    """django-tasks' database worker over every queue (``batch``: stop when none is left)."""
    return Worker(
        queue_names=["*"],
        interval=interval,
        batch=batch,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )


def run_queued() -> None:
    worker = make_worker()
    with mock.patch(
        "django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None
    ):
        worker.run()
