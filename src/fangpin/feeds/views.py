"""The data-quality page (数据质量): every feed batch offered, accepted or refused, with its
rejected-row report (XLSX: row, column, value, reason); the form that sends a file (its
import runs as a background job, ``submit.py``); one batch's page.

A department data officer sees and sends only their department's kinds.

The list names files and counts, nobody: the roles of ``feeds.view`` see every batch.
A report names people, so only the roles that own feeds (``feeds.import``) download
it, cut to their region with ID numbers masked unless they see the whole city
(``selectors.batch_report``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from fangpin.accounts import permissions
from fangpin.common.audit import audit_record

from .models import FeedBatch
from .schemas import SCHEMAS
from .selectors import batch_report
from .submit import FeedSubmitError, feed_submit_file, kinds_for, kinds_visible

PAGE_SIZE = 50
ERR_NO_BATCH = "no such batch (无此批次)"
ERR_NO_REPORT = "no report of this batch for your region (本批次没有您辖区的数据质量报告)"


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "feeds.view")
    return _index(request)


def _index(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    kind = request.GET.get("kind", "")
    visible = kinds_visible(request.user)
    qs = FeedBatch.objects.defer("report_xlsx", "problems").select_related("imported_by")
    qs = qs.filter(kind__in=visible)
    if kind in SCHEMAS:
        qs = qs.filter(kind=kind)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    sendable = kinds_for(request.user)
    return render(
        request,
        "feeds/index.html",
        {
            "page": page,
            "kind": kind,
            "schemas": [SCHEMAS[k] for k in visible],
            "sendable": [SCHEMAS[k] for k in sendable],
            "error": error,
            "may_download": permissions.can(request.user, "feeds.import"),
        },
        status=status,
    )


@login_required
@require_http_methods(["POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """Send a feed file: its import is queued as a job, whose page shows the progress."""
    try:
        job, _created = feed_submit_file(
            user=request.user,
            kind=request.POST.get("kind", ""),
            upload=request.FILES.get("file"),
        )
    except FeedSubmitError as error:
        return _index(request, error=error.message, status=400)
    return redirect("jobs:detail", pk=job.pk)


def _batch(request: HttpRequest, pk: int) -> FeedBatch:
    batch = FeedBatch.objects.defer("report_xlsx", "problems").filter(pk=pk).first()
    if batch is None or batch.kind not in kinds_visible(request.user):
        raise Http404(ERR_NO_BATCH)
    return batch


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require(request.user, "feeds.view")
    batch = _batch(request, pk)
    return render(
        request,
        "feeds/detail.html",
        {
            "batch": batch,
            "schema": SCHEMAS[batch.kind],
            "may_download": permissions.can(request.user, "feeds.import"),
        },
    )


@login_required
@require_GET
def report(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require(request.user, "feeds.import")  # the roles that own feeds
    batch = FeedBatch.objects.filter(pk=pk, kind__in=kinds_visible(request.user)).first()
    scoped = batch_report(batch=batch, user=request.user) if batch is not None else None
    if scoped is None:
        raise Http404(ERR_NO_REPORT)
    audit_record(
        actor=request.user,
        action="feeds.report.downloaded",
        obj=batch,
        data={
            "rows": scoped.rows,
            "rows_outside": scoped.rows_outside,
            "rows_unplaced": scoped.rows_unplaced,
            "masked": scoped.masked,
        },
    )
    response = HttpResponse(
        scoped.xlsx,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="feed-{batch.pk}-report.xlsx"'
    return response
