"""A background job (后台任务): one unit of long work a user started — a feed import, a
screening run, a large export — run by ``fangpin worker`` through django-tasks.

The ``Job`` row is what a user sees: its state, its progress (done of total, the step's
name), its result or error message, who started it and for which region. The queue
itself is django-tasks' (``django_tasks_db``'s table): ``jobs.services.job_submit``
writes the job and its queue entry in one transaction, so neither exists without the
other. A job's work is all-or-nothing (each runner's own transaction, or the lake's
manifest), so a job killed mid-way leaves nothing half done; ``jobs_reap`` marks it
failed once its worker is gone, and ``job_retry`` runs it again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Done")
    FAILED = "failed", _("Failed")


FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED})


class Job(models.Model):
    kind = models.CharField(_("kind"), max_length=32, db_index=True)  # a runner's name
    label = models.CharField(_("job"), max_length=200)
    params = models.JSONField(default=dict)  # the runner's keyword arguments: a retry reuses them
    state = models.CharField(
        _("state"), max_length=10, choices=JobState.choices, default=JobState.QUEUED
    )
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)  # 0: not known yet
    step = models.CharField(_("step"), max_length=200, blank=True)
    result = models.JSONField(default=dict, blank=True)  # what the runner returned
    error = models.TextField(_("error"), blank=True)  # a message the user can read
    region_path = models.CharField(max_length=128, blank=True, db_index=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # a client's Idempotency-Key: the same key from the same user returns the same job
    idempotency_key = models.CharField(max_length=128, blank=True)
    task_id = models.CharField(max_length=64, blank=True)  # the django-tasks queue entry
    worker = models.CharField(max_length=128, blank=True)  # host:pid of the worker running it
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("background job")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=[s.value for s in JobState]), name="job_state_valid"
            ),
            models.UniqueConstraint(
                fields=["started_by", "kind", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="job_idempotency_key_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} #{self.pk} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def percent(self) -> int | None:
        """Progress in whole percent, or None while the total is not known."""
        if self.state == JobState.SUCCEEDED:
            return 100
        if not self.total:
            return None
        return min(100, self.done * 100 // self.total)
