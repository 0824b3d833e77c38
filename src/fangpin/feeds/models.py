"""The manifest of the lake: one ``FeedBatch`` row per feed file offered for import.

An *accepted* batch has its valid rows in the lake, one immutable Parquet file
per year under ``LAKE_DIR/<kind>/year=YYYY/batch-<id>.parquet``; a *refused*
batch (too many rejected rows, or an unreadable file) has none. Both keep their
data-quality report (the rejected rows: row, column, value, reason) as XLSX, the
whole of it, and the same problems with what places each row in a region (the
row's ID number and, where the feed has one, its village code) as Parquet, from
which ``selectors.batch_report`` makes the report a county officer may see.
A file's SHA-256 checksum is unique among accepted batches of a kind, so the
same file imported twice is a no-op.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BatchStatus(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted 已入库")
    REFUSED = "refused", _("Refused 已拒收")


class FeedBatch(models.Model):
    kind = models.CharField(_("feed 数据类别"), max_length=16, db_index=True)
    department = models.CharField(_("department 来源部门"), max_length=64)
    status = models.CharField(_("status 状态"), max_length=8, choices=BatchStatus.choices)
    source_name = models.CharField(_("file 文件"), max_length=255)
    checksum = models.CharField(_("SHA-256"), max_length=64)
    period_from = models.DateField(_("period from 起"), null=True, blank=True)
    period_to = models.DateField(_("period to 止"), null=True, blank=True)
    years = models.JSONField(_("years 年度"), default=list)
    rows_total = models.PositiveIntegerField(_("rows in the file 总行数"), default=0)
    rows_accepted = models.PositiveIntegerField(_("rows accepted 入库行数"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rows rejected 拒收行数"), default=0)
    files = models.JSONField(_("lake files 数据文件"), default=list)  # paths relative to LAKE_DIR
    refusal = models.CharField(_("why refused 拒收原因"), max_length=255, blank=True)
    report_xlsx = models.BinaryField(_("data-quality report 数据质量报告"), blank=True, default=b"")
    # the report's problems with each row's ID number and village code (Parquet): see selectors
    problems = models.BinaryField(_("problems by row 问题明细"), blank=True, default=b"")
    # the region the sender sent it for ('' for the whole city): its rows lie there
    region_path = models.CharField(max_length=128, blank=True, default="")
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(_("imported 导入时间"), auto_now_add=True)

    class Meta:
        ordering = ["-imported_at", "-id"]
        verbose_name = _("feed batch 数据批次")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "checksum"],
                condition=models.Q(status="accepted"),
                name="feed_batch_once_per_file",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in BatchStatus]),
                name="feed_batch_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def rejected_share(self) -> float:
        return self.rows_rejected / self.rows_total if self.rows_total else 0.0
