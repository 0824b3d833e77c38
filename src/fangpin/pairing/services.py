"""Writes to pairing assistance (结对帮扶): pairings (assign, reassign, end) and risk closure.

Every function is keyword-only, runs in one database transaction and writes its
``AuditEvent`` in it. Bad input raises ``PairingError`` with one of the ``ERR_*``
messages of ``errors`` (English and Chinese) and the field it is about; nothing is
written then. ``actor`` is the user acting: their role and region scope are
checked through ``fangpin.accounts.permissions``; ``actor=None`` is the operator
on the command line or the synthetic generator (trusted, unscoped).

The other writes: cadres in ``cadres`` (the file import of cadres is
``importer.cadre_import``), visits, problems and employment help in ``visits``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from fangpin.accounts import permissions
from fangpin.common.audit import Action, audit_record, audit_record_many
from fangpin.common.clock import today
from fangpin.common.models import AuditEvent
from fangpin.regions.models import Region
from fangpin.registry.models import Household

from .cadres import cadre_check_for
from .errors import (
    ERR_ALREADY_ENDED,
    ERR_CLOSE_BEFORE_PAIRING,
    ERR_CONCURRENT,
    ERR_DUPLICATE_HOUSEHOLD,
    ERR_END_BEFORE_START,
    ERR_HOUSEHOLD_SCOPE,
    ERR_NOT_MONITORED,
    ERR_RISK_CHECKS,
    ERR_START_BEFORE_HISTORY,
    ERR_UNKNOWN_CADRE,
    ERR_UNKNOWN_HOUSEHOLD,
    MAX_TEXT,
    PairingError,
    acting,
    check_date,
    full_clean,
    require,
    require_household,
    text_input,
)
from .models import Cadre, EmploymentPlacement, Pairing, Problem, RiskClosure, Visit
from .risk import risk_checks

CHUNK = 5000  # ids per query in bulk work
REASON_REASSIGNED = "reassigned (改派)"
REASON_RISK_CLOSED = "risk eliminated (风险消除)"


def _chunked(ids: Sequence[int], read: Callable[[Sequence[int]], Iterable[Any]]) -> list[Any]:
    """``read`` over ``ids`` a chunk at a time: one query per 5,000 ids, whatever their number
    (SQLite bounds the parameters of one statement)."""
    out: list[Any] = []
    for i in range(0, len(ids), CHUNK):
        out.extend(read(ids[i : i + CHUNK]))
    return out


# --- pairings -------------------------------------------------------------------------------


@dataclass
class AssignResult:
    """What a (bulk) assignment did: pairings started, running ones ended, ones left as they were."""

    created: list[Pairing] = field(default_factory=list)
    ended: int = 0
    unchanged: int = 0


@transaction.atomic
def pairing_assign_bulk(
    *,
    assignments: Sequence[tuple[int, int]],
    start_date: dt.date | None = None,
    reason: str = "",
    actor: Any,
) -> AssignResult:
    """Pair each ``(household id, cadre id)``, from ``start_date`` (default today).

    Set-based: five reads, one UPDATE ending the running pairings being replaced,
    one bulk INSERT, one bulk INSERT of audit rows — whatever the number of
    households (per 5,000 households for the reads and the UPDATE). A household already paired with that cadre is left unchanged; a
    household paired with another cadre has that pairing ended on ``start_date``
    (reason: ``reason`` or "reassigned") and a new one started. Every household
    must lie in the actor's region and inside the cadre's region; the cadre must
    be active; the new pairing may not start before the household's last
    pairing ended. On any problem nothing is written.
    """
    require(actor, "pairing.assign")
    start = check_date(start_date or today(), "start_date")
    reason = text_input(reason, "reason", 255, required=False)
    household_ids = [int(h) for h, _ in assignments]
    seen: set[int] = set()
    for hid in household_ids:
        if hid in seen:
            raise PairingError(ERR_DUPLICATE_HOUSEHOLD.format(household=hid), field="household")
        seen.add(hid)
    if not household_ids:
        return AssignResult()

    households = {
        h.pk: h
        for h in _chunked(
            household_ids,
            lambda ids: Household.objects.select_related("village").filter(pk__in=ids),
        )
    }
    cadres = {
        c.pk: c
        for c in _chunked(
            sorted({int(c) for _, c in assignments}),
            lambda ids: Cadre.objects.select_related("region").filter(pk__in=ids),
        )
    }
    if actor is not None:
        visible = set(
            _chunked(
                household_ids,
                lambda ids: permissions.scope_filter(
                    actor, Household.objects.filter(pk__in=ids), "village__path"
                ).values_list("pk", flat=True),
            )
        )
    for hid, cid in assignments:
        household = households.get(int(hid))
        if household is None:
            raise PairingError(ERR_UNKNOWN_HOUSEHOLD.format(household=hid), field="household")
        if actor is not None and household.pk not in visible:
            raise PairingError(
                ERR_HOUSEHOLD_SCOPE.format(household=household.household_no), field="household"
            )
        cadre = cadres.get(int(cid))
        if cadre is None:
            raise PairingError(ERR_UNKNOWN_CADRE.format(cadre=cid), field="cadre")
        cadre_check_for(cadre, household)

    # history: the running pairing of each household, and the latest end date of ended ones
    running = {
        p.household_id: p
        for p in _chunked(
            household_ids,
            lambda ids: Pairing.objects.filter(household_id__in=ids, end_date__isnull=True),
        )
    }
    last_end: dict[int, dt.date] = {}
    for hid, end in _chunked(
        household_ids,
        lambda ids: Pairing.objects.filter(
            household_id__in=ids, end_date__isnull=False
        ).values_list("household_id", "end_date"),
    ):
        last_end[hid] = max(end, last_end.get(hid, end))

    result = AssignResult()
    to_end: list[Pairing] = []
    new: list[Pairing] = []
    actor_id = getattr(acting(actor), "pk", None)
    for hid, cid in assignments:
        household, cadre = households[int(hid)], cadres[int(cid)]
        current = running.get(household.pk)
        if current is not None and current.cadre_id == cadre.pk:
            result.unchanged += 1
            continue
        floor = max(
            [d for d in (last_end.get(household.pk), current and current.start_date) if d],
            default=None,
        )
        if floor is not None and start < floor:
            raise PairingError(
                ERR_START_BEFORE_HISTORY.format(
                    household=household.household_no, date=floor.isoformat()
                ),
                field="start_date",
            )
        if current is not None:
            to_end.append(current)
        pairing = Pairing(
            household=household, cadre=cadre, start_date=start, created_by_id=actor_id
        )
        # foreign keys were checked above in one read each; full_clean would query per row
        full_clean(pairing, exclude=["household", "cadre", "created_by"], batch=True)
        new.append(pairing)

    end_reason = reason or REASON_REASSIGNED
    try:
        with transaction.atomic():
            ending = [p.pk for p in to_end]
            for i in range(0, len(ending), CHUNK):
                Pairing.objects.filter(pk__in=ending[i : i + CHUNK], end_date__isnull=True).update(
                    end_date=start, end_reason=end_reason
                )
            result.created = Pairing.objects.bulk_create(new, batch_size=2000)
    except IntegrityError:
        raise PairingError(ERR_CONCURRENT, field="household") from None
    result.ended = len(to_end)

    events = [
        AuditEvent(
            actor_id=actor_id,
            action=Action.PAIRING_ENDED,
            object_type="pairing.pairing",
            object_id=str(p.pk),
            region_path=households[p.household_id].village.path,
            from_state="running",
            to_state="ended",
            reason=end_reason,
            data={"end_date": start.isoformat(), "cadre": p.cadre_id},
        )
        for p in to_end
    ]
    previous = {p.household_id: p.cadre_id for p in to_end}
    events += [
        AuditEvent(
            actor_id=actor_id,
            action=Action.PAIRING_STARTED,
            object_type="pairing.pairing",
            object_id=str(p.pk),
            region_path=households[p.household_id].village.path,
            from_state=str(previous.get(p.household_id, "")),
            to_state=str(p.cadre_id),
            reason=reason,
            data={
                "household": households[p.household_id].household_no,
                "cadre": cadres[p.cadre_id].name,
                "start_date": start.isoformat(),
            },
        )
        for p in result.created
    ]
    audit_record_many(events)
    return result


def pairing_assign(
    *,
    household: Household,
    cadre: Cadre,
    start_date: dt.date | None = None,
    reason: str = "",
    actor: Any,
) -> Pairing:
    """Pair one household with one cadre (see ``pairing_assign_bulk``); the running pairing."""
    result = pairing_assign_bulk(
        assignments=[(household.pk, cadre.pk)], start_date=start_date, reason=reason, actor=actor
    )
    if result.created:
        return result.created[0]
    return Pairing.objects.get(household=household, end_date__isnull=True)


@transaction.atomic
def pairing_end(
    *, pairing: Pairing, end_date: dt.date | None = None, reason: str, actor: Any
) -> Pairing:
    """End a running pairing without a successor (the cadre left, the household moved away)."""
    require_household(actor, "pairing.assign", pairing.household)
    reason = text_input(reason, "reason", 255)
    end = check_date(end_date or today(), "end_date")
    pairing = Pairing.objects.select_for_update().get(pk=pairing.pk)
    if pairing.end_date is not None:
        raise PairingError(
            ERR_ALREADY_ENDED.format(date=pairing.end_date.isoformat()), field="pairing"
        )
    if end < pairing.start_date:
        raise PairingError(
            ERR_END_BEFORE_START.format(end=end.isoformat(), start=pairing.start_date.isoformat()),
            field="end_date",
        )
    pairing.end_date = end
    pairing.end_reason = reason
    full_clean(pairing)
    pairing.save(update_fields=["end_date", "end_reason"])
    audit_record(
        actor=acting(actor),
        action=Action.PAIRING_ENDED,
        obj=pairing,
        region_path=pairing.household.village.path,
        from_state="running",
        to_state="ended",
        reason=reason,
        data={"end_date": end.isoformat(), "cadre": pairing.cadre_id},
    )
    return pairing


# --- risk elimination (风险消除) --------------------------------------------------------------


@transaction.atomic
def risk_close(
    *, household: Household, reason: str, closed_on: dt.date | None = None, actor: Any
) -> RiskClosure:
    """Close a helped household's monitoring: its risk is eliminated (风险消除).

    Only when every check of ``risk.risk_checks`` passes on ``closed_on``
    (income above the line for six months on record, no open problem, a help
    measure recorded, someone able to work); the checks as shown are kept on the
    closure. The household's running pairing ends that day (its follow-up is
    over); the pairing rule no longer lists the household for relief paid before
    the closure.
    """

    require_household(actor, "pairing.close_risk", household)
    reason = text_input(reason, "reason", MAX_TEXT)
    closed = check_date(closed_on or today(), "closed_on")
    running = (
        Pairing.objects.select_for_update()
        .filter(household=household, end_date__isnull=True)
        .first()
    )
    if running is None:
        raise PairingError(
            ERR_NOT_MONITORED.format(household=household.household_no), field="household"
        )
    if closed < running.start_date:
        raise PairingError(
            ERR_CLOSE_BEFORE_PAIRING.format(
                date=closed.isoformat(), start=running.start_date.isoformat()
            ),
            field="closed_on",
        )
    checks = risk_checks(household=household, on=closed)
    if not checks.ok:
        failed = "; ".join(f"{c.label}: {c.detail}" for c in checks.checks if not c.passed)
        raise PairingError(ERR_RISK_CHECKS.format(failed=failed), field="checks")
    closure = RiskClosure(
        household=household,
        closed_on=closed,
        reason=reason,
        checks=[asdict(c) for c in checks.checks],
        closed_by=acting(actor),
    )
    full_clean(closure)
    closure.save()
    running.end_date = closed
    running.end_reason = REASON_RISK_CLOSED
    running.save(update_fields=["end_date", "end_reason"])
    path = household.village.path
    audit_record(
        actor=acting(actor),
        action=Action.RISK_CLOSED,
        obj=closure,
        region_path=path,
        from_state="monitored",
        to_state="closed",
        reason=reason,
        data={"household": household.household_no, "closed_on": closed.isoformat()},
    )
    audit_record(
        actor=acting(actor),
        action=Action.PAIRING_ENDED,
        obj=running,
        region_path=path,
        from_state="running",
        to_state="ended",
        reason=REASON_RISK_CLOSED,
        data={"end_date": closed.isoformat(), "cadre": running.cadre_id},
    )
    return closure


# --- synthetic data -------------------------------------------------------------------------


@transaction.atomic
def pairing_data_purge(*, county: Region) -> int:
    """Delete every pairing row of ``county`` — for synthetic data only (``synth --replace``).

    Returns the number of cadres removed.
    """
    in_county = {"household__village__path__startswith": county.path}
    EmploymentPlacement.objects.filter(**in_county).delete()
    Problem.objects.filter(**in_county).delete()
    Visit.objects.filter(**in_county).delete()
    RiskClosure.objects.filter(**in_county).delete()
    Pairing.objects.filter(**in_county).delete()
    Pairing.objects.filter(cadre__region__path__startswith=county.path).delete()
    n, _ = Cadre.objects.filter(region__path__startswith=county.path).delete()
    return n
