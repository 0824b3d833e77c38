"""Feeds API, mounted at ``/api/v1/feeds``: a department sends a batch of a feed — a file
(multipart) or JSON rows — and gets ``202 Accepted`` with the job that imports it
(``GET /api/v1/jobs/{id}``). An ``Idempotency-Key`` header makes a retry safe: the same
key from the same caller answers the same job and sends nothing twice."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import File, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from fangpin.common.api import answers
from fangpin.jobs.api import JobOut, job_out

from . import schemas as s
from .submit import feed_submit_file, feed_submit_rows

router = Router(tags=["feeds"])

ERR_KIND = "unknown feed kind; one of: " + ", ".join(s.KINDS)
MAX_KEY = 128


class RowsIn(Schema):
    """Rows of one feed, each a mapping of the feed's field names to values as text."""

    rows: list[dict[str, Any]]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "rows": [
                        {
                            "id_number": "130434198001010015",
                            "settlement_no": "JS2026100201",
                            "hospital": "魏县人民医院",
                            "admitted": "2026-10-02",
                            "discharged": "2026-10-12",
                            "total_cost": "36500.00",
                            "basic_insurance": "18000.00",
                            "serious_illness": "6000.00",
                            "medical_assistance": "2500.00",
                            "self_paid": "10000.00",
                        }
                    ]
                }
            ]
        }
    }


def _key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_KEY:
        raise HttpError(400, f"Idempotency-Key longer than {MAX_KEY} characters")
    return key or None


def _kind(kind: str) -> str:
    if kind not in s.SCHEMAS:
        raise HttpError(404, ERR_KIND)
    return kind


def _accepted(job, created: bool):
    return Status(202 if created else 200, job_out(job))


@router.post(
    "/{kind}/batches",
    response=answers({202: JobOut, 200: JobOut}, 404),
    summary="Send a feed file",
)
def feed_batch_file(request: HttpRequest, kind: str, file: File[UploadedFile]):
    """Send a file (.xlsx, .csv or .parquet, with the feed's Chinese or English headers) of
    the feed ``kind``. 202 with the job that validates and imports it; 200 with the same job
    when the ``Idempotency-Key`` was seen before. A department data officer may send only
    their department's kinds; rows of another region are rejected in the report."""
    job, created = feed_submit_file(
        user=request.user, kind=_kind(kind), upload=file, idempotency_key=_key(request)
    )
    return _accepted(job, created)


@router.post(
    "/{kind}/rows",
    response=answers({202: JobOut, 200: JobOut}, 404),
    summary="Send feed rows as JSON",
)
def feed_batch_rows(request: HttpRequest, kind: str, body: RowsIn):
    """Send rows of the feed ``kind`` as JSON (at most 50,000 per request), checked and
    imported as a file would be. 202 with the job; 200 with the same job for a repeated
    ``Idempotency-Key``."""
    job, created = feed_submit_rows(
        user=request.user, kind=_kind(kind), rows=body.rows, idempotency_key=_key(request)
    )
    return _accepted(job, created)
