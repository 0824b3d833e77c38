"""Which jobs a user sees: the ones they started, and — for the roles of ``jobs.view`` —
every job of their region (a job carries the region its work is for)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from fangpin.accounts import permissions

from .models import Job


def jobs_visible(user: Any) -> QuerySet[Job]:
    mine = Q(started_by_id=getattr(user, "pk", None))
    if permissions.can(user, "jobs.view"):
        prefix = permissions.scope_path(user)
        return Job.objects.filter(mine | Q(region_path__startswith=prefix))
    if getattr(user, "pk", None) is None:
        return Job.objects.none()
    return Job.objects.filter(mine)


def job_get(*, user: Any, pk: int) -> Job | None:
    return jobs_visible(user).select_related("started_by").filter(pk=pk).first()


def may_retry(user: Any, job: Job) -> bool:
    return job.state == "failed" and (
        job.started_by_id == getattr(user, "pk", None) or permissions.can(user, "jobs.retry")
    )
