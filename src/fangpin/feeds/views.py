"""The data-quality page (数据质量): every feed batch offered, accepted or refused, with its
rejected-row report (XLSX: row, column, value, reason).

The list names files and counts, nobody: the roles of ``feeds.view`` see every batch.
A report names people, so only the roles that own feeds (``feeds.import``) download
it, cut to their region with ID numbers masked unless they see the whole city
(``selectors.batch_report``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from fangpin.accounts import permissions
from fangpin.common.audit import audit_record

from .models import FeedBatch
from .schemas import SCHEMAS
from .selectors import batch_report

PAGE_SIZE = 50
ERR_NO_REPORT = "no report of this batch for your region (本批次没有您辖区的数据质量报告)"


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "feeds.view")
    kind = request.GET.get("kind", "")
    qs = FeedBatch.objects.defer("report_xlsx", "problems").select_related("imported_by")
    if kind in SCHEMAS:
        qs = qs.filter(kind=kind)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "feeds/index.html",
        {
            "page": page,
            "kind": kind,
            "schemas": SCHEMAS.values(),
            "may_download": permissions.can(request.user, "feeds.import"),
        },
    )


@login_required
@require_GET
def report(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require(request.user, "feeds.import")  # the roles that own feeds
    batch = FeedBatch.objects.filter(pk=pk).first()
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
