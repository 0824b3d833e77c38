"""Submitting, running, reaping and retrying background jobs.

``job_submit`` writes the job and its django-tasks queue entry in one transaction;
``fangpin worker`` picks the entry up and calls ``job_run``, which claims the job (a
conditional update, so a job runs once however many workers there are), keeps a
heartbeat while the runner works, and records the result or the error. A worker killed
mid-job stops its heartbeat: ``jobs_reap`` (at every worker's start, and before a job's
page is shown) marks such a job failed, and ``job_retry`` queues it again — the runner's
work is all or nothing, so nothing is left half done in between.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangpin.common.audit import audit_record
from fangpin.common.errors import DomainError

from . import registry
from .models import Job, JobState

log = logging.getLogger(__name__)

ERR_UNKNOWN_KIND = "unknown job kind {kind!r}"
ERR_NOT_RETRYABLE = "only a failed job can be run again"
ERR_INTERNAL = "the job stopped on an internal error; an operator can find it in the worker's log"
ERR_INTERRUPTED = (
    "the job was interrupted (its worker stopped); nothing of it was kept — run it again"
)

HEARTBEAT_SECONDS = 10
PROGRESS_SECONDS = 0.5  # at most two progress writes a second


class JobError(DomainError):
    """A job refused: not retryable, unknown kind."""


def stale_after() -> dt.timedelta:
    """How long a running job may go without a heartbeat before it counts as interrupted."""
    return dt.timedelta(seconds=getattr(settings, "FANGPIN_JOB_STALE_SECONDS", 120))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_submit(
    *,
    kind: str,
    label: str,
    params: dict[str, Any],
    actor: Any,
    region_path: str = "",
    idempotency_key: str | None = None,
    run_after: dt.datetime | None = None,
) -> tuple[Job, bool]:
    """Queue a job of ``kind`` (a registered runner) with ``params``; ``(job, created)``.

    With an ``idempotency_key``, the same key from the same user for the same kind
    returns the job it made the first time (``created`` False) and queues nothing.
    """
    if kind not in registry.RUNNERS:
        raise JobError(ERR_UNKNOWN_KIND.format(kind=kind), field="kind")
    user = actor if getattr(actor, "pk", None) else None
    if idempotency_key:
        found = Job.objects.filter(started_by=user, kind=kind, idempotency_key=idempotency_key)
        if (job := found.first()) is not None:
            return job, False
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                label=label[:200],
                params=params,
                region_path=region_path,
                started_by=user,
                idempotency_key=idempotency_key or "",
            )
            _enqueue(job, run_after=run_after)
            audit_record(
                actor=user,
                action="jobs.job.submitted",
                obj=job,
                region_path=region_path,
                data={"kind": kind, "label": job.label},
            )
    except IntegrityError:
        if not idempotency_key:
            raise
        # the same key submitted at the same moment: the other request's job
        return Job.objects.get(started_by=user, kind=kind, idempotency_key=idempotency_key), False
    return job, True


def job_retry(*, job: Job, actor: Any) -> Job:
    """Queue a failed job again, with the same parameters."""
    jobs_reap()
    job.refresh_from_db()
    if job.state != JobState.FAILED:
        raise JobError(_(ERR_NOT_RETRYABLE), field="state")
    with transaction.atomic():
        updated = Job.objects.filter(pk=job.pk, state=JobState.FAILED).update(
            state=JobState.QUEUED, error="", done=0, total=0, step="", worker="", finished_at=None
        )
        if not updated:
            raise JobError(_(ERR_NOT_RETRYABLE), field="state")
        job.refresh_from_db()
        _enqueue(job)
        audit_record(
            actor=actor,
            action="jobs.job.retried",
            obj=job,
            region_path=job.region_path,
            data={"kind": job.kind, "attempts": job.attempts},
        )
    return job


def _enqueue(job: Job, *, run_after: dt.datetime | None = None) -> None:
    from .tasks import run_job

    task = run_job.using(run_after=run_after) if run_after else run_job
    result = task.enqueue(job.pk)
    Job.objects.filter(pk=job.pk).update(task_id=str(result.id))
    job.task_id = str(result.id)


def job_run(job_id: int) -> None:
    """Run the job ``job_id`` if it is still queued (the worker's side)."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, worker=worker_name(), started_at=now, heartbeat_at=now
    )
    if not claimed:
        return  # run by another worker, or no longer wanted
    job = Job.objects.select_related("started_by").get(pk=job_id)
    Job.objects.filter(pk=job_id).update(attempts=job.attempts + 1)
    beat = _Heartbeat(job_id)
    beat.start()
    try:
        run = registry.runner(job.kind)
        result = run(progress=JobProgress(job_id), actor=job.started_by, **job.params)
    except DomainError as error:
        beat.stop()
        _finish(job_id, JobState.FAILED, error=error.message)
    except (KeyboardInterrupt, SystemExit):
        beat.stop()  # the worker was told to stop mid-job: what the runner did rolled back
        _finish(job_id, JobState.FAILED, error=_(ERR_INTERRUPTED))
        raise
    except BaseException:
        beat.stop()
        log.exception("job %s (%s) failed", job_id, job.kind)
        _finish(job_id, JobState.FAILED, error=_(ERR_INTERNAL))
        raise
    else:
        beat.stop()
        _finish(job_id, JobState.SUCCEEDED, result=result or {})


def _finish(job_id: int, state: str, *, error: str = "", result: dict | None = None) -> None:
    """Record the end of the job this worker ran — also when a reaper, missing its
    heartbeat behind a long transaction, had already marked it interrupted: the work did
    end, and its result is what the user needs."""
    fields: dict[str, Any] = {"state": state, "error": error, "finished_at": timezone.now()}
    if result is not None:
        fields["result"] = result
    with transaction.atomic():
        Job.objects.filter(pk=job_id, worker=worker_name()).exclude(state=JobState.QUEUED).update(
            **fields
        )
        job = Job.objects.get(pk=job_id)
        audit_record(
            actor=None,
            action=f"jobs.job.{state}",
            obj=job,
            region_path=job.region_path,
            data={"kind": job.kind, "error": error} if error else {"kind": job.kind},
        )


def jobs_reap(*, now: dt.datetime | None = None) -> int:
    """Mark failed the running jobs whose worker stopped (no heartbeat for ``stale_after``,
    or a worker process of this machine that no longer exists); the number marked."""
    now = now or timezone.now()
    stale = set(
        Job.objects.filter(
            state=JobState.RUNNING, heartbeat_at__lt=now - stale_after()
        ).values_list("pk", flat=True)
    )
    host = socket.gethostname() + ":"
    for pk, worker in Job.objects.filter(
        state=JobState.RUNNING, worker__startswith=host
    ).values_list("pk", "worker"):
        pid = int(worker.rsplit(":", 1)[1])
        if pid != os.getpid() and not _alive(pid):
            stale.add(pk)
    reaped = 0
    for pk in sorted(stale):
        with transaction.atomic():
            if Job.objects.filter(pk=pk, state=JobState.RUNNING).update(
                state=JobState.FAILED, error=_(ERR_INTERRUPTED), finished_at=now
            ):
                job = Job.objects.get(pk=pk)
                audit_record(
                    actor=None,
                    action="jobs.job.interrupted",
                    obj=job,
                    region_path=job.region_path,
                    data={"kind": job.kind, "worker": job.worker},
                )
                reaped += 1
    return reaped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed, not yet waited for by its parent) is not working either
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


class JobProgress:
    """``progress(step, done=None, total=None)`` for a runner: written to the job's row at
    most twice a second (and whenever the step changes), for its page to poll."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self._last = 0.0
        self._step = ""

    def __call__(self, step: str, done: int | None = None, total: int | None = None) -> None:
        moment = time.monotonic()
        if step == self._step and moment - self._last < PROGRESS_SECONDS:
            return
        self._last, self._step = moment, step
        fields: dict[str, Any] = {"step": str(step)[:200], "heartbeat_at": timezone.now()}
        if done is not None:
            fields["done"] = max(0, int(done))
        if total is not None:
            fields["total"] = max(0, int(total))
        Job.objects.filter(pk=self.job_id).update(**fields)


class _Heartbeat(threading.Thread):
    """Touches the job's ``heartbeat_at`` every few seconds while the runner works, on its
    own database connection (a runner's long transaction does not hold it back)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.job_id = job_id
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.wait(HEARTBEAT_SECONDS):
                try:
                    Job.objects.filter(pk=self.job_id, state=JobState.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # a locked SQLite file: the next beat will do
                    log.debug("heartbeat of job %s skipped", self.job_id, exc_info=True)
        finally:
            connection.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=HEARTBEAT_SECONDS)
