"""Sending a feed from the web or the API (数据报送): the file is kept under the data
directory, and its import runs as a background job (``feeds.import``) — validated as
``fangpin import feed`` validates it, ending with the data-quality report and, when
accepted, the batch in the lake.

Who may send which kind: a city administrator and a county officer any kind; a
department data officer (部门数据员) only the kinds of their department
(``schemas.SENT_BY``). Everyone sends for their own region: rows placed in another
region are rejected (``services.feed_import(region_path=…)``).
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangpin.accounts import permissions
from fangpin.accounts.models import Role
from fangpin.common.errors import DomainError
from fangpin.jobs.models import Job
from fangpin.jobs.services import job_submit

from . import schemas as s

JOB_KIND = "feeds.import"

ERR_KIND = gettext_lazy("unknown feed kind")
ERR_NOT_YOURS = gettext_lazy("your department does not send this feed")
ERR_NO_FILE = gettext_lazy("choose a file")
ERR_TOO_BIG = gettext_lazy("the file is %(size)s bytes, more than the limit of %(limit)s")
ERR_SUFFIX = gettext_lazy("use an .xlsx, .csv or .parquet file")
ERR_NO_ROWS = gettext_lazy("send at least one row")
ERR_ROW_FIELDS = gettext_lazy("row %(row)s: unknown field(s) %(fields)s")
ERR_TOO_MANY_ROWS = gettext_lazy("at most %(limit)s rows in one request; send a file instead")

MAX_JSON_ROWS = 50_000
SUFFIXES = (".xlsx", ".csv", ".parquet")  # what `fangpin import feed` reads


class FeedSubmitError(DomainError):
    """A feed not accepted for import (not the sender's kind, no file, too big)."""


def kinds_for(user: Any) -> tuple[str, ...]:
    """The feed kinds ``user`` may send (none without ``feeds.import``)."""
    if not permissions.can(user, "feeds.import"):
        return ()
    if getattr(user, "is_superuser", False) or user.role != Role.DEPARTMENT_OFFICER:
        return s.KINDS
    return s.kinds_sent_by(user.department)


def kinds_visible(user: Any) -> tuple[str, ...]:
    """The feed kinds whose batches ``user`` sees: a department officer their own."""
    if getattr(user, "role", "") == Role.DEPARTMENT_OFFICER and not user.is_superuser:
        return s.kinds_sent_by(user.department)
    return s.KINDS


def _check_kind(user: Any, kind: str) -> s.FeedSchema:
    permissions.require(user, "feeds.import")
    schema = s.SCHEMAS.get(kind)
    if schema is None:
        raise FeedSubmitError(str(ERR_KIND), field="kind")
    if kind not in kinds_for(user):
        raise FeedSubmitError(str(ERR_NOT_YOURS), field="kind")
    return schema


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^\w.\-]+", "_", Path(name).name)[:120]
    return stem or "upload"


def _folder() -> Path:
    folder = settings.DATA_DIR / "uploads" / "feeds" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def feed_submit_file(
    *, user: Any, kind: str, upload: Any, idempotency_key: str | None = None
) -> tuple[Job, bool]:
    """Keep the uploaded file (a Django ``UploadedFile``) and queue its import."""
    schema = _check_kind(user, kind)
    if upload is None:
        raise FeedSubmitError(str(ERR_NO_FILE), field="file")
    limit = settings.FANGPIN_IMPORT_MAX_BYTES
    if upload.size > limit:
        message = ERR_TOO_BIG % {"size": f"{upload.size:,}", "limit": f"{limit:,}"}
        raise FeedSubmitError(message, field="file")
    if Path(upload.name).suffix.lower() not in SUFFIXES:
        raise FeedSubmitError(str(ERR_SUFFIX), field="file")
    folder = _folder()
    path = folder / _safe_name(upload.name)
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return _queue(user, schema, path, upload.name, idempotency_key)


def feed_submit_rows(
    *, user: Any, kind: str, rows: list[dict[str, Any]], idempotency_key: str | None = None
) -> tuple[Job, bool]:
    """Write JSON rows (field names as keys, values as text) as a CSV and queue its import."""
    schema = _check_kind(user, kind)
    if not rows:
        raise FeedSubmitError(str(ERR_NO_ROWS), field="rows")
    if len(rows) > MAX_JSON_ROWS:
        message = ERR_TOO_MANY_ROWS % {"limit": f"{MAX_JSON_ROWS:,}"}
        raise FeedSubmitError(message, field="rows")
    fields = [c.field for c in schema.columns]
    known = set(fields)
    for number, row in enumerate(rows, start=1):
        unknown = set(row) - known
        if unknown:
            message = ERR_ROW_FIELDS % {"row": number, "fields": ", ".join(sorted(unknown))}
            raise FeedSubmitError(message, field="rows")
    frame = pl.DataFrame(
        {f: [None if r.get(f) is None else str(r[f]) for r in rows] for f in fields},
        schema=dict.fromkeys(fields, pl.String),
    )
    folder = _folder()
    path = folder / f"{kind}-rows.csv"
    frame.write_csv(path)
    return _queue(user, schema, path, f"{kind}-rows.csv (API)", idempotency_key)


def _queue(
    user: Any, schema: s.FeedSchema, path: Path, name: str, idempotency_key: str | None
) -> tuple[Job, bool]:
    job, created = job_submit(
        kind=JOB_KIND,
        label=f"{schema.title_zh} · {name}"[:200],
        params={
            "kind": schema.kind,
            "path": str(path),
            "display_name": name[:255],
            "region_path": permissions.scope_path(user) or "",
        },
        actor=user,
        region_path=permissions.scope_path(user) or "",
        idempotency_key=idempotency_key,
    )
    if not created:  # a retry of a request already taken: its file is the one kept
        shutil.rmtree(path.parent, ignore_errors=True)
    return job, created


def feed_import_job(
    *, progress: Any, actor: Any, kind: str, path: str, display_name: str, region_path: str
) -> dict[str, Any]:
    """The ``feeds.import`` job: import the kept file; the upload is removed once the import
    has run (a failure keeps it, for the retry)."""
    from .services import STAGES, feed_import

    result = feed_import(
        kind=kind,
        path=path,
        actor=actor,
        display_name=display_name,
        region_path=region_path,
        progress=progress,
    )
    batch = result.batch
    progress(_("Done"), STAGES, STAGES)
    folder = Path(path).parent
    if folder.parent == settings.DATA_DIR / "uploads" / "feeds":
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "batch": batch.pk,
        "status": batch.status,
        "duplicate": result.duplicate,
        "rows_total": batch.rows_total,
        "rows_accepted": batch.rows_accepted,
        "rows_rejected": batch.rows_rejected,
        "summary": result.summary(),
        "url": reverse("feeds:detail", args=[batch.pk]),
        "link_text": _("The batch and its data-quality report"),
    }
