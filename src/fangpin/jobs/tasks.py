"""The one django-tasks task: run a ``Job`` (``services.job_run``)."""

from __future__ import annotations

from django_tasks import task

from . import services


@task()
def run_job(job_id: int) -> None:
    services.job_run(job_id)
