"""A job's page (任务进度): its state and progress bar, polled with htmx while it runs, its
result (a link to what it made) or its error, and a button to run a failed job again."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services

POLL_SECONDS = 1


def _job(request: HttpRequest, pk: int):
    services.jobs_reap()
    job = selectors.job_get(user=request.user, pk=pk)
    if job is None:
        raise Http404(_("No such job in your region."))
    return job


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    jobs = selectors.jobs_visible(request.user).select_related("started_by")[:50]
    return render(request, "jobs/index.html", {"jobs": jobs})


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    context = {
        "job": job,
        "poll": POLL_SECONDS,
        "may_retry": selectors.may_retry(request.user, job),
    }
    template = "jobs/_progress.html" if request.headers.get("HX-Request") else "jobs/detail.html"
    return render(request, template, context)


@login_required
@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if not selectors.may_retry(request.user, job):
        raise Http404(_("No such job in your region."))
    services.job_retry(job=job, actor=request.user)
    return redirect("jobs:detail", pk=job.pk)
