"""A job's page (任务进度): its state and progress bar, polled with htmx while it runs, its
result (a link to what it made) or its error, and a button to run a failed job again."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fangpin.common.audit import audit_record

from . import selectors, services
from .exports import export_file

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
@require_GET
def download(request: HttpRequest, pk: int) -> FileResponse:
    """The file an export job made — for the user who asked for it only (it holds their
    region's personal data as they may see it); audited."""
    job = _job(request, pk)
    found = export_file(job) if job.started_by_id == request.user.pk else None
    if found is None:
        raise Http404(_("No file of this job for you."))
    path, filename = found
    audit_record(
        actor=request.user,
        action="jobs.export.downloaded",
        obj=job,
        region_path=job.region_path,
        data={"filename": filename},
    )
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename)


@login_required
@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if not selectors.may_retry(request.user, job):
        raise Http404(_("No such job in your region."))
    services.job_retry(job=job, actor=request.user)
    return redirect("jobs:detail", pk=job.pk)
