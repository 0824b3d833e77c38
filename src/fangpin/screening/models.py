"""Warnings (预警) raised by department screening, and the runs that raised them.

A warning is one household × circumstance × year: the figures the screening
found (cumulative self-paid, the income basis, members, household type), the
feed rows that triggered it, the parameter version in force and the estimated
relief. The unique key makes a re-run add only what is new.

Its triage (预警核查, ``triage.py``): a warning arrives *new* in its village's work
list (seen by the township and the village); someone is assigned to check it
(*checking*, ``assigned_to``); it ends *confirmed* — relief cases opened from it
(the cases app's ``case_open_from_warning``; each case's intake names the warning)
— or *dismissed* with a reason from ``DismissReason`` and a text. Each state has a
due date in working days (``triage.warning_due``) counted from ``state_since``.

A household that an exclusion (信息比对: public payroll, commercial housing, a
private vehicle, a business) rules out is kept as an *excluded* warning, with the
exclusions and the feed rows that showed them, and the relief it would have had
without them; a county officer may override it (excluded → new) with a reason.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangpin.common.fields import MoneyField
from fangpin.policy import spec


class Circumstance(models.TextChoices):
    MEDICAL = "medical", _("Medical 因病")
    EDUCATION = "education", _("Education 因学")
    ACCIDENT = "accident", _("Accident or disaster 因灾/意外")
    INDUSTRY = "industry", _("Farming loss 产业")


assert tuple(c.value for c in Circumstance) == spec.CIRCUMSTANCES


class WarningStatus(models.TextChoices):
    """Where a warning is in its triage (``triage.TRANSITIONS`` says how it moves)."""

    NEW = "new", pgettext_lazy("warning status", "New")
    CHECKING = "checking", pgettext_lazy("warning status", "Checking")
    CONFIRMED = "confirmed", pgettext_lazy("warning status", "Confirmed: case opened")
    DISMISSED = "dismissed", pgettext_lazy("warning status", "Dismissed")
    EXCLUDED = "excluded", pgettext_lazy("warning status", "Excluded by data comparison")


class DismissReason(models.TextChoices):
    """Why a checked warning needs no relief case (排除理由); the text says the particulars."""

    INCOME_ABOVE = "income_above", _("Income above the monitoring line")
    COSTS_COVERED = "costs_covered", _("Costs covered by insurance, assistance or others")
    BELOW_START = "below_start", _("Self-paid costs below the start line after checking")
    ALREADY_HELPED = "already_helped", _("Already helped for this hardship")
    DATA_WRONG = "data_wrong", _("The department's data is wrong")
    NOT_RESIDENT = "not_resident", _("Not living here or not registered here")
    OTHER = "other", _("Other")


class ScreeningRun(models.Model):
    year = models.PositiveSmallIntegerField(_("year 年度"))
    county_code = models.CharField(_("county 县"), max_length=6, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    seconds = models.FloatField(default=0)  # wall time, for the operator; never money
    cases_evaluated = models.PositiveIntegerField(default=0)
    warnings_found = models.PositiveIntegerField(default=0)
    warnings_added = models.PositiveIntegerField(default=0)
    # of the warnings found, those an exclusion rules out (recorded as excluded)
    warnings_excluded = models.PositiveIntegerField(default=0)
    # excluded warnings of earlier runs that this run no longer finds excluded (reopened)
    warnings_reopened = models.PositiveIntegerField(default=0)
    households_added = models.PositiveIntegerField(default=0)
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("screening run 筛查批次")

    # warnings found for households whose roster village is not in the region tree (not saved)
    unplaced = 0

    def __str__(self) -> str:
        return f"screening {self.year} {self.county_code or 'all'} #{self.pk}"


class IncomeSource(models.TextChoices):
    REGISTRY = "registry", _("registry 台账收入")
    ASSISTANCE = "assistance", _("assessed by civil affairs 民政核定收入")
    UNKNOWN = "unknown", _("unknown, check at the household 未知，待入户核查")


class Warning(models.Model):
    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="warnings"
    )
    region_path = models.CharField(max_length=128, db_index=True)  # the household's village path
    circumstance = models.CharField(
        _("circumstance 致贫原因"), max_length=10, choices=Circumstance.choices
    )
    year = models.PositiveSmallIntegerField(_("year 年度"))
    household_type = models.CharField(_("household type 户类型"), max_length=10)
    members = models.PositiveSmallIntegerField(_("members 人口"))
    self_paid = MoneyField(_("cumulative self-paid 累计自付"))
    annual_income = MoneyField(_("annual income 年收入"), null=True, blank=True)
    income_known = models.BooleanField(_("income known 收入已知"), default=True)
    income_source = models.CharField(
        _("income from 收入来源"),
        max_length=12,
        choices=IncomeSource.choices,
        default=IncomeSource.REGISTRY,
    )
    units = models.PositiveSmallIntegerField(_("stays/students/events 条数"), default=1)
    feed_refs = models.JSONField(_("feed rows 触发记录"), default=list)
    # the exclusions found by data comparison (policy.spec.EXCLUSIONS names), and the feed
    # rows that showed them: exclusion, feed, id_number, reference, detail, batch, source_row
    exclusions = models.JSONField(_("exclusions 比对排除项"), default=list, blank=True)
    exclusion_matches = models.JSONField(
        _("exclusion feed rows 比对记录"), default=list, blank=True
    )
    parameter_version = models.CharField(_("parameters 参数版本"), max_length=64)
    estimated_relief = MoneyField(_("estimated relief 预估救助"))
    status = models.CharField(
        _("status 状态"), max_length=12, choices=WarningStatus.choices, default=WarningStatus.NEW
    )
    # when the warning entered its status (its due date counts from it); null: since created
    state_since = models.DateTimeField(_("in this status since"), null=True, blank=True)
    # who is checking it (入户核查): a township officer or a village cadre of its region
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("checked by"),
    )
    # db_default: the screening's bulk insert names only the columns it fills
    dismiss_reason = models.CharField(
        _("reason for dismissing"),
        max_length=16,
        choices=DismissReason.choices,
        blank=True,
        default="",
        db_default="",
    )
    reason = models.CharField(_("reason 理由"), max_length=255, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(ScreeningRun, on_delete=models.PROTECT, related_name="warnings")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-estimated_relief", "id"]
        verbose_name = _("warning 预警")
        constraints = [
            models.UniqueConstraint(
                fields=["household", "circumstance", "year"], name="warning_once_per_year"
            ),
            models.CheckConstraint(
                condition=models.Q(circumstance__in=list(spec.CIRCUMSTANCES)),
                name="warning_circumstance_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in WarningStatus]),
                name="warning_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(estimated_relief__gte=0), name="warning_relief_not_negative"
            ),
            # somebody is checking a warning in checking
            models.CheckConstraint(
                condition=~models.Q(status="checking") | models.Q(assigned_to__isnull=False),
                name="warning_checking_assigned",
            ),
            # a dismissed warning says why, from the list; nothing else has such a reason
            models.CheckConstraint(
                condition=(
                    models.Q(status="dismissed", dismiss_reason__in=DismissReason.values)
                    | (~models.Q(status="dismissed") & models.Q(dismiss_reason=""))
                ),
                name="warning_dismiss_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} {self.circumstance} {self.year}"
