"""Jobs API, mounted at ``/api/v1/jobs``: a job's state, progress and result — what a
``202 Accepted`` of a long operation (a feed push) points to."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from fangpin.common.api import NOT_FOUND, answers

from . import selectors, services
from .models import Job

router = Router(tags=["jobs"])


class JobOut(Schema):
    id: int
    kind: str
    label: str
    state: str
    done: int
    total: int
    percent: int | None
    step: str
    result: dict[str, Any]
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    url: str  # this job in the API

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": 12,
                    "kind": "feeds.import",
                    "label": "住院结算 medical-2026-11.xlsx",
                    "state": "succeeded",
                    "done": 3,
                    "total": 3,
                    "percent": 100,
                    "step": "已入库",
                    "result": {"batch": 7, "url": "/feeds/7/", "rows_accepted": 1840},
                    "error": "",
                    "created_at": "2026-12-04T09:30:00+08:00",
                    "started_at": "2026-12-04T09:30:01+08:00",
                    "finished_at": "2026-12-04T09:30:04+08:00",
                    "url": "/api/v1/jobs/12",
                }
            ]
        }
    }


def job_out(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "label": job.label,
        "state": job.state,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "step": job.step,
        "result": job.result,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "url": f"/api/v1/jobs/{job.pk}",
    }


@router.get("/{job_id}", response=answers(JobOut, NOT_FOUND), summary="A background job")
def job_detail(request: HttpRequest, job_id: int):
    """The job's state (queued, running, succeeded, failed), progress and result. Only the
    caller's own jobs, and for a city or county officer the jobs of their region."""
    services.jobs_reap()
    job = selectors.job_get(user=request.user, pk=job_id)
    if job is None:
        raise HttpError(404, "no such job in your region")
    return job_out(job)
