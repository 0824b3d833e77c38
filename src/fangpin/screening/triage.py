"""Warning triage (预警核查): who checks a warning, by when, and how it ends.

A warning arrives **new** on the work list of its village — its township's officers and
its village's cadres see it (region scope). Someone is **assigned** to check it at the
household (入户核查): a township officer or a village cadre of its region, who then is
``assigned_to``; the warning is **checking**. It ends **confirmed** — relief cases were
opened from it (the cases app's ``case_open_from_warning``, which calls
``warning_confirm`` in its transaction; each case's intake names the warning) — or
**dismissed**, with a reason from ``DismissReason`` and a text. A warning the data
comparison excluded (**excluded**) goes back to *new* when a county officer overrides the
exclusion, or when a re-run of the screening no longer finds it
(``services._reopen_no_longer_excluded``, the screening's own, set-based).

::

    new ──assign──▶ checking ──assign──▶ checking (another checker, same clock)
     │                 │
     ├──confirm────────┴──▶ confirmed   (a case is opened from it)
     ├──dismiss────────┴──▶ dismissed   (a reason from the list, and a text)
    excluded ──exclusion_override──▶ new

``TRANSITIONS`` declares each move up front: from which states, to which, and the
permission action (roles, ``accounts.permissions.ACTIONS``) it needs; ``_move`` is the
one mover. It takes any number of warnings at once (the list's bulk assign and bulk
dismiss; one warning is a list of one): it locks them, refuses all of them — changing
nothing — if one is outside the actor's region or in a state the move cannot leave,
then writes one UPDATE and one audit row per warning, in one transaction.

Due dates (``warning_due``) count working days (``common.workdays``: the State Council's
holidays and adjusted working weekends) from the day the warning entered its state: new,
``procedure.warning_acceptance_working_days`` (2); checking,
``procedure.warning_check_working_days`` (5) — dated policy parameters read for the
warning's county on that day. Past it, the warning is overdue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case as SqlCase
from django.db.models import F, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangpin.accounts import permissions
from fangpin.accounts.models import Role
from fangpin.common.audit import audit_record_many
from fangpin.common.clock import today
from fangpin.common.models import AuditEvent
from fangpin.common.workdays import holidays_between, working_days_after
from fangpin.policy import spec
from fangpin.policy.loader import PolicyInputError, parameter_value
from fangpin.regions.selectors import county_code_of

from .models import DismissReason, Warning, WarningStatus
from .selectors import warning_scope
from .services import ScreeningError

S = WarningStatus
# who may check a warning at the household: a township officer or a village cadre (a
# village's cadre logs in with this role) of the warning's township or village
CHECKER_ROLES = (Role.TOWNSHIP_OFFICER, Role.VILLAGE_CADRE)
REASON_MIN = 4

# refusals, asserted on by the tests (kept from before the triage: the override's two)
ERR_OVERRIDE_REASON = (
    "give a reason of at least 4 characters for overriding the exclusion (请填写推翻比对排除的理由)"
)
ERR_NOT_EXCLUDED = "this warning is not excluded by data comparison (该预警未被比对排除)"
ERR_NONE_SELECTED = _("Select at least one warning.")
ERR_NOT_IN_REGION = _(
    "%(n)d of the selected warnings do not exist or are outside your region; nothing was changed."
)
ERR_WRONG_STATE = _(
    "%(n)d of the selected warnings are %(states)s: “%(transition)s” is not possible for "
    "them; nothing was changed."
)
ERR_WRONG_STATE_ONE = _("This warning is %(state)s: “%(transition)s” is not possible now.")
ERR_REASON = _("Give a reason of at least 4 characters.")
ERR_REASON_CODE = _("Choose a reason for dismissing from the list.")
ERR_ASSIGNEE = _(
    "Choose an active township officer or village cadre of your region to check the warnings."
)
ERR_ASSIGNEE_REGION = _(
    "%(n)d of the selected warnings are outside the region of %(name)s, who cannot check "
    "them; nothing was changed."
)


@dataclass(frozen=True)
class Transition:
    """One move of a warning: from ``sources`` to ``target``, for the roles of ``action``."""

    name: str
    label: Any
    sources: frozenset[str]
    target: str
    action: str  # permission action in fangpin.accounts.permissions.ACTIONS
    audit: str  # the audit row's action: screening.warning.<audit>
    decides: bool = True  # records who decided it, and when (``decided_by``, ``decided_at``)

    def refusal(self, status: str) -> str | None:
        """``None`` if a warning in ``status`` may take this move, else the reason."""
        if status in self.sources:
            return None
        return str(ERR_WRONG_STATE_ONE) % {"state": S(status).label, "transition": self.label}


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition(
            "assign",
            _("Assign for checking"),
            frozenset({S.NEW, S.CHECKING}),
            S.CHECKING,
            "screening.assign",
            "assigned",
            decides=False,
        ),
        Transition(
            "dismiss",
            _("Dismiss"),
            frozenset({S.NEW, S.CHECKING}),
            S.DISMISSED,
            "screening.dismiss",
            "dismissed",
        ),
        # the cases app opens the cases and checks its own permission (cases.open_warning)
        Transition(
            "confirm",
            _("Open a relief case"),
            frozenset({S.NEW, S.CHECKING}),
            S.CONFIRMED,
            "cases.open_warning",
            "confirmed",
        ),
        Transition(
            "exclusion_override",
            _("Override the exclusion"),
            frozenset({S.EXCLUDED}),
            S.NEW,
            "screening.exclusion_override",
            "exclusion_overridden",
        ),
    )
}


# --- the mover ----------------------------------------------------------------------------


def _ids(warnings: Iterable[Any]) -> list[int]:
    ids = []
    for w in warnings:
        pk = getattr(w, "pk", w)
        try:
            ids.append(int(pk))
        except (TypeError, ValueError):
            continue  # not a warning's id: not found, counted below
    return sorted(set(ids))


@transaction.atomic
def _move(
    name: str,
    *,
    warnings: Iterable[Any],
    actor: Any,
    changes: dict[str, Any],
    reason: str = "",
    data: dict[str, Any] | None = None,
    check: Any = None,
) -> list[int]:
    """Move ``warnings`` (ids or warnings) along ``TRANSITIONS[name]``; their ids.

    All or nothing: every warning must lie in the actor's region and be in a state the
    move may leave. ``changes``: the fields the move writes besides the status;
    ``check(ids)``: a guard of the move's own, run on the locked rows.
    """
    t = TRANSITIONS[name]
    permissions.require(actor, t.action)
    wanted = _ids(warnings)
    if not wanted:
        raise ScreeningError(str(ERR_NONE_SELECTED), field="warnings")
    # lock the warnings themselves (not the households and villages the scope joins)
    scoped = warning_scope(user=actor).filter(pk__in=wanted).select_for_update(of=("self",))
    rows = list(scoped.order_by("pk").values_list("pk", "status", "region_path"))
    if len(rows) != len(wanted):
        raise ScreeningError(str(ERR_NOT_IN_REGION) % {"n": len(wanted) - len(rows)})
    stuck = sorted({status for _pk, status, _path in rows if status not in t.sources})
    if stuck:
        n = sum(1 for _pk, status, _path in rows if status not in t.sources)
        states = ", ".join(str(S(s).label) for s in stuck)
        raise ScreeningError(
            str(ERR_WRONG_STATE) % {"n": n, "states": states, "transition": t.label},
            field="status",
        )
    if check is not None:
        check(wanted)
    now = timezone.now()
    by = actor if getattr(actor, "pk", None) else None
    if t.decides:
        changes = {**changes, "decided_by": by, "decided_at": now}
    Warning.objects.filter(pk__in=wanted).update(
        status=t.target,
        # the due date counts from entering the status; another checker keeps the clock
        state_since=SqlCase(When(status=t.target, then=F("state_since")), default=Value(now)),
        **changes,
    )
    audit_record_many(
        AuditEvent(
            actor=by,
            action=f"screening.warning.{t.audit}",
            object_type=Warning._meta.label_lower,
            object_id=str(pk),
            region_path=path,
            from_state=status,
            to_state=t.target,
            reason=reason,
            data=data or {},
        )
        for pk, status, path in rows
    )
    return wanted


def _reason(text: str, message: Any) -> str:
    text = (text or "").strip()
    if len(text) < REASON_MIN:
        raise ScreeningError(str(message), field="reason")
    return text[:255]


# --- assign ---------------------------------------------------------------------------------


def checkers(*, user: Any) -> QuerySet:
    """The people ``user`` may assign warnings to: active township officers and village
    cadres inside the user's region."""
    users = get_user_model().objects.filter(is_active=True, role__in=CHECKER_ROLES)
    return permissions.scope_filter(user, users, "region__path").select_related("region")


def warnings_assign(*, warnings: Iterable[Any], assignee: Any, actor: Any) -> list[int]:
    """Assign warnings to ``assignee`` to check (new/checking → checking), audited.

    ``assignee``: a user of ``checkers`` whose region holds every one of the warnings (a
    township officer their township's, a village cadre their village's).
    """
    permissions.require(actor, "screening.assign")
    pk = getattr(assignee, "pk", None)
    if pk is None or not checkers(user=actor).filter(pk=pk).exists():
        raise ScreeningError(str(ERR_ASSIGNEE), field="assignee")

    def inside_assignee_region(ids: list[int]) -> None:
        outside = (
            Warning.objects.filter(pk__in=ids)
            .exclude(region_path__startswith=assignee.region.path)
            .count()
        )
        if outside:
            name = assignee.get_full_name() or assignee.username
            raise ScreeningError(
                str(ERR_ASSIGNEE_REGION) % {"n": outside, "name": name}, field="assignee"
            )

    return _move(
        "assign",
        warnings=warnings,
        actor=actor,
        changes={"assigned_to": assignee},
        data={"assigned_to": assignee.username},
        check=inside_assignee_region,
    )


# --- dismiss --------------------------------------------------------------------------------


def warnings_dismiss(
    *, warnings: Iterable[Any], actor: Any, reason_code: str, reason: str
) -> list[int]:
    """Dismiss warnings (new/checking → dismissed) with a reason from ``DismissReason`` and a
    text of at least 4 characters, audited."""
    if reason_code not in DismissReason.values:
        raise ScreeningError(str(ERR_REASON_CODE), field="reason_code")
    text = _reason(reason, ERR_REASON)
    return _move(
        "dismiss",
        warnings=warnings,
        actor=actor,
        changes={"dismiss_reason": reason_code, "reason": text},
        reason=f"{DismissReason(reason_code).label}: {text}",
        data={"reason_code": reason_code},
    )


def warning_dismiss(*, warning: Warning, actor: Any, reason_code: str, reason: str) -> Warning:
    """Dismiss one warning (``warnings_dismiss`` of one)."""
    warnings_dismiss(warnings=[warning], actor=actor, reason_code=reason_code, reason=reason)
    return Warning.objects.get(pk=warning.pk)


# --- confirm (the cases app's hand-off) -----------------------------------------------------


def warning_confirm(*, warning: Warning, actor: Any, cases: Sequence[int]) -> None:
    """new/checking → confirmed: relief cases were opened from the warning (called by
    ``cases.services.case_open_from_warning``, in its transaction, which checked the
    actor's ``cases.open_warning``); the audit row names the cases."""
    _move("confirm", warnings=[warning], actor=actor, changes={}, data={"cases": list(cases)})


# --- exclusion override ---------------------------------------------------------------------


def warning_exclusion_override(*, warning: Warning, actor: Any, reason: str) -> Warning:
    """Override the data comparison's exclusion of a warning (excluded → new), audited.

    POLICY.md, "Exclusions": each exclusion is overridable by a county officer with a
    reason — a feed can be wrong (a car sold, a payroll record of a namesake). Only the
    role ``screening.exclusion_override`` allows, inside its region; the warning then is
    a new warning like any other (checked at the household, dismissed or made a case).
    The exclusions found stay on the warning, so its page still says what was overridden.
    """
    permissions.require(actor, "screening.exclusion_override", warning)
    text = _reason(reason, ERR_OVERRIDE_REASON)
    status = Warning.objects.filter(pk=warning.pk).values_list("status", flat=True).first()
    if status != S.EXCLUDED:
        raise ScreeningError(ERR_NOT_EXCLUDED, field="status")
    _move(
        "exclusion_override",
        warnings=[warning],
        actor=actor,
        changes={"reason": text},
        reason=text,
        data={"exclusions": warning.exclusions, "matches": warning.exclusion_matches},
    )
    return Warning.objects.get(pk=warning.pk)


# --- due dates ------------------------------------------------------------------------------

CLOCKS = {S.NEW: spec.WARNING_ACCEPTANCE_WORKING_DAYS, S.CHECKING: spec.WARNING_CHECK_WORKING_DAYS}


def _days(path: str, *, on: dt.date, region_path: str) -> int:
    """The parameter ``path`` in force on ``on`` in the warning's county (else the city's)."""
    try:
        return int(parameter_value(path, on=on, county=county_code_of(region_path) or None))
    except PolicyInputError:  # a county the parameter set does not know: the city's value
        return int(parameter_value(path, on=on))


def warning_due(warning: Warning, *, holidays: Iterable[dt.date] | None = None) -> dt.date | None:
    """The day a warning still to be worked must have moved on by (``None`` once decided):
    new — accepted, someone checking it; checking — confirmed or dismissed."""
    path = CLOCKS.get(warning.status)
    if path is None:
        return None
    since = timezone.localdate(warning.state_since or warning.created_at)
    days = _days(path, on=since, region_path=warning.region_path)
    return working_days_after(since, days, None if holidays is None else set(holidays))


def warning_rows(warnings: Iterable[Warning], on: dt.date | None = None) -> list[tuple]:
    """(warning, due, overdue) for a page of warnings, reading the configured days off once."""
    warnings = list(warnings)
    on = on or today()
    open_ = [w for w in warnings if w.status in CLOCKS]
    holidays: set[dt.date] = set()
    if open_:
        first = min(timezone.localdate(w.state_since or w.created_at) for w in open_)
        holidays = holidays_between(first, max(on, first) + dt.timedelta(days=200))
    rows = []
    for w in warnings:
        due = warning_due(w, holidays=holidays)
        rows.append((w, due, due is not None and on > due))
    return rows
