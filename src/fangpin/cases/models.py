"""Relief cases (救助案件): one kind of case whatever brought it in, its intakes,
evidence, notice objections and decisions; public holidays for working days.

A case moves only through ``services.case_transition`` (the workflow declared in
``workflow.py``); ``version`` is checked in the UPDATE so two users acting at once
cannot both succeed. A decision is made once per round (unique constraint); an
insurer's adjustment or an appeal makes a new decision that supersedes the old.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangpin.common.fields import MoneyField
from fangpin.policy import spec

from .states import OPEN_STATES, State


class Source(models.TextChoices):
    APPLICATION = "application", _("Farmer's application 自主申报")
    REPORT = "report", _("Cadre's report 干部排查")
    WARNING = "warning", _("Screening warning 部门筛查预警")


CIRCUMSTANCE_CHOICES = [(c, spec.CIRCUMSTANCE_LABELS[c]) for c in spec.CIRCUMSTANCES]


class Case(models.Model):
    # CASCADE only so that a synthetic county can be rebuilt (fangpin.synth); real
    # households are never deleted
    household = models.ForeignKey(
        "registry.Household", on_delete=models.CASCADE, related_name="cases"
    )
    region_path = models.CharField(max_length=255, db_index=True, editable=False)
    circumstance = models.CharField(
        _("circumstance 致困原因"), max_length=10, choices=CIRCUMSTANCE_CHOICES
    )
    period = models.PositiveSmallIntegerField(_("year 年度"))
    # the claim (救助事项): the student or injured person, and the day of the event; with the
    # circumstance's cap scope (a policy parameter) they make ``claim_key``, which says which
    # cases share one cap: one per household and year, per student and year, per event
    member_id_number = models.CharField(_("member"), max_length=18, blank=True)
    event_date = models.DateField(_("date of the event"), null=True, blank=True)
    claim_key = models.CharField(max_length=40, blank=True, editable=False)
    source = models.CharField(_("source 来源"), max_length=12, choices=Source.choices)
    state = models.CharField(
        _("state 环节"), max_length=20, choices=State.choices, default=State.HOUSEHOLD_CHECK
    )
    is_open = models.BooleanField(default=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    opened_at = models.DateTimeField(auto_now_add=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(_("at this step since 进入本环节"))
    # separation of duties (workflow.duty_refusal): the last approval step and who took it
    last_approval = models.CharField(max_length=20, blank=True, editable=False)
    last_approval_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    # household check (入户核查)
    verified_members = models.PositiveSmallIntegerField(
        _("verified members 核实人口"), null=True, blank=True
    )
    verified_income = MoneyField(_("verified annual income 核实年收入"), null=True, blank=True)
    verified_self_paid = MoneyField(_("verified self-paid 核实自付金额"), null=True, blank=True)
    consent_signed = models.BooleanField(_("consent signed 已签承诺授权书"), default=False)
    # data comparison (信息比对)
    exclusions = models.JSONField(default=list, blank=True)
    exclusions_override = models.TextField(blank=True)
    # what the comparison against the feeds found: rows per feed, matching rows, no-data feeds
    comparison = models.JSONField(default=dict, blank=True, editable=False)
    # village review (民主评议) and public notice (公示)
    review_date = models.DateField(null=True, blank=True)
    review_attendees = models.PositiveSmallIntegerField(null=True, blank=True)
    review_result = models.CharField(max_length=255, blank=True)
    notice_start = models.DateField(null=True, blank=True)
    notice_end = models.DateField(null=True, blank=True)
    # rejection and appeal
    rejected_reason = models.TextField(blank=True)
    appeals = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["entered_at", "id"]
        verbose_name = _("relief case 救助案件")
        indexes = [
            models.Index(fields=["state", "entered_at"]),
            # the lists of a county with 100,000 cases (bench/cases_list.py): each order is an
            # index walk that checks the region on the index itself and stops after a page;
            # counts by step and region read an index only
            models.Index(fields=["opened_at", "id", "region_path"], name="cases_case_list_idx"),
            models.Index(fields=["entered_at", "id", "region_path"], name="cases_case_queue_idx"),
            models.Index(fields=["state", "region_path"], name="cases_case_state_region_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=State.values), name="cases_case_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(circumstance__in=list(spec.CIRCUMSTANCES)),
                name="cases_case_circumstance_valid",
            ),
            # one open case per claim (household, circumstance, period, claim key): a new
            # intake for the same claim joins it
            models.UniqueConstraint(
                fields=["household", "circumstance", "period", "claim_key"],
                condition=Q(is_open=True),
                name="cases_case_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.household_id} {self.circumstance} {self.period}"

    def save(self, *args, **kwargs):
        self.is_open = self.state in OPEN_STATES
        super().save(*args, **kwargs)

    @property
    def number(self) -> str:
        return f"{self.period}-{self.pk:06d}"

    @property
    def current_decision(self) -> Decision | None:
        return self.decisions.filter(superseded_by__isnull=True).order_by("-round").first()


class Intake(models.Model):
    """One way the case was brought in; a duplicate intake adds a row to the open case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="intakes")
    source = models.CharField(max_length=12, choices=Source.choices)
    reference = models.CharField(_("reference 预警编号/来源"), max_length=64, blank=True)
    # the screening warning the case was opened from (source "warning"): the link of the
    # warning's triage to its cases, read by the hit rates (fangpin.reports)
    warning = models.ForeignKey(
        "screening.Warning",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="intakes",
        verbose_name=_("screening warning"),
    )
    description = models.TextField(_("description 情况说明"), blank=True)
    amount_claimed = MoneyField(_("amount claimed 申报金额"), null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.source}"


class EvidenceKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice 发票")
    DISCHARGE = "discharge", _("Discharge summary 出院小结")
    SCHOOL_FEE = "school_fee", _("School fee receipt 学费收据")
    LOSS_REPORT = "loss_report", _("Loss report 损失报告")
    CONSENT = "consent", _("Signed consent 承诺授权书")
    OTHER = "other", _("Other 其他")


class Evidence(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(_("kind 类型"), max_length=12, choices=EvidenceKind.choices)
    file = models.FileField(upload_to="cases/%Y/%m/")
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class Objection(models.Model):
    """An objection raised during the public notice (公示异议); each must be resolved."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="objections")
    text = models.TextField(_("objection 异议内容"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    resolution = models.TextField(_("resolution 处理结果"), blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return self.text[:40]


class DecisionKind(models.TextChoices):
    COUNTY = "county", _("County decision 县级审定")
    LOSS = "loss", _("Insurer loss determination 保险核损")


class Decision(models.Model):
    """A locked relief decision: the engine's amount, its explanation and parameter version.

    Never edited: an insurer's adjustment or a new county decision after an appeal
    is a new row whose ``supersedes`` names the old one.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="decisions")
    round = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=DecisionKind.choices)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="superseded_by"
    )
    eligible = models.BooleanField()
    amount = MoneyField(_("relief amount 救助金额"))
    parameter_version = models.CharField(max_length=64)
    inputs = models.JSONField()
    explanation = models.JSONField()
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)
    payment = models.OneToOneField(
        "funds.Payment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # only fund_data_purge of a synthetic county deletes payments
        related_name="decision",
    )

    class Meta:
        ordering = ["case_id", "round"]
        verbose_name = _("relief decision 救助决定")
        constraints = [
            models.UniqueConstraint(fields=["case", "round"], name="cases_decision_once"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="cases_decision_amount"),
        ]

    def __str__(self) -> str:
        return f"decision:{self.pk}"

    @property
    def key(self) -> str:
        """The funds idempotency key of this decision."""
        return f"decision:{self.pk}"

    @property
    def region_path(self) -> str:
        return self.case.region_path


class Holiday(models.Model):
    """A public holiday (法定节假日) that working-day deadlines skip; edited in the admin."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["date"]
        verbose_name = _("public holiday 法定节假日")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"
