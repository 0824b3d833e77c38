"""Large exports as background jobs (导出任务): a workbook too big to build while the page
waits is built by the worker, kept under the data directory, and downloaded from the
job's page by the user who asked for it (audited).

An app offers an export with ``exporter_register(name, "module:function")`` in its
``AppConfig.ready``; the function is ``build(*, actor, progress, **params) -> (filename,
bytes)`` and applies the actor's region scope itself, as the page's own export does.
``export_submit`` queues it (the job kind ``jobs.export``).
"""

from __future__ import annotations

import uuid
from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from .models import Job
from .services import job_submit

JOB_KIND = "jobs.export"
EXPORTERS: dict[str, str] = {}


def exporter_register(name: str, target: str) -> None:
    EXPORTERS[name] = target


def exports_dir() -> Path:
    return settings.DATA_DIR / "exports"


def export_submit(
    *, exporter: str, params: dict[str, Any], actor: Any, label: str, region_path: str = ""
) -> Job:
    job, _created = job_submit(
        kind=JOB_KIND,
        label=label,
        params={"exporter": exporter, "params": params},
        actor=actor,
        region_path=region_path,
    )
    return job


def export_job(*, progress: Any, actor: Any, exporter: str, params: dict[str, Any]) -> dict:
    """The ``jobs.export`` job: build the file, keep it, name it in the result."""
    module, function = EXPORTERS[exporter].split(":")
    build = getattr(import_module(module), function)
    filename, content = build(actor=actor, progress=progress, **params)
    folder = exports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{uuid.uuid4().hex}{Path(filename).suffix}"
    (folder / stored).write_bytes(content)
    return {
        "file": stored,
        "filename": filename,
        "bytes": len(content),
        "summary": _("%(name)s is ready (%(size)s KB).")
        % {"name": filename, "size": f"{(len(content) + 1023) // 1024:,}"},
    }


def export_file(job: Job) -> tuple[Path, str] | None:
    """The kept file of a finished export job and its download name, if it is still there."""
    stored = (job.result or {}).get("file", "")
    if job.kind != JOB_KIND or not stored or "/" in stored or stored.startswith("."):
        return None
    path = exports_dir() / stored
    return (path, job.result.get("filename", stored)) if path.is_file() else None
