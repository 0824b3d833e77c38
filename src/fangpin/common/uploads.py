"""Web uploads of import files: size check, a temporary file, the import, the problem report.

Every import page (registry, cadres, …) works the same way: the file is checked
whole by its importer; when it is refused, the problems are kept in this user's
session as an XLSX a county office can open in Excel, downloadable once the
page has shown them.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .tabular import ImportOutcome, problems_to_xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def import_upload(
    request: HttpRequest, *, run: Callable[..., ImportOutcome], report_key: str, field: str = "file"
) -> tuple[ImportOutcome | None, str]:
    """Run ``run(path=…, display_path=…)`` on the uploaded file; (result, form error)."""
    upload = request.FILES.get(field)
    if upload is None:
        return None, _("choose a file (请选择文件)")
    if upload.size > settings.FANGPIN_IMPORT_MAX_BYTES:
        return None, _("file too large (文件过大): %(n)s bytes") % {"n": f"{upload.size:,}"}
    suffix = Path(upload.name).suffix.lower()
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=settings.DATA_DIR) as tmp:
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.flush()
        result = run(path=tmp.name, display_path=upload.name)
    if not result.ok:  # kept for download, in this user's session only
        xlsx = problems_to_xlsx(result.problems, source=upload.name)
        request.session[report_key] = {"name": upload.name, "xlsx": base64.b64encode(xlsx).decode()}
    return result, ""


def import_page(
    request: HttpRequest,
    *,
    template: str,
    context: dict[str, Any],
    run: Callable[..., ImportOutcome],
    report_key: str,
) -> HttpResponse:
    """An import page: the form, and on POST the upload run as this user (``run(actor=,
    path=, display_path=)``); a refused file lists its problems with HTTP 400."""
    if request.method == "POST":
        context["result"], context["form_error"] = import_upload(
            request, run=lambda **kw: run(actor=request.user, **kw), report_key=report_key
        )
    refused = context.get("result") is not None and not context["result"].ok
    return render(request, template, context, status=400 if refused else 200)


def import_report_download(request: HttpRequest, *, report_key: str) -> HttpResponse:
    """The last refused import's problems as XLSX (数据问题报告)."""
    report = request.session.get(report_key)
    if not report:
        raise Http404("no import report in this session")
    response = HttpResponse(base64.b64decode(report["xlsx"]), content_type=XLSX_TYPE)
    stem = Path(report["name"]).stem
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(stem)}-problems.xlsx"
    return response
