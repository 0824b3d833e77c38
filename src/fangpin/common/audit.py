"""Writing audit rows: ``audit_record`` for one, ``audit_rows`` + ``audit_record_rows`` for a
batch (set-based, a polars frame), ``audit_record_many`` for prepared rows.

Every row's ``action`` is one of ``Action``: the one list of what the audit trail can say,
named ``<app>.<object>.<what happened>``, so that an auditor's filter, the case timeline and
the code agree on the words. A name that is not in the list is refused when it is written.
The admin's rows are the one family named from the model (``admin.<app>.<model>.added|
changed|deleted``, ``admin_action``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

import polars as pl
from django.utils import timezone

from .bulk import bulk_insert, db_datetime
from .models import AuditEvent


class Action(StrEnum):
    """What an audit row records."""

    # accounts
    USER_CREATED = "accounts.user.created"
    TOKEN_ISSUED = "accounts.token.issued"  # noqa: S105 (a name, not a secret)
    TOKEN_REVOKED = "accounts.token.revoked"  # noqa: S105
    # registry
    HOUSEHOLD_CREATED = "registry.household.created"
    HOUSEHOLD_UPDATED = "registry.household.updated"
    HOUSEHOLD_VIEWED = "registry.household.viewed"
    HOUSEHOLD_ID_NUMBERS_REVEALED = "registry.household.id_numbers_revealed"
    HOUSEHOLD_SEARCHED_BY_ID_NUMBER = "registry.household.searched_by_id_number"
    MEMBER_REMOVED = "registry.member.removed"
    # feeds
    FEED_BATCH_ACCEPTED = "feeds.batch.accepted"
    FEED_BATCH_REFUSED = "feeds.batch.refused"
    FEED_REPORT_DOWNLOADED = "feeds.report.downloaded"
    # screening
    SCREENING_RUN = "screening.run"
    WARNING_ASSIGNED = "screening.warning.assigned"
    WARNING_CONFIRMED = "screening.warning.confirmed"
    WARNING_DISMISSED = "screening.warning.dismissed"
    WARNING_REOPENED = "screening.warning.reopened"
    WARNING_EXCLUSION_OVERRIDDEN = "screening.warning.exclusion_overridden"
    WARNINGS_EXPORTED = "screening.warnings.exported"
    # reports
    HIT_RATES_EXPORTED = "reports.hit_rates.exported"
    # background jobs (jobs.job.<state>)
    JOB_SUBMITTED = "jobs.job.submitted"
    JOB_RETRIED = "jobs.job.retried"
    JOB_SUCCEEDED = "jobs.job.succeeded"
    JOB_FAILED = "jobs.job.failed"
    JOB_INTERRUPTED = "jobs.job.interrupted"
    EXPORT_DOWNLOADED = "jobs.export.downloaded"
    # funds
    CONTRIBUTION_RECORDED = "funds.contribution.recorded"
    CONTRIBUTION_REVERSED = "funds.contribution.reversed"
    CONTRACT_CREATED = "funds.contract.created"
    PREMIUM_PAID = "funds.premium.paid"
    TRANSACTION_POSTED = "funds.transaction.posted"
    TRANSACTION_REVERSED = "funds.transaction.reversed"
    PAYMENT_REQUESTED = "funds.payment.requested"
    PAYMENT_RETRIED = "funds.payment.retried"
    PAYMENT_EXPORTED = "funds.payment.exported"
    PAYMENT_SUCCEEDED = "funds.payment.succeeded"  # the bank's return: funds.payment.<status>
    PAYMENT_FAILED = "funds.payment.failed"
    BATCH_EXPORTED = "funds.batch.exported"
    BATCH_DOWNLOADED = "funds.batch.downloaded"
    FUND_REPORT_DOWNLOADED = "funds.report.downloaded"
    YEAR_SETTLED = "funds.year.settled"
    YEAR_REOPENED = "funds.year.reopened"
    FUND_DATA_PURGED = "funds.data.purged"
    # cases: intake, evidence, objections, and one row per workflow step (cases.case.<step>)
    CASE_OPENED = "cases.case.opened"
    CASE_JOINED = "cases.case.joined"
    EVIDENCE_ADDED = "cases.evidence.added"
    EVIDENCE_DOWNLOADED = "cases.evidence.downloaded"
    OBJECTION_RECORDED = "cases.objection.recorded"
    OBJECTION_RESOLVED = "cases.objection.resolved"
    CASE_HOUSEHOLD_CHECK = "cases.case.household_check"
    CASE_DATA_COMPARE = "cases.case.data_compare"
    CASE_VILLAGE_REVIEW = "cases.case.village_review"
    CASE_NOTICE_CLOSE = "cases.case.notice_close"
    CASE_TOWNSHIP_REVIEW = "cases.case.township_review"
    CASE_COUNTY_DECIDE = "cases.case.county_decide"
    CASE_LOSS_DETERMINE = "cases.case.loss_determine"
    CASE_PAYMENT_PAID = "cases.case.payment_paid"
    CASE_FOLLOW_UP = "cases.case.follow_up"
    CASE_REJECT = "cases.case.reject"
    CASE_APPEAL = "cases.case.appeal"
    # pairing
    CADRE_CREATED = "pairing.cadre.created"
    CADRE_UPDATED = "pairing.cadre.updated"
    CADRE_USER_LINKED = "pairing.cadre.user_linked"
    PAIRING_STARTED = "pairing.pairing.started"
    PAIRING_ENDED = "pairing.pairing.ended"
    PAIRING_HOUSEHOLD_VIEWED = "pairing.household.viewed"
    VISIT_RECORDED = "pairing.visit.recorded"
    PROBLEM_FOUND = "pairing.problem.found"
    PROBLEM_SOLVED = "pairing.problem.solved"
    PLACEMENT_RECORDED = "pairing.placement.recorded"
    RISK_CLOSED = "pairing.risk.closed"
    PAIRING_SYNTH_LOADED = "pairing.synth.loaded"


ADMIN_PREFIX = "admin."
ADMIN_WHAT = ("added", "changed", "deleted")


def admin_action(label_lower: str, what: str) -> str:
    """The admin's row for a model (``admin.<app>.<model>.added|changed|deleted``)."""
    if what not in ADMIN_WHAT:
        raise ValueError(f"admin audit rows say {ADMIN_WHAT}, not {what!r}")
    return f"{ADMIN_PREFIX}{label_lower}.{what}"


def action_checked(action: str) -> str:
    """``action`` if it is an ``Action`` (or an admin row's name); ``ValueError`` otherwise."""
    if action.startswith(ADMIN_PREFIX) and action.rsplit(".", 1)[-1] in ADMIN_WHAT:
        return action
    return Action(action).value


def audit_record(
    *,
    actor: Any,
    action: Action | str,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    region_path: str = "",
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    data: dict | None = None,
) -> AuditEvent:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action_checked(action),
        object_type=object_type,
        object_id=object_id,
        region_path=region_path,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data or {},
    )


def audit_record_many(events: Iterable[AuditEvent], *, batch_size: int = 5000) -> int:
    """Insert prepared ``AuditEvent`` rows in bulk."""
    events = list(events)
    for e in events:
        action_checked(e.action)
    created = AuditEvent.objects.bulk_create(events, batch_size=batch_size)
    return len(created)


def audit_rows(
    frame: pl.DataFrame,
    *,
    actor: Any,
    action: Action,
    object_type: str,
    object_id: str = "id",
    region_path: str = "",
    data: dict[str, pl.Expr] | None = None,
) -> pl.DataFrame:
    """One audit row for each row of ``frame``, as columns of ``AuditEvent``: its object's id
    in the column ``object_id``, its region path in the column ``region_path`` (none if
    ''), ``data`` a JSON object of expressions over the frame. ``audit_record_rows`` writes."""
    path = pl.col(region_path).fill_null("") if region_path else pl.lit("")
    payload = pl.struct(**data).struct.json_encode() if data else pl.lit("{}")
    return frame.select(
        pl.lit(getattr(actor, "pk", None), dtype=pl.Int64).alias("actor_id"),
        pl.lit(action_checked(action)).alias("action"),
        pl.lit(object_type).alias("object_type"),
        pl.col(object_id).cast(pl.String).alias("object_id"),
        path.alias("region_path"),
        pl.lit("").alias("from_state"),
        pl.lit("").alias("to_state"),
        pl.lit("").alias("reason"),
        payload.alias("data"),
    )


def audit_record_rows(*frames: pl.DataFrame, at: dt.datetime | None = None) -> int:
    """Write ``audit_rows`` frames set-based (``common.bulk``), stamped ``at`` (the change's
    own time) or now."""
    rows = pl.concat([f for f in frames if f.height]) if any(f.height for f in frames) else None
    if rows is None:
        return 0
    return bulk_insert(
        AuditEvent, rows.with_columns(pl.lit(db_datetime(at or timezone.now())).alias("at"))
    )
