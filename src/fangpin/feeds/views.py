"""The data-quality page (数据质量): every feed batch offered, accepted or refused, with its
rejected-row report (XLSX: row, column, value, reason)."""

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

PAGE_SIZE = 50


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "feeds.view")
    kind = request.GET.get("kind", "")
    qs = FeedBatch.objects.defer("report_xlsx").select_related("imported_by")
    if kind in SCHEMAS:
        qs = qs.filter(kind=kind)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "feeds/index.html",
        {"page": page, "kind": kind, "schemas": SCHEMAS.values()},
    )


@login_required
@require_GET
def report(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require(request.user, "feeds.view")
    batch = FeedBatch.objects.filter(pk=pk).first()
    if batch is None or not batch.report_xlsx:
        raise Http404("no report for this batch")
    audit_record(actor=request.user, action="feeds.report.downloaded", obj=batch)
    response = HttpResponse(
        bytes(batch.report_xlsx),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="feed-{batch.pk}-report.xlsx"'
    return response
